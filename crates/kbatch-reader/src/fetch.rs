//! Fetch loops: one per broker, each fetching every partition that broker leads.
//!
//! Each partition has a *fetch cursor* here: the offset after the last complete batch this
//! loop has seen (`base_offset + last_offset_delta + 1` from the header walk, which also
//! verifies CRC32C). The cursor runs ahead of decoding: as soon as a response is walked, the
//! next Fetch is sent, and only then is the response's data handed to the engine, whose
//! workers advance each partition's *decoded position*. A partition leaves its loop when its
//! cursor reaches the range end — by position, never by "last record seen", because
//! transaction markers and compaction take offsets.
//!
//! Errors per partition are decided in one place, the `match` on the error code in the loop,
//! against `kbatch_wire`'s one table of codes: leader moves hand the partition back to the
//! supervisor, which refreshes metadata and gives it to the new leader's loop; retriable
//! errors back off within the time budget; OFFSET_OUT_OF_RANGE names the missing range and
//! fails (never a reset); anything else fails naming topic, partition and offset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kbatch_engine::Work;
use kbatch_records::AbortedTxn;
use kbatch_wire::{
    kafka_code, Cluster, Connection, FetchPartitionRequest, FetchRequest, FetchResponse, WireError,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::{Config, PartitionPlan, ReadError};

/// One partition's fetch state.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    idx: usize,
    topic: Arc<str>,
    partition: i32,
    next: i64,
    end: i64,
    epoch: i32,
}

struct Ctx {
    cluster: Arc<Cluster>,
    config: Arc<Config>,
    work: mpsc::Sender<Work>,
    reroute: mpsc::UnboundedSender<Cursor>,
}

/// Exponential backoff with jitter inside a time budget that restarts on progress.
struct Backoff {
    next: Duration,
    first: Duration,
    since: Option<Instant>,
    seed: u64,
}

impl Backoff {
    fn new(first: Duration) -> Backoff {
        let seed = Instant::now().elapsed().as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15;
        Backoff {
            next: first,
            first,
            since: None,
            seed: seed | 1,
        }
    }

    fn reset(&mut self) {
        self.next = self.first;
        self.since = None;
    }

    /// Sleep before the next try; `Err(elapsed)` once the budget is spent.
    async fn wait(&mut self, budget: Duration) -> Result<(), Duration> {
        let since = *self.since.get_or_insert_with(Instant::now);
        let elapsed = since.elapsed();
        if elapsed >= budget {
            return Err(elapsed);
        }
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let jitter = 0.8 + (self.seed % 400) as f64 / 1000.0;
        let sleep = self.next.mul_f64(jitter).min(budget - elapsed);
        tokio::time::sleep(sleep).await;
        self.next = (self.next * 2).min(Duration::from_secs(2));
        Ok(())
    }
}

/// Fetch every planned partition to its end, handing complete batches to `work`.
pub(crate) async fn supervise(
    cluster: Arc<Cluster>,
    config: Arc<Config>,
    plans: Vec<PartitionPlan>,
    work: mpsc::Sender<Work>,
) -> Result<(), ReadError> {
    let (reroute, mut rerouted) = mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        cluster,
        config,
        work,
        reroute,
    });
    let mut loops: HashMap<i32, (u64, mpsc::UnboundedSender<Cursor>)> = HashMap::new();
    let mut set: JoinSet<(i32, u64, Result<(), ReadError>)> = JoinSet::new();
    let mut generation = 0u64;

    let mut by_leader: HashMap<i32, Vec<Cursor>> = HashMap::new();
    for (idx, p) in plans.iter().enumerate() {
        if p.spec.start >= p.spec.end {
            continue; // an empty range is done before it starts
        }
        by_leader.entry(p.leader).or_default().push(Cursor {
            idx,
            topic: p.spec.topic.clone(),
            partition: p.spec.partition,
            next: p.spec.start,
            end: p.spec.end,
            epoch: p.leader_epoch,
        });
    }
    for (leader, cursors) in by_leader {
        generation += 1;
        let tx = spawn_loop(&mut set, &ctx, leader, generation, cursors);
        loops.insert(leader, (generation, tx));
    }

    loop {
        while let Ok(c) = rerouted.try_recv() {
            route(&ctx, &mut set, &mut loops, &mut generation, c).await?;
        }
        if set.is_empty() {
            return Ok(());
        }
        tokio::select! {
            Some(c) = rerouted.recv() => {
                route(&ctx, &mut set, &mut loops, &mut generation, c).await?;
            }
            Some(joined) = set.join_next() => {
                let (leader, gen, result) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                result?;
                if loops.get(&leader).is_some_and(|(g, _)| *g == gen) {
                    loops.remove(&leader);
                }
            }
        }
    }
}

