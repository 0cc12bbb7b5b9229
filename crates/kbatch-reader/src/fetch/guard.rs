//! Fetch v12 names topics, not topic ids: a topic deleted and recreated under the same name
//! answers a fetch by name from its *new* log. The guard keeps the planned topic ids and,
//! before a fetch, checks them against Metadata once it has not done so for a while — so a
//! read that resumes after a pause (a consumer of `dump` that stopped reading, say) asks
//! Metadata before it asks the new log for anything. The supervisor checks once more after the
//! last fetch, which makes the answer exact: a recreated topic never gets its old id back.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::backoff::now;
use crate::client::Client;
use kbatch_wire::{codes, MetadataResponse};

use crate::{PartitionPlan, ReadError};

/// How stale the last topic-id check may be when a fetch is sent.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The planned topic ids and when they were last confirmed.
pub(crate) struct TopicGuard {
    plans: Vec<PartitionPlan>,
    topics: Vec<String>,
    checked: Mutex<Instant>,
}

impl TopicGuard {
    /// A guard for `plans`, confirmed as of now (planning just read them).
    pub(crate) fn new(plans: &[PartitionPlan]) -> TopicGuard {
        let mut topics: Vec<String> = plans.iter().map(|p| p.spec.topic.to_string()).collect();
        topics.sort();
        topics.dedup();
        TopicGuard {
            plans: plans.to_vec(),
            topics,
            checked: Mutex::new(now()),
        }
    }

    /// The planned topics, sorted.
    pub(crate) fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The planned partitions.
    pub(crate) fn plans(&self) -> &[PartitionPlan] {
        &self.plans
    }

    /// Fail if a planned topic was recreated; asks Metadata only when the last check is older
    /// than [`CHECK_EVERY`]. If Metadata cannot be had, the fetch goes ahead: it will fail on
    /// its own if the cluster is in trouble, and the final check still stands.
    pub(crate) async fn ensure<C: Client>(&self, client: &C) -> Result<(), ReadError> {
        let mut checked = self.checked.lock().await;
        if now().saturating_duration_since(*checked) < CHECK_EVERY {
            return Ok(());
        }
        if let Ok(meta) = client.metadata(&self.topics).await {
            if let Some(e) = topic_changes(&self.plans, &meta, false) {
                return Err(e);
            }
            *checked = now();
        }
        Ok(())
    }
}

/// A topic whose id changed since planning, as an error; with `deleted_counts`, a topic
/// that is gone too. (After the last fetch, deletion alone is harmless: every record read came
/// from the planned log. During the read it is waited out within the budget first, since a
/// broker that just restarted may briefly not know a topic.)
pub(crate) fn topic_changes(
    plans: &[PartitionPlan],
    meta: &MetadataResponse,
    deleted_counts: bool,
) -> Option<ReadError> {
    for p in plans {
        if p.topic_id == [0; 16] {
            continue; // a broker without topic ids (Metadata < v10)
        }
        let what = match meta.topics.iter().find(|t| *t.name == *p.spec.topic) {
            Some(t) if t.error_code == codes::NONE => {
                if t.topic_id == p.topic_id || t.topic_id == [0; 16] {
                    continue;
                }
                format!("recreated (topic id now {})", hex(&t.topic_id))
            }
            Some(t) if t.error_code != codes::UNKNOWN_TOPIC_OR_PARTITION => continue,
            _ if deleted_counts => "deleted".to_string(),
            _ => continue,
        };
        return Some(ReadError::TopicChanged {
            topic: p.spec.topic.to_string(),
            what,
            planned: hex(&p.topic_id),
        });
    }
    None
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
