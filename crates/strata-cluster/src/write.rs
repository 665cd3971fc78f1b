//! The write path: [`WriteSink`] over the shard groups.

use strata_model::{
    ErrorKind, ShardBatch, ShardId, WriteFuture, WriteOutcome, WriteSink, WriteSinkError,
};
use strata_raft::WriteError;
use tracing::Instrument;

use crate::node::Node;

/// How many refused samples a merged outcome keeps for the error message.
const KEEP_REJECTIONS: usize = 10;

fn sink_error(e: WriteError) -> WriteSinkError {
    let kind = match &e {
        WriteError::NotLeader { leader, .. } => ErrorKind::NotLeader {
            hint: leader.as_ref().map(|(_, addr)| addr.clone()),
        },
        WriteError::Unavailable { .. } => ErrorKind::Unavailable,
        WriteError::Fatal { .. } => ErrorKind::Internal,
    };
    WriteSinkError {
        kind,
        message: e.to_string(),
    }
}

impl WriteSink for Node {
    fn shard_count(&self) -> u32 {
        self.inner.shard_count
    }

    /// Proposes every batch to its shard's group in parallel and resolves once all are
    /// committed and applied, with their outcomes merged; or with the first failure.
    fn write(&self, batches: Vec<(ShardId, ShardBatch)>) -> WriteFuture<'_> {
        Box::pin(
            async move {
                let mut set = tokio::task::JoinSet::new();
                for (shard, batch) in batches {
                    let Some(group) = self.group(shard).cloned() else {
                        return Err(WriteSinkError {
                            kind: ErrorKind::BadData,
                            message: format!("shard {shard} does not exist"),
                        });
                    };
                    set.spawn(async move { group.write(batch).await });
                }
                let mut merged = WriteOutcome::default();
                let mut first_err = None;
                while let Some(res) = set.join_next().await {
                    match res {
                        Ok(Ok(o)) => merged.merge(o, KEEP_REJECTIONS),
                        Ok(Err(e)) => {
                            first_err.get_or_insert_with(|| sink_error(e));
                        }
                        Err(e) => {
                            first_err.get_or_insert_with(|| WriteSinkError {
                                kind: ErrorKind::Internal,
                                message: format!("write task failed: {e}"),
                            });
                        }
                    }
                }
                match first_err {
                    Some(e) => Err(e),
                    None => Ok(merged),
                }
            }
            .instrument(tracing::debug_span!("write")),
        )
    }
}
