//! The drivers: a supervisor that routes partitions to one fetch loop per leader, and the
//! loops. They send requests, sleep and move bytes; every decision about a response is
//! [`policy`](super::policy)'s.
//!
//! A loop keeps one Fetch in flight per broker: as soon as a response is judged, the next
//! Fetch is sent, and only then are the response's complete batches handed to the engine.
//! When its broker fails (connect error, I/O error, request timeout) or says leadership
//! moved, the loop hands the partitions back to the supervisor, which asks Metadata of any
//! live broker and gives each partition to its leader's loop, where it resumes from its fetch
//! cursor. Each partition carries its own time budget: no progress for `Config::timeout`
//! fails the run naming the partition, the broker and the last cause; progress restarts it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::Instant as TokioInstant;

use kbatch_engine::Work;
use kbatch_wire::{codes, FetchPartitionRequest, FetchRequest, FetchResponse, WireError};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::cursor::{Cause, Cursor};
use super::guard::{topic_changes, TopicGuard};
use super::pacer::{Pace, Pacer};
use super::policy::{self, Step};
use crate::backoff::{now, saturating_add, Backoff, Budget};
use crate::client::Client;
use crate::{Config, PartitionPlan, ReadError};

struct Ctx<C> {
    client: Arc<C>,
    guard: TopicGuard,
    config: Arc<Config>,
    work: mpsc::Sender<Work>,
    reroute: mpsc::UnboundedSender<Cursor>,
}

type Loops = HashMap<i32, (u64, mpsc::UnboundedSender<Cursor>)>;
type LoopSet = JoinSet<(i32, u64, Result<(), ReadError>)>;

