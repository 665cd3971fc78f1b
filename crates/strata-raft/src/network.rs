//! The Raft network of Strata's groups, over a pluggable byte [`Transport`].
//!
//! openraft's RPCs (append entries, vote, install snapshot) are encoded here (JSON for now) and
//! handed to a [`Transport`] together with the group id, so that one connection per peer node can
//! carry every group. The receiving node passes the bytes to [`handle_rpc`] with the group's
//! [`Raft`] handle. `strata-rpc` will implement [`Transport`] over HTTP/2; a single-voter group
//! never sends an RPC, so [`NoTransport`] is enough for a one-node cluster.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use openraft::BasicNode;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strata_storage::raftlog::GroupId;

use crate::error::Error;
use crate::types::{Raft, TypeConfig};

/// Which Raft RPC a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcKind {
    /// Append entries (and heartbeats).
    AppendEntries,
    /// Request vote.
    Vote,
    /// One chunk of a snapshot.
    InstallSnapshot,
}

/// The future a [`Transport`] returns: the response body, or why there is none.
pub type TransportFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, Error>> + Send + 'a>>;

/// Carries encoded Raft RPCs to other nodes.
pub trait Transport: Send + Sync + Debug + 'static {
    /// Sends `body` (an encoded request of `kind` for `group`) to node `target` at `addr` and
    /// returns the encoded response that node's [`handle_rpc`] produced.
    fn call(
        &self,
        target: u64,
        addr: &str,
        group: GroupId,
        kind: RpcKind,
        body: Vec<u8>,
    ) -> TransportFuture<'_>;
}

/// A transport that reaches nobody: every call fails as unreachable. Enough for single-voter
/// groups, which never send RPCs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTransport;

impl Transport for NoTransport {
    fn call(
        &self,
        target: u64,
        _: &str,
        group: GroupId,
        _: RpcKind,
        _: Vec<u8>,
    ) -> TransportFuture<'_> {
        Box::pin(async move {
            Err(Error::Transport(format!(
                "no transport configured to reach node {target} for group {group}"
            )))
        })
    }
}

/// Builds one [`Network`] per target node for one group.
#[derive(Debug, Clone)]
pub struct NetworkFactory {
    group: GroupId,
    transport: Arc<dyn Transport>,
}

impl NetworkFactory {
    /// Returns a factory for `group` over `transport`.
    pub fn new(group: GroupId, transport: Arc<dyn Transport>) -> Self {
        NetworkFactory { group, transport }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Self::Network {
        Network {
            group: self.group,
            target,
            addr: node.addr.clone(),
            transport: Arc::clone(&self.transport),
        }
    }
}

/// The client of one group towards one target node.
#[derive(Debug)]
pub struct Network {
    group: GroupId,
    target: u64,
    addr: String,
    transport: Arc<dyn Transport>,
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| Error::Encode(e.to_string()))
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(b).map_err(|e| Error::Decode(e.to_string()))
}

impl Network {
    async fn call<Req, Resp, E>(
        &self,
        kind: RpcKind,
        req: &Req,
    ) -> Result<Resp, RPCError<u64, BasicNode, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let unreachable = |e: Error| RPCError::Unreachable(Unreachable::new(&e));
        let body = encode(req).map_err(unreachable)?;
        let resp = self
            .transport
            .call(self.target, &self.addr, self.group, kind, body)
            .await
            .map_err(unreachable)?;
        let result: Result<Resp, RaftError<u64, E>> = decode(&resp).map_err(unreachable)?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(RpcKind::AppendEntries, &rpc).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(RpcKind::InstallSnapshot, &rpc).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(RpcKind::Vote, &rpc).await
    }
}

/// Serves one encoded RPC for a local group and returns the encoded response (which carries
/// openraft's own error, if any, for the caller's [`Network`] to surface).
pub async fn handle_rpc(raft: &Raft, kind: RpcKind, body: &[u8]) -> Result<Vec<u8>, Error> {
    match kind {
        RpcKind::AppendEntries => {
            let req: AppendEntriesRequest<TypeConfig> = decode(body)?;
            encode(&raft.append_entries(req).await)
        }
        RpcKind::Vote => {
            let req: VoteRequest<u64> = decode(body)?;
            encode(&raft.vote(req).await)
        }
        RpcKind::InstallSnapshot => {
            let req: InstallSnapshotRequest<TypeConfig> = decode(body)?;
            encode(&raft.install_snapshot(req).await)
        }
    }
}