fn spawn_loop(
    set: &mut JoinSet<(i32, u64, Result<(), ReadError>)>,
    ctx: &Arc<Ctx>,
    leader: i32,
    generation: u64,
    cursors: Vec<Cursor>,
) -> mpsc::UnboundedSender<Cursor> {
    let (tx, rx) = mpsc::unbounded_channel();
    let ctx = ctx.clone();
    set.spawn(async move {
        let r = fetch_loop(ctx, leader, cursors, rx).await;
        (leader, generation, r)
    });
    tx
}

/// Give a partition whose leader moved to the loop of its new leader.
async fn route(
    ctx: &Arc<Ctx>,
    set: &mut JoinSet<(i32, u64, Result<(), ReadError>)>,
    loops: &mut HashMap<i32, (u64, mpsc::UnboundedSender<Cursor>)>,
    generation: &mut u64,
    mut c: Cursor,
) -> Result<(), ReadError> {
    let mut backoff = Backoff::new(ctx.config.retry_backoff);
    let topics = vec![c.topic.to_string()];
    let (leader, epoch) = loop {
        let found = match ctx.cluster.metadata(Some(&topics)).await {
            Ok(meta) => meta
                .topics
                .iter()
                .find(|t| t.name == *c.topic)
                .and_then(|t| t.partitions.iter().find(|p| p.partition == c.partition))
                .filter(|p| p.leader >= 0 && p.error_code == 0)
                .map(|p| (p.leader, p.leader_epoch))
                .ok_or_else(|| format!("no leader for {}/{}", c.topic, c.partition)),
            Err(e) => Err(e.to_string()),
        };
        match found {
            Ok(found) => break found,
            Err(last) => {
                if let Err(elapsed) = backoff.wait(ctx.config.timeout).await {
                    return Err(ReadError::RetriesExhausted {
                        topic: c.topic.to_string(),
                        partition: c.partition,
                        offset: c.next,
                        elapsed_ms: elapsed.as_millis() as u64,
                        last,
                    });
                }
            }
        }
    };
    c.epoch = epoch;
    if let Some((_, tx)) = loops.get(&leader) {
        match tx.send(c) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::SendError(back)) => c = back,
        }
    }
    *generation += 1;
    let tx = spawn_loop(set, ctx, leader, *generation, vec![c]);
    loops.insert(leader, (*generation, tx));
    Ok(())
}

type Pending = tokio::task::JoinHandle<Result<FetchResponse, WireError>>;