/// Fetch every planned partition to its end, handing complete batches to `work`.
pub(crate) async fn supervise<C: Client>(
    client: Arc<C>,
    config: Arc<Config>,
    plans: Vec<PartitionPlan>,
    work: mpsc::Sender<Work>,
) -> Result<(), ReadError> {
    let (reroute, mut rerouted) = mpsc::unbounded_channel();
    let ctx = Arc::new(Ctx {
        client,
        guard: TopicGuard::new(&plans),
        config: config.clone(),
        work,
        reroute,
    });
    let mut loops: Loops = HashMap::new();
    let mut set: LoopSet = JoinSet::new();
    let mut generation = 0u64;
    let started = now();

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
            leader_epoch: p.leader_epoch,
            last_epoch: -1,
            budget: Budget::new(started, config.timeout),
            cause: Cause::None,
            reroutes: 0,
        });
    }
    for (leader, cursors) in by_leader {
        generation += 1;
        let tx = spawn_loop(&mut set, &ctx, leader, generation, cursors);
        loops.insert(leader, (generation, tx));
    }

    // Partitions waiting for a leader, and when metadata is asked next.
    let mut waiting: Vec<Cursor> = Vec::new();
    let mut backoff = Backoff::new(config.retry_backoff, config.retry_backoff_max);
    let mut next_try = now();
    loop {
        while let Ok(c) = rerouted.try_recv() {
            arrive(c, &mut waiting, &mut next_try, &mut backoff);
        }
        if !waiting.is_empty() && now() >= next_try {
            reroute_waiting(
                &ctx,
                &plans,
                &mut waiting,
                &mut set,
                &mut loops,
                &mut generation,
            )
            .await?;
            if !waiting.is_empty() {
                let n = waiting.iter().map(|c| c.reroutes).min().unwrap_or(0);
                next_try = saturating_add(now(), backoff.delay_for(n));
            }
            continue;
        }
        if set.is_empty() && waiting.is_empty() {
            break;
        }
        let sleep = tokio::time::sleep_until(TokioInstant::from_std(next_try));
        tokio::select! {
            Some(c) = rerouted.recv() => arrive(c, &mut waiting, &mut next_try, &mut backoff),
            Some(joined) = set.join_next() => {
                let (leader, gen, result) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                if let Err(e) = result {
                    return Err(topic_check_first(&ctx, e).await);
                }
                if loops.get(&leader).is_some_and(|(g, _)| *g == gen) {
                    loops.remove(&leader);
                }
            }
            _ = sleep, if !waiting.is_empty() => {}
        }
    }
    // Every partition reached its end. A topic deleted and created again under the same name
    // while it was read would have served offsets of two different logs: Fetch v12 names
    // topics, not ids, so the ids are compared once more now (a recreated topic never gets
    // its old id back, so equal ids mean one incarnation throughout).
    let topics = ctx.guard.topics().to_vec();
    let budget = Budget::new(now(), config.timeout);
    let mut backoff = Backoff::new(config.retry_backoff, config.retry_backoff_max);
    loop {
        match ctx.client.metadata(&topics).await {
            Ok(meta) => return topic_changes(&plans, &meta, false).map_or(Ok(()), Err),
            Err(e) if e.is_retriable() && budget.exhausted(now()).is_none() => {
                tracing::debug!(error = %e, "final metadata check failed; retrying");
                let wake = saturating_add(now(), backoff.next_delay()).min(budget.deadline());
                tokio::time::sleep_until(TokioInstant::from_std(wake)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Before reporting a partition's failure, see whether its topic changed identity: a
/// recreated topic shows up first as out-of-range offsets or unknown partitions, and
/// "recreated" is the error the user can act on.
async fn topic_check_first<C: Client>(ctx: &Ctx<C>, e: ReadError) -> ReadError {
    if !matches!(
        e,
        ReadError::MissingRange { .. }
            | ReadError::RetriesExhausted { .. }
            | ReadError::Truncated { .. }
            | ReadError::Kafka { .. }
    ) {
        return e;
    }
    match ctx.client.metadata(ctx.guard.topics()).await {
        Ok(meta) => topic_changes(ctx.guard.plans(), &meta, false).unwrap_or(e),
        Err(_) => e,
    }
}

fn spawn_loop<C: Client>(
    set: &mut LoopSet,
    ctx: &Arc<Ctx<C>>,
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

/// One Metadata request for every waiting partition; those with a leader go to its loop.
/// Fails a partition whose budget ran out, and a topic whose id changed.
async fn reroute_waiting<C: Client>(
    ctx: &Arc<Ctx<C>>,
    plans: &[PartitionPlan],
    waiting: &mut Vec<Cursor>,
    set: &mut LoopSet,
    loops: &mut Loops,
    generation: &mut u64,
) -> Result<(), ReadError> {
    let mut topics: Vec<String> = waiting.iter().map(|c| c.topic.to_string()).collect();
    topics.sort();
    topics.dedup();
    let meta = ctx.client.metadata(&topics).await;
    let answered = now();
    let mut still = Vec::new();
    if let Ok(meta) = &meta {
        if let Some(e) = topic_changes(plans, meta, false) {
            return Err(e);
        }
    }
    for mut c in waiting.drain(..) {
        let found = match &meta {
            Err(e) => Err(Cause::NoLeader(format!("metadata failed: {e}"))),
            Ok(meta) => match meta.topics.iter().find(|t| *t.name == *c.topic) {
                None => Err(Cause::TopicMissing),
                Some(t) if t.error_code == codes::UNKNOWN_TOPIC_OR_PARTITION => {
                    Err(Cause::TopicMissing)
                }
                Some(t) => match t.partitions.iter().find(|p| p.partition == c.partition) {
                    Some(p) if p.leader >= 0 && p.error_code == codes::NONE => {
                        Ok((p.leader, p.leader_epoch))
                    }
                    Some(p) => Err(Cause::NoLeader(format!(
                        "metadata names leader {} ({})",
                        p.leader,
                        kbatch_wire::kafka_code(p.error_code).name
                    ))),
                    None => Err(Cause::NoLeader("partition missing from metadata".into())),
                },
            },
        };
        match found {
            Ok((leader, epoch)) => {
                c.leader_epoch = epoch;
                give(ctx, set, loops, generation, leader, c);
            }
            Err(cause) => {
                c.cause = cause;
                if let Some(elapsed) = c.budget.exhausted(answered) {
                    return Err(stalled(&c, "metadata (no leader)", elapsed));
                }
                still.push(c);
            }
        }
    }
    *waiting = still;
    Ok(())
}

/// A partition handed back for rerouting joins the waiting list. One back again without
/// progress since its last reroute (its new leader was dead too, or keeps refusing) waits
/// before metadata is asked again, longer each time, so a leader error that persists is not
/// a hot loop.
fn arrive(c: Cursor, waiting: &mut Vec<Cursor>, next_try: &mut Instant, backoff: &mut Backoff) {
    if c.reroutes > 1 {
        let wait = backoff.delay_for(c.reroutes - 2);
        *next_try = (*next_try).max(saturating_add(now(), wait));
    }
    waiting.push(c);
}

/// Hand `c` to the loop of `leader`, starting one if it has none (or it is ending).
fn give<C: Client>(
    ctx: &Arc<Ctx<C>>,
    set: &mut LoopSet,
    loops: &mut Loops,
    generation: &mut u64,
    leader: i32,
    mut c: Cursor,
) {
    if let Some((_, tx)) = loops.get(&leader) {
        match tx.send(c) {
            Ok(()) => return,
            Err(mpsc::error::SendError(back)) => c = back,
        }
    }
    *generation += 1;
    let tx = spawn_loop(set, ctx, leader, *generation, vec![c]);
    loops.insert(leader, (*generation, tx));
}

fn stalled(c: &Cursor, broker: &str, elapsed: Duration) -> ReadError {
    if c.cause == Cause::TopicMissing {
        return ReadError::TopicChanged {
            topic: c.topic.to_string(),
            what: format!(
                "deleted (missing from metadata for {} ms)",
                elapsed.as_millis()
            ),
            planned: "-".into(),
        };
    }
    if let Cause::StableBehind { stable } = c.cause {
        return ReadError::Truncated {
            topic: c.topic.to_string(),
            partition: c.partition,
            offset: c.next,
            broker: broker.to_string(),
            detail: format!(
                "its high watermark / last stable offset stayed at {stable} for {} ms while the range ends at {}",
                elapsed.as_millis(),
                c.end
            ),
        };
    }
    ReadError::RetriesExhausted {
        topic: c.topic.to_string(),
        partition: c.partition,
        offset: c.next,
        broker: broker.to_string(),
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        last: c.cause.to_string(),
    }
}

type Pending = tokio::task::JoinHandle<Result<FetchResponse, WireError>>;

/// One broker's loop: one Fetch in flight for all its partitions. When to send is the
/// [`Pacer`]'s call (throttle, backoff, budgets); this only sleeps until the instant it names.
async fn fetch_loop<C: Client>(
    ctx: Arc<Ctx<C>>,
    leader: i32,
    mut cursors: Vec<Cursor>,
    mut handoff: mpsc::UnboundedReceiver<Cursor>,
) -> Result<(), ReadError> {
    let config = &ctx.config;
    let broker = ctx.client.broker_name(leader);
    let mut pacer = Pacer::new(Backoff::new(config.retry_backoff, config.retry_backoff_max));
    let mut pending: Option<(Pending, Vec<(usize, i64)>)> = None;
    let mut rotation = 0usize;

    loop {
        while let Ok(c) = handoff.try_recv() {
            cursors.push(c);
        }
        cursors.retain(|c| !c.done());
        if cursors.is_empty() && pending.is_none() {
            // Close first, then drain: a partition handed over in between is not lost.
            handoff.close();
            while let Some(c) = handoff.recv().await {
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
                match pacer.next(now(), cursors.iter().map(|c| &c.budget)) {
                    Pace::Send => {}
                    Pace::WaitUntil(t) => {
                        tokio::time::sleep_until(TokioInstant::from_std(t)).await;
                        continue;
                    }
                    Pace::GiveUp(g) => {
                        let c = &mut cursors[g.at];
                        if let Some(ms) = g.throttled_ms {
                            c.cause = Cause::Throttled { ms };
                        }
                        return Err(stalled(c, &broker, g.elapsed));
                    }
                }
                ctx.guard.ensure(&*ctx.client).await?;
                rotation = rotation.wrapping_add(1);
                send_fetch(&ctx, leader, config, &cursors, rotation)
            }
        };
        let resp = match task.await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) if e.is_retriable() => {
                // The broker is gone, stalled or unreachable: its partitions follow their
                // leaders (which may be elsewhere by now) from their fetch cursors.
                tracing::debug!(broker = %broker, error = %e, "fetch failed; rerouting its partitions");
                let cause = Cause::Connection(e.to_string());
                hand_back(&ctx, &mut cursors, |_| true, &cause);
                while let Ok(mut c) = handoff.try_recv() {
                    c.cause = cause.clone();
                    let _ = ctx.reroute.send(c);
                }
                handoff.close();
                while let Some(c) = handoff.recv().await {
                    let _ = ctx.reroute.send(c);
                }
                return Ok(());
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        };
        let answered = now();
        if resp.throttle_time_ms > 0 {
            tracing::debug!(broker = %broker, ms = resp.throttle_time_ms, "throttled");
        }
        let pctx = policy::Ctx {
            broker: &broker,
            isolation_level: config.isolation_level(),
        };
        let steps = policy::response_steps(&cursors, &asked, &resp, pctx)?;
        let mut works = Vec::new();
        let mut progress = false;
        let mut moved: Vec<(usize, Cause)> = Vec::new();
        for (idx, step) in steps {
            let Some(c) = cursors.iter_mut().find(|c| c.idx == idx) else {
                continue;
            };
            match step {
                Step::Deliver {
                    work,
                    next,
                    last_epoch,
                } => {
                    works.push(work);
                    c.advance(next, last_epoch, answered);
                    progress = true;
                }
                Step::Wait(cause) | Step::Retry(cause) => c.cause = cause,
                Step::Reroute(cause) => moved.push((idx, cause)),
                Step::Fail(e) => return Err(e),
            }
        }
        pacer.answered(answered, resp.throttle_time_ms, progress);
        if !progress {
            if let Some(ms) = pacer.throttled(answered) {
                for c in &mut cursors {
                    c.cause = Cause::Throttled { ms };
                }
            }
        }
        for (idx, cause) in moved {
            hand_back(&ctx, &mut cursors, |c| c.idx == idx, &cause);
        }

        // Send the next Fetch before handing this response's data on, if the pacer lets it
        // go now: the broker works on it while the engine's channel drains.
        cursors.retain(|c| !c.done());
        if !cursors.is_empty()
            && pacer.next(answered, cursors.iter().map(|c| &c.budget)) == Pace::Send
        {
            ctx.guard.ensure(&*ctx.client).await?;
            rotation = rotation.wrapping_add(1);
            pending = Some(send_fetch(&ctx, leader, config, &cursors, rotation));
        }
        let handing = now();
        for w in works {
            if ctx.work.send(w).await.is_err() {
                // The engine halted (a worker failed or the job stopped): its error wins.
                return Ok(());
            }
        }
        // Back-pressure (a slow job, a `dump` whose reader stopped reading) is not the
        // broker's fault: time spent waiting for the engine does not count against budgets.
        let after = now();
        let blocked = after.saturating_duration_since(handing);
        if blocked > Duration::from_millis(10) {
            for c in &mut cursors {
                c.budget.extend(blocked, after);
            }
        }
    }
}

/// Send `cursors` matching `pick` back to the supervisor for rerouting.
fn hand_back<C: Client>(
    ctx: &Ctx<C>,
    cursors: &mut Vec<Cursor>,
    pick: impl Fn(&Cursor) -> bool,
    cause: &Cause,
) {
    let mut i = 0;
    while i < cursors.len() {
        if pick(&cursors[i]) {
            let mut c = cursors.swap_remove(i);
            c.cause = cause.clone();
            c.reroutes = c.reroutes.saturating_add(1);
            let _ = ctx.reroute.send(c);
        } else {
            i += 1;
        }
    }
}

/// One Fetch for every cursor of this loop. The order rotates from request to request: a
/// broker fills a response in request order, so a partition that never came first could
/// starve behind busy ones (RELIABILITY case 4).
fn send_fetch<C: Client>(
    ctx: &Arc<Ctx<C>>,
    leader: i32,
    config: &Config,
    cursors: &[Cursor],
    rotation: usize,
) -> (Pending, Vec<(usize, i64)>) {
    let mut topics: Vec<(String, Vec<FetchPartitionRequest>)> = Vec::new();
    let n = cursors.len();
    for k in 0..n {
        let c = &cursors[(k + rotation) % n];
        let req = FetchPartitionRequest {
            partition: c.partition,
            fetch_offset: c.next,
            partition_max_bytes: config.partition_max_bytes,
            current_leader_epoch: c.leader_epoch,
            last_fetched_epoch: c.last_epoch,
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
    let client = ctx.client.clone();
    (
        tokio::spawn(async move { client.fetch(leader, &req).await }),
        asked,
    )
}

#[cfg(test)]
mod tests;
