//! The three requests a read needs, as a trait: [`Cluster`] is the real client; the fetch
//! policy's tests replay leader moves, truncation and throttling through a scripted one.

use std::future::Future;

use kbatch_wire::{
    Cluster, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataResponse, WireError,
};

/// What the planner and the fetch loops ask of a cluster.
pub(crate) trait Client: Send + Sync + 'static {
    /// Metadata for `topics`, from any live broker.
    fn metadata(
        &self,
        topics: &[String],
    ) -> impl Future<Output = Result<MetadataResponse, WireError>> + Send;

    /// ListOffsets sent to broker `node`.
    fn list_offsets(
        &self,
        node: i32,
        req: &ListOffsetsRequest,
    ) -> impl Future<Output = Result<ListOffsetsResponse, WireError>> + Send;

    /// Fetch sent to broker `node`.
    fn fetch(
        &self,
        node: i32,
        req: &FetchRequest,
    ) -> impl Future<Output = Result<FetchResponse, WireError>> + Send;

    /// `node N (host:port)` for messages.
    fn broker_name(&self, node: i32) -> String;
}

impl Client for Cluster {
    async fn metadata(&self, topics: &[String]) -> Result<MetadataResponse, WireError> {
        Cluster::metadata(self, Some(topics)).await
    }

    async fn list_offsets(
        &self,
        node: i32,
        req: &ListOffsetsRequest,
    ) -> Result<ListOffsetsResponse, WireError> {
        let r = async { self.broker(node).await?.list_offsets(req).await }.await;
        noted(self, node, r)
    }

    async fn fetch(&self, node: i32, req: &FetchRequest) -> Result<FetchResponse, WireError> {
        let r = async { self.broker(node).await?.fetch(req).await }.await;
        noted(self, node, r)
    }

    fn broker_name(&self, node: i32) -> String {
        match self.broker_addr(node) {
            Some(addr) => format!("node {node} ({addr})"),
            None => format!("node {node}"),
        }
    }
}

/// A broker that failed at the connection level is asked for metadata last for a while.
fn noted<T>(cluster: &Cluster, node: i32, r: Result<T, WireError>) -> Result<T, WireError> {
    if let Err(WireError::Connect { .. } | WireError::Io { .. } | WireError::Timeout { .. }) = &r {
        cluster.mark_failed(node);
    }
    r
}