async fn fetch_loop(
    ctx: Arc<Ctx>,
    leader: i32,
    mut cursors: Vec<Cursor>,
    mut handoff: mpsc::UnboundedReceiver<Cursor>,
) -> Result<(), ReadError> {
    let config = &ctx.config;
    let mut backoff = Backoff::new(config.retry_backoff);
    let mut conn: Option<Arc<Connection>> = None;
    let mut pending: Option<(Pending, Vec<(usize, i64)>)> = None;
    let mut last_error = String::new();

    loop {
        while let Ok(c) = handoff.try_recv() {
            cursors.push(c);
        }
        cursors.retain(|c| c.next < c.end);
        if cursors.is_empty() && pending.is_none() {
            // Close first, then drain: a partition handed over in between is not lost.
            handoff.close();
            while let Ok(c) = handoff.recv().await.ok_or(()) {
                cursors.push(c);
            }
            if cursors.is_empty() {
                return Ok(());
            }
            continue;
        }

        let (task, asked) = match pending.take() {
            Some(p) => p,
            None => {
                let c = match connection(&ctx, leader, &mut conn).await {
                    Ok(c) => c,
                    // A TLS or authentication failure meets the same answer on every retry.
                    Err(e) if !e.is_retriable() => return Err(e.into()),
                    Err(e) => {
                        last_error = e.to_string();
                        retry(&mut backoff, config, &cursors, &last_error).await?;
                        continue;
                    }
                };
                send_fetch(&c, config, &cursors)
            }
        };
        let resp = match task.await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                if !e.is_retriable() {
                    return Err(e.into());
                }
                tracing::debug!(broker = leader, error = %e, "fetch failed; reconnecting");
                conn = None;
                last_error = e.to_string();
                retry(&mut backoff, config, &cursors, &last_error).await?;
                continue;
            }
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        if resp.error_code != 0 {
            let code = kafka_code(resp.error_code);
            if !code.retriable {
                let c = &cursors[0];
                return Err(ReadError::Kafka {
                    topic: c.topic.to_string(),
                    partition: c.partition,
                    what: "Fetch",
                    code: resp.error_code,
                    code_name: code.name,
                });
            }
            last_error = code.name.to_string();
            retry(&mut backoff, config, &cursors, &last_error).await?;
            continue;
        }
        if resp.throttle_time_ms > 0 {
            tracing::debug!(broker = leader, ms = resp.throttle_time_ms, "throttled");
        }

        let mut works = Vec::new();
        let mut progress = false;
        let mut moved = Vec::new();
        for (topic, parts) in resp.topics {
            for p in parts {
                let Some(pos) = cursors
                    .iter()
                    .position(|c| *c.topic == *topic && c.partition == p.partition)
                else {
                    return Err(ReadError::Kafka {
                        topic,
                        partition: p.partition,
                        what: "Fetch (a partition that was not requested)",
                        code: -1,
                        code_name: "PROTOCOL_VIOLATION",
                    });
                };
                let asked_at = asked
                    .iter()
                    .find(|(i, _)| *i == cursors[pos].idx)
                    .map(|(_, o)| *o);
                let c = &mut cursors[pos];
                if asked_at != Some(c.next) && asked_at.is_some() {
                    // The cursor moved since this was asked (a duplicate entry): ignore it.
                    continue;
                }
                match p.error_code {
                    0 => {}
                    1 => {
                        let (from, until) = if p.log_start_offset > c.next {
                            (c.next, p.log_start_offset.min(c.end))
                        } else {
                            (p.high_watermark.max(c.next), c.end)
                        };
                        return Err(ReadError::MissingRange {
                            topic: c.topic.to_string(),
                            partition: c.partition,
                            from,
                            until,
                            log_start: p.log_start_offset,
                            hwm: p.high_watermark,
                        });
                    }
                    code => {
                        let info = kafka_code(code);
                        if info.refresh_metadata {
                            moved.push(pos);
                            last_error = info.name.to_string();
                            continue;
                        }
                        if info.retriable {
                            last_error = info.name.to_string();
                            continue;
                        }
                        return Err(ReadError::Kafka {
                            topic: c.topic.to_string(),
                            partition: c.partition,
                            what: "Fetch",
                            code,
                            code_name: info.name,
                        });
                    }
                }
                let walk =
                    kbatch_records::walk(&p.records, true).map_err(|source| ReadError::Decode {
                        topic: c.topic.clone(),
                        partition: c.partition,
                        source,
                    })?;
                match walk.next_offset {
                    Some(next) if next > c.next && walk.complete_len > 0 => {
                        works.push(Work {
                            partition: c.idx,
                            bytes: p.records.slice(..walk.complete_len),
                            aborted: p
                                .aborted_transactions
                                .iter()
                                .map(|&(producer_id, first_offset)| AbortedTxn {
                                    producer_id,
                                    first_offset,
                                })
                                .collect(),
                        });
                        c.next = next;
                        progress = true;
                    }
                    _ => {
                        let stable = if config.isolation_level() == 1 && p.last_stable_offset >= 0 {
                            p.last_stable_offset
                        } else {
                            p.high_watermark
                        };
                        if p.records.is_empty() && stable >= 0 && stable <= c.next {
                            // Nothing more to come below the end we planned with: the log was
                            // truncated (or the LSO moved back) since planning.
                            return Err(ReadError::MissingRange {
                                topic: c.topic.to_string(),
                                partition: c.partition,
                                from: c.next,
                                until: c.end,
                                log_start: p.log_start_offset,
                                hwm: p.high_watermark,
                            });
                        }
                        last_error = format!(
                            "no progress at offset {} ({} bytes returned)",
                            c.next,
                            p.records.len()
                        );
                    }
                }
            }
        }
        // Leader moved: hand these back to the supervisor (highest index first keeps
        // positions valid while removing).
        moved.sort_unstable_by(|a, b| b.cmp(a));
        for pos in moved {
            let c = cursors.swap_remove(pos);
            let _ = ctx.reroute.send(c);
            progress = true;
        }

        // Send the next Fetch before handing this response's data on: the broker works on it
        // while the engine's channel drains.
        cursors.retain(|c| c.next < c.end);
        if progress && !cursors.is_empty() {
            if let Some(c) = conn.as_ref().filter(|c| !c.is_closed()) {
                pending = Some(send_fetch(c, config, &cursors));
            }
        }
        for w in works {
            if ctx.work.send(w).await.is_err() {
                // The engine halted (a worker failed or the job stopped): its error wins.
                return Ok(());
            }
        }
        if progress {
            backoff.reset();
        } else {
            retry(&mut backoff, config, &cursors, &last_error).await?;
        }
    }
}

