//! The cluster as kbatch sees it: a bootstrap connection for metadata, and one connection per
//! broker node id, made lazily and remade when it closed.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::{Connection, MetadataResponse, WireConfig, WireError};

/// Bootstrap + leaders.
pub struct Cluster {
    cfg: WireConfig,
    bootstrap: Vec<String>,
    meta_conn: Mutex<Option<Arc<Connection>>>,
    addrs: Mutex<HashMap<i32, String>>,
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
        let cluster = Cluster {
            cfg,
            bootstrap: bootstrap.to_vec(),
            meta_conn: Mutex::new(None),
            addrs: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
        };
        cluster.metadata_connection().await?;
        Ok(cluster)
    }

    /// The wire settings.
    pub fn config(&self) -> &WireConfig {
        &self.cfg
    }

    async fn metadata_connection(&self) -> Result<Arc<Connection>, WireError> {
        let mut slot = self.meta_conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let mut last = None;
        for addr in &self.bootstrap {
            match Connection::connect(addr, &self.cfg).await {
                Ok(c) => {
                    let c = Arc::new(c);
                    *slot = Some(c.clone());
                    return Ok(c);
                }
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "bootstrap address failed");
                    // A broker that answers but breaks the protocol is reported as such.
                    if !e.is_retriable() {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| WireError::Connect {
            addr: String::new(),
            reason: "no bootstrap address".into(),
        }))
    }

    /// Metadata for `topics` (`None`: all), which also refreshes broker addresses.
    pub async fn metadata(&self, topics: Option<&[String]>) -> Result<MetadataResponse, WireError> {
        let conn = self.metadata_connection().await?;
        let meta = conn.metadata(topics).await?;
        let mut addrs = self.addrs.lock().await;
        for b in &meta.brokers {
            addrs.insert(b.node_id, format!("{}:{}", b.host, b.port));
        }
        Ok(meta)
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
        let mut addr = self.addrs.lock().await.get(&node_id).cloned();
        if addr.is_none() {
            self.metadata(Some(&[])).await?;
            addr = self.addrs.lock().await.get(&node_id).cloned();
        }
        let addr = addr.ok_or(WireError::UnknownBroker { node_id })?;
        let conn = Arc::new(Connection::connect(&addr, &self.cfg).await?);
        self.conns.lock().await.insert(node_id, conn.clone());
        Ok(conn)
    }
}
