//! The read path: [`Queryable`] over every shard of the node.
//!
//! Each shard's `select` runs on its own scoped thread (the trait is synchronous; async callers
//! already run it on a blocking thread). A series lives in exactly one shard, so merging is a
//! concatenation and a sort by labels. Chunks are decoded lazily by [`ChunkSamples`].

mod iter;

use std::collections::BTreeSet;

use strata_model::{ErrorKind, Matcher};
use strata_promql::{Queryable, QueryableError, SelectHints, Series};
use strata_storage::Shard;

pub use iter::ChunkSamples;

use crate::node::Node;

fn query_error(e: strata_storage::Error) -> QueryableError {
    let kind = match e.kind() {
        ErrorKind::BadData => ErrorKind::BadData,
        _ => ErrorKind::Internal,
    };
    if kind == ErrorKind::Internal {
        tracing::error!(error = %e, "select failed");
    }
    QueryableError {
        kind,
        message: e.to_string(),
    }
}

impl Node {
    /// Runs `f` on every shard in parallel and returns the results in shard order.
    fn each_shard<T: Send>(
        &self,
        f: impl Fn(&Shard) -> Result<T, strata_storage::Error> + Sync,
    ) -> Result<Vec<T>, QueryableError> {
        let groups = &self.inner.groups;
        if groups.len() == 1 {
            return groups
                .iter()
                .map(|g| f(g.shard()))
                .collect::<Result<_, _>>()
                .map_err(query_error);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = groups
                .iter()
                .map(|g| {
                    let f = &f;
                    s.spawn(move || f(g.shard()))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(r) => r.map_err(query_error),
                    Err(_) => Err(QueryableError {
                        kind: ErrorKind::Internal,
                        message: "select thread panicked".into(),
                    }),
                })
                .collect()
        })
    }
}

impl Queryable for Node {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, QueryableError> {
        let per_shard = self.each_shard(|s| s.select(matchers, hints.mint, hints.maxt))?;
        let mut out: Vec<Series> = per_shard
            .into_iter()
            .flatten()
            .map(|sel| Series {
                labels: sel.labels,
                samples: Box::new(ChunkSamples::new(sel.chunks, hints.mint, hints.maxt)),
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        let per_shard = self.each_shard(|s| s.label_names(matchers, mint, maxt))?;
        let set: BTreeSet<String> = per_shard.into_iter().flatten().collect();
        Ok(set.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        let per_shard = self.each_shard(|s| s.label_values(name, matchers, mint, maxt))?;
        let set: BTreeSet<String> = per_shard.into_iter().flatten().collect();
        Ok(set.into_iter().collect())
    }
}
