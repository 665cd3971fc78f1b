//! The groups hosted by this node, by group id.

use std::collections::BTreeMap;
use std::sync::RwLock;

use strata_storage::raftlog::GroupId;

use crate::error::{Error, Result};
use crate::group::ShardGroup;
use crate::network::{RpcKind, handle_rpc};

/// Maps group ids to the groups hosted on this node; routes incoming RPCs to them.
#[derive(Debug, Default)]
pub struct Registry {
    groups: RwLock<BTreeMap<GroupId, ShardGroup>>,
}

impl Registry {
    /// Returns an empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds (or replaces) a group.
    pub fn insert(&self, group: ShardGroup) {
        self.groups
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group.id(), group);
    }

    /// Removes a group and returns it.
    pub fn remove(&self, id: GroupId) -> Option<ShardGroup> {
        self.groups
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    }

    /// Returns the group `id`, if hosted here.
    pub fn get(&self, id: GroupId) -> Option<ShardGroup> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Returns every hosted group, by id.
    pub fn all(&self) -> Vec<ShardGroup> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Returns the number of hosted groups.
    pub fn len(&self) -> usize {
        self.groups.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Returns whether no group is hosted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Serves an encoded RPC for group `id` (see [`handle_rpc`]).
    pub async fn handle_rpc(&self, id: GroupId, kind: RpcKind, body: &[u8]) -> Result<Vec<u8>> {
        let group = self.get(id).ok_or(Error::UnknownGroup(id.0))?;
        handle_rpc(group.raft(), kind, body).await
    }
}