async fn connection(
    ctx: &Ctx,
    leader: i32,
    conn: &mut Option<Arc<Connection>>,
) -> Result<Arc<Connection>, WireError> {
    if let Some(c) = conn.as_ref().filter(|c| !c.is_closed()) {
        return Ok(c.clone());
    }
    let c = ctx.cluster.broker(leader).await?;
    *conn = Some(c.clone());
    Ok(c)
}

fn send_fetch(
    conn: &Arc<Connection>,
    config: &Config,
    cursors: &[Cursor],
) -> (Pending, Vec<(usize, i64)>) {
    let mut topics: Vec<(String, Vec<FetchPartitionRequest>)> = Vec::new();
    for c in cursors {
        let req = FetchPartitionRequest {
            partition: c.partition,
            fetch_offset: c.next,
            partition_max_bytes: config.partition_max_bytes,
            current_leader_epoch: c.epoch,
        };
        match topics.iter_mut().find(|(t, _)| *t == *c.topic) {
            Some((_, ps)) => ps.push(req),
            None => topics.push((c.topic.to_string(), vec![req])),
        }
    }
    let req = FetchRequest {
        max_wait_ms: config.fetch_max_wait_ms,
        min_bytes: 1,
        max_bytes: config.fetch_max_bytes,
        isolation_level: config.isolation_level(),
        topics,
    };
    let asked = cursors.iter().map(|c| (c.idx, c.next)).collect();
    let conn = conn.clone();
    (tokio::spawn(async move { conn.fetch(&req).await }), asked)
}

async fn retry(
    backoff: &mut Backoff,
    config: &Config,
    cursors: &[Cursor],
    last: &str,
) -> Result<(), ReadError> {
    backoff.wait(config.timeout).await.map_err(|elapsed| {
        let (topic, partition, offset) = cursors.first().map_or((String::new(), -1, -1), |c| {
            (c.topic.to_string(), c.partition, c.next)
        });
        ReadError::RetriesExhausted {
            topic,
            partition,
            offset,
            elapsed_ms: elapsed.as_millis() as u64,
            last: last.to_string(),
        }
    })
}
