//! Reading the shard's key ranges in RocksDB: prefix scans and the postings of one partition as
//! a [`PostingsSource`].

use rocksdb::{DB, ReadOptions, SnapshotWithThreadMode};
use strata_model::ShardId;

use crate::db::{CF_POSTINGS, Db};
use crate::error::{Error, Result};
use crate::keys::{self, SeriesRef};
use crate::postings::{PostingsSource, ValueFilter, union_all};

/// A RocksDB snapshot of the node's instance.
pub(crate) type Snapshot<'a> = SnapshotWithThreadMode<'a, DB>;

fn read_options(
    snap: Option<&Snapshot<'_>>,
    upper: Option<Vec<u8>>,
    total_order: bool,
) -> ReadOptions {
    let mut ro = ReadOptions::default();
    if let Some(s) = snap {
        ro.set_snapshot(s);
    }
    if let Some(u) = upper {
        ro.set_iterate_upper_bound(u);
    }
    ro.set_total_order_seek(total_order);
    ro
}

/// Calls `f(key, value)` for every key starting with `prefix`, in order, until it returns
/// `false`. `total_order` must be set when `prefix` is shorter than the column family's prefix
/// extractor.
pub(crate) fn scan_prefix(
    db: &Db,
    cf: &'static str,
    snap: Option<&Snapshot<'_>>,
    prefix: &[u8],
    total_order: bool,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    let cf = db.cf(cf)?;
    let ro = read_options(snap, keys::prefix_successor(prefix), total_order);
    let mut it = db.raw().raw_iterator_cf_opt(cf, ro);
    it.seek(prefix);
    while it.valid() {
        let (Some(k), Some(v)) = (it.key(), it.value()) else {
            break;
        };
        if !k.starts_with(prefix) || !f(k, v)? {
            break;
        }
        it.next();
    }
    it.status().map_err(Error::rocks("read"))
}

/// Calls `f(part)` for each distinct key part that `part_of` extracts among keys starting with
/// `prefix`, seeking past all keys sharing a part (`skip_prefix` returns the prefix to skip).
pub(crate) fn scan_distinct(
    db: &Db,
    cf: &'static str,
    snap: Option<&Snapshot<'_>>,
    prefix: &[u8],
    mut next: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>>,
) -> Result<()> {
    let cf = db.cf(cf)?;
    let ro = read_options(snap, keys::prefix_successor(prefix), true);
    let mut it = db.raw().raw_iterator_cf_opt(cf, ro);
    it.seek(prefix);
    while it.valid() {
        let Some(k) = it.key() else { break };
        if !k.starts_with(prefix) {
            break;
        }
        match next(k)? {
            Some(seek_to) => it.seek(&seek_to),
            None => break,
        }
    }
    it.status().map_err(Error::rocks("read"))
}

/// The postings of one time partition of one shard, read at a snapshot.
pub(crate) struct PartitionPostings<'a> {
    pub(crate) db: &'a Db,
    pub(crate) snap: &'a Snapshot<'a>,
    pub(crate) shard: ShardId,
    pub(crate) partition: i64,
}

impl PartitionPostings<'_> {
    fn corrupt(&self) -> Error {
        Error::Corrupt {
            shard: self.shard,
            what: "postings key",
            detail: format!("partition {}", self.partition),
        }
    }

    /// Collects the refs under `prefix`, keeping those whose value passes `keep`.
    fn collect(
        &self,
        prefix: &[u8],
        mut keep: impl FnMut(&[u8]) -> bool,
    ) -> Result<Vec<SeriesRef>> {
        let mut out = Vec::new();
        scan_prefix(
            self.db,
            CF_POSTINGS,
            Some(self.snap),
            prefix,
            true,
            |k, _| {
                let p = keys::parse_postings_key(k).ok_or_else(|| self.corrupt())?;
                if keep(p.value) {
                    out.push(p.series);
                }
                Ok(true)
            },
        )?;
        Ok(out)
    }
}

impl PostingsSource for PartitionPostings<'_> {
    type Ref = SeriesRef;

    fn all_postings(&self) -> Result<Vec<SeriesRef>> {
        let prefix = keys::postings_value_prefix(self.shard, self.partition, b"", b"");
        self.collect(&prefix, |_| true)
    }

    fn postings_for(&self, name: &str, filter: &ValueFilter<'_>) -> Result<Vec<SeriesRef>> {
        match filter {
            ValueFilter::Exact(values) => {
                let mut lists = Vec::with_capacity(values.len());
                for v in values {
                    let prefix = keys::postings_value_prefix(
                        self.shard,
                        self.partition,
                        name.as_bytes(),
                        v.as_bytes(),
                    );
                    lists.push(self.collect(&prefix, |_| true)?);
                }
                Ok(union_all(lists))
            }
            ValueFilter::Matching { .. } => {
                let prefix =
                    keys::postings_name_prefix(self.shard, self.partition, name.as_bytes());
                // Keys are grouped by value: evaluate the matcher once per distinct value.
                let mut last: Option<(Vec<u8>, bool)> = None;
                let mut refs = self.collect(&prefix, |value| match &last {
                    Some((v, ok)) if v == value => *ok,
                    _ => {
                        let ok = std::str::from_utf8(value).is_ok_and(|s| filter.accepts(s));
                        last = Some((value.to_vec(), ok));
                        ok
                    }
                })?;
                refs.sort_unstable();
                refs.dedup();
                Ok(refs)
            }
        }
    }
}
