//! The node's identity file: the shard count fixed when the data directory was created.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::NodeConfig;
use crate::error::{Error, Result};

const FILE: &str = "strata-node.json";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Identity {
    node_id: u64,
    shard_count: u32,
}

fn dir_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::DataDir {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Returns the data directory's shard count, creating the directory and identity file on first
/// start. A different configured count is ignored with a warning: series are routed by it.
pub(super) fn load_or_create(config: &NodeConfig) -> Result<u32> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(|e| dir_err(dir, e))?;
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let id: Identity = serde_json::from_slice(&bytes).map_err(|e| dir_err(&path, e))?;
            if id.node_id != config.node_id {
                return Err(dir_err(
                    &path,
                    format!("belongs to node {}, not {}", id.node_id, config.node_id),
                ));
            }
            if id.shard_count != config.shard_count {
                tracing::warn!(
                    stored = id.shard_count,
                    configured = config.shard_count,
                    "shard count is fixed at creation; using the stored one"
                );
            }
            Ok(id.shard_count)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Identity {
                node_id: config.node_id,
                shard_count: config.shard_count,
            };
            let bytes = serde_json::to_vec_pretty(&id).map_err(|e| dir_err(&path, e))?;
            let tmp = dir.join(format!("{FILE}.tmp"));
            std::fs::write(&tmp, bytes).map_err(|e| dir_err(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| dir_err(&path, e))?;
            Ok(config.shard_count)
        }
        Err(e) => Err(dir_err(&path, e)),
    }
}
