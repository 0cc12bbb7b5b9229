//! The cluster as kbatch sees it: a bootstrap connection for metadata, and one connection per
//! broker node id, made lazily and remade when it closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::{Connection, MetadataResponse, WireConfig, WireError};

/// How long a broker whose request failed is asked for metadata only after the others.
const SUSPECT_FOR: Duration = Duration::from_secs(30);

/// Bootstrap + leaders.
pub struct Cluster {
    cfg: WireConfig,
    bootstrap: Vec<String>,
    meta_conn: Mutex<Option<Arc<Connection>>>,
    addrs: SyncMutex<HashMap<i32, String>>,
    /// Addresses whose last request failed (connection error or timeout), and when: asked
    /// for metadata last, so a stalled broker does not cost a second request timeout.
    suspects: SyncMutex<HashMap<String, Instant>>,
    conns: Mutex<HashMap<i32, Arc<Connection>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}

impl Cluster {
    /// Connect to the first bootstrap address that answers (and negotiates versions).
    pub async fn connect(bootstrap: &[String], cfg: WireConfig) -> Result<Cluster, WireError> {
        Cluster::connect_until(bootstrap, cfg, None).await
    }

    /// [`Cluster::connect`] within one deadline for the whole bootstrap: the addresses are
    /// tried in turn (each within `connect_timeout`) until one answers or `deadline` passes.
    pub async fn connect_until(
        bootstrap: &[String],
        cfg: WireConfig,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Cluster, WireError> {
        let cluster = Cluster {
            cfg,
            bootstrap: bootstrap.to_vec(),
            meta_conn: Mutex::new(None),
            addrs: SyncMutex::new(HashMap::new()),
            suspects: SyncMutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
        };
        cluster.metadata_connection(&[], deadline).await?;
        Ok(cluster)
    }

    /// The wire settings.
    pub fn config(&self) -> &WireConfig {
        &self.cfg
    }

    /// Every address worth asking for metadata: the bootstrap list, then every broker any
    /// Metadata response named. A dead bootstrap broker must not end the run while other
    /// brokers of the cluster are alive.
    fn candidates(&self) -> Vec<String> {
        let suspects = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
        self.candidates_locked(&suspects)
    }

    fn candidates_locked(&self, suspects: &HashMap<String, Instant>) -> Vec<String> {
        let mut out = self.bootstrap.clone();
        let mut known: Vec<(i32, String)> = self
            .addrs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        known.sort();
        for (_, a) in known {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        // Stable sort: brokers that failed recently go last, in the same order otherwise.
        out.sort_by_key(|a| self.is_suspect(suspects, a));
        out
    }

    fn is_suspect(&self, suspects: &HashMap<String, Instant>, addr: &str) -> bool {
        suspects
            .get(addr)
            .is_some_and(|t| t.elapsed() < SUSPECT_FOR)
    }

    /// Note that a request to broker `node_id` failed (connection error or timeout): until it
    /// answers again, Metadata is asked of other brokers first.
    pub fn mark_failed(&self, node_id: i32) {
        if let Some(addr) = self.broker_addr(node_id) {
            self.suspects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(addr, Instant::now());
        }
    }

    /// The connection Metadata is asked of: the open one, or the first candidate that
    /// connects, trying no more once `deadline` has passed.
    async fn metadata_connection(
        &self,
        skip: &[String],
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Arc<Connection>, WireError> {
        let mut slot = self.meta_conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            // An open connection to a broker that failed elsewhere is kept unless another
            // broker is there to ask: leaving it costs a reconnect, which a fault on every
            // k-th connection could turn into a cycle that never completes.
            let suspects = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
            let elsewhere = self
                .candidates_locked(&suspects)
                .iter()
                .any(|a| a != c.addr() && !self.is_suspect(&suspects, a));
            if !(elsewhere && self.is_suspect(&suspects, c.addr())) {
                return Ok(c.clone());
            }
        }
        let mut last = None;
        for addr in self.candidates().iter().filter(|a| !skip.contains(a)) {
            if last.is_some() && deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break;
            }
            match Connection::connect_until(addr, &self.cfg, deadline).await {
                Ok(c) => {
                    let c = Arc::new(c);
                    *slot = Some(c.clone());
                    self.suspects
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(addr);
                    return Ok(c);
                }
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "metadata address failed");
                    // A broker that answers but breaks the protocol (or refuses our
                    // credentials) is reported as such.
                    if !e.is_retriable() {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| WireError::Connect {
            addr: self.bootstrap.join(","),
            reason: "no reachable bootstrap or known broker address".into(),
        }))
    }

    /// Metadata for `topics` (`None`: all), which also refreshes broker addresses. Asked of the
    /// current metadata connection; if that one fails (its broker died or stalled), of each
    /// other bootstrap or known broker in turn.
    pub async fn metadata(&self, topics: Option<&[String]>) -> Result<MetadataResponse, WireError> {
        let mut failed: Vec<String> = Vec::new();
        loop {
            let conn = self.metadata_connection(&failed, None).await?;
            match conn.metadata(topics).await {
                Ok(meta) => {
                    let mut addrs = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
                    for b in &meta.brokers {
                        addrs.insert(b.node_id, format!("{}:{}", b.host, b.port));
                    }
                    return Ok(meta);
                }
                Err(e) if e.is_retriable() => {
                    tracing::debug!(addr = conn.addr(), error = %e, "metadata failed; trying another broker");
                    failed.push(conn.addr().to_string());
                    let mut slot = self.meta_conn.lock().await;
                    if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn)) {
                        *slot = None;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `host:port` of broker `node_id` as Metadata last named it, for messages.
    pub fn broker_addr(&self, node_id: i32) -> Option<String> {
        self.addrs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&node_id)
            .cloned()
    }

    /// The connection to broker `node_id`, made (or remade) as needed.
    pub async fn broker(&self, node_id: i32) -> Result<Arc<Connection>, WireError> {
        if let Some(c) = self
            .conns
            .lock()
            .await
            .get(&node_id)
            .filter(|c| !c.is_closed())
        {
            return Ok(c.clone());
        }
        let mut addr = self.broker_addr(node_id);
        if addr.is_none() {
            self.metadata(Some(&[])).await?;
            addr = self.broker_addr(node_id);
        }
        let addr = addr.ok_or(WireError::UnknownBroker { node_id })?;
        let conn = Arc::new(Connection::connect(&addr, &self.cfg).await?);
        self.conns.lock().await.insert(node_id, conn.clone());
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bootstrap addresses that accept connections and never answer (the kernel completes
    /// the handshake; nobody reads). Each would take its own `connect_timeout` of 10 s, for
    /// 30 s in all; the bootstrap's one deadline ends the whole attempt at 2 s, with a
    /// timeout error that says what was not answered and within how long.
    #[tokio::test(start_paused = true)]
    async fn a_bootstrap_of_silent_brokers_ends_at_its_one_deadline() {
        let listeners: Vec<std::net::TcpListener> = (0..3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let bootstrap: Vec<String> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().to_string())
            .collect();
        let cfg = WireConfig {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            ..WireConfig::default()
        };
        let began = tokio::time::Instant::now();
        let deadline = began + Duration::from_secs(2);
        let err = Cluster::connect_until(&bootstrap, cfg, Some(deadline))
            .await
            .unwrap_err();
        let elapsed = began.elapsed(); // virtual time: the clock is paused
        assert!(elapsed <= Duration::from_secs(2), "ended after {elapsed:?}");
        let msg = err.to_string();
        match &err {
            // The usual case: connected, ApiVersions never answered.
            WireError::Timeout { after, .. } => {
                assert!(*after <= Duration::from_secs(2), "{msg}");
                assert!(msg.contains("did not answer ApiVersions"), "{msg}");
            }
            // The clock may also jump before a loopback connect completes.
            WireError::Connect { reason, .. } => assert!(reason.contains("timed out"), "{msg}"),
            other => panic!("not a timeout: {other}"),
        }
        assert!(err.is_retriable());
    }
}
