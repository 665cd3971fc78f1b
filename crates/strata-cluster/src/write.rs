//! The write path: [`WriteSink`] over the shard groups.

use std::task::Poll;

use strata_model::{
    ErrorKind, ShardBatch, ShardId, WriteFuture, WriteOutcome, WriteSink, WriteSinkError,
};
use strata_raft::WriteError;
use strata_storage::raftlog::GroupId;
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

    /// Proposes every batch to its shard's group concurrently and resolves once all are
    /// committed and applied, with their outcomes merged; or with the first failure.
    ///
    /// The proposals are polled together in the caller's task (no task per shard: spawning
    /// wakes idle runtime workers, which costs more CPU than the proposals themselves).
    fn write(&self, batches: Vec<(ShardId, ShardBatch)>) -> WriteFuture<'_> {
        Box::pin(
            async move {
                let mut pending = Vec::with_capacity(batches.len());
                if batches.len() > 1 {
                    // One fsync for the request's entries in every shard (group commit).
                    self.inner
                        .log
                        .announce_appends(batches.iter().map(|(s, _)| GroupId(s.0)));
                }
                for (shard, batch) in batches {
                    let Some(group) = self.group(shard) else {
                        return Err(WriteSinkError {
                            kind: ErrorKind::BadData,
                            message: format!("shard {shard} does not exist"),
                        });
                    };
                    // The compact entry form: series the shard already holds travel as
                    // references (≈ 19 bytes per sample instead of ≈ 130 with labels).
                    let batch = group
                        .shard()
                        .reference_known_series(&batch)
                        .unwrap_or(batch);
                    pending.push(Some(Box::pin(group.write(batch))));
                }
                let mut merged = WriteOutcome::default();
                let mut first_err = None;
                std::future::poll_fn(|cx| {
                    let mut busy = false;
                    for slot in pending.iter_mut() {
                        let Some(fut) = slot else { continue };
                        match fut.as_mut().poll(cx) {
                            Poll::Ready(Ok(o)) => merged.merge(o, KEEP_REJECTIONS),
                            Poll::Ready(Err(e)) => {
                                first_err.get_or_insert_with(|| sink_error(e));
                            }
                            Poll::Pending => {
                                busy = true;
                                continue;
                            }
                        }
                        *slot = None;
                    }
                    if busy { Poll::Pending } else { Poll::Ready(()) }
                })
                .await;
                match first_err {
                    Some(e) => Err(e),
                    None => Ok(merged),
                }
            }
            .instrument(tracing::debug_span!("write")),
        )
    }
}
