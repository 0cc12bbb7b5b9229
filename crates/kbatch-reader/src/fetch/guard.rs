//! Fetch v12 names topics, not topic ids: a topic deleted and recreated under the same name
//! answers a fetch by name from its *new* log. The guard keeps the planned topic ids and,
//! before a fetch, checks them against Metadata once it has not done so for a while — so a
//! read that resumes after a pause (a consumer of `dump` that stopped reading, say) asks
//! Metadata before it asks the new log for anything. The supervisor checks once more after the
//! last fetch, which makes the answer exact: a recreated topic never gets its old id back.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::driver::topic_changes;
use crate::backoff::now;
use crate::client::Client;
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
