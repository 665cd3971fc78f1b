//! The entries of a group's log that are appended but not applied yet, kept in memory.
//!
//! openraft 0.9 reads every committed entry back from the log store before applying it
//! (`RaftCore::apply_to_state_machine` calls `get_log_entries`). Without this cache each entry
//! would be written to RocksDB, read back through an iterator, copied and re-validated only to
//! be applied. [`crate::LogStore`] inserts every appended entry (sharing its bytes: a
//! [`strata_model::ShardBatch`] clone is a reference count), serves reads from here when the
//! whole range is present, and [`crate::ShardStateMachine`] drops entries once applied.
//!
//! The cache mirrors the log exactly: an append at an existing index replaces the entry, a
//! truncate drops everything from its index, a purge everything up to its index. Anything not
//! cached (after a restart, past the size bound, or dropped) is read from RocksDB as before.

use std::collections::BTreeMap;
use std::sync::Mutex;

use openraft::EntryPayload;

use crate::types::Entry;

/// Default bound of the bytes one group's cache holds (1/4 of what is in flight at worst).
pub const DEFAULT_CACHE_BYTES: usize = 128 << 20;

/// Appended, not yet applied entries of one group (see the module docs). Thread-safe.
#[derive(Debug)]
pub struct EntryCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<u64, (Entry, usize)>,
    bytes: usize,
}

fn entry_bytes(e: &Entry) -> usize {
    match &e.payload {
        EntryPayload::Normal(p) => p.0.as_bytes().len() + 64,
        _ => 128,
    }
}

impl Default for EntryCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_BYTES)
    }
}

impl EntryCache {
    /// Returns an empty cache holding at most `max_bytes` of entries (0 disables it).
    pub fn new(max_bytes: usize) -> Self {
        EntryCache {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records appended entries. An entry that does not fit drops every cached entry at or
    /// after its index, so the cache never has a hole that a later read could skip over.
    pub(crate) fn insert(&self, entries: &[Entry]) {
        let mut c = self.lock();
        for e in entries {
            let index = e.log_id.index;
            let size = entry_bytes(e);
            if let Some((_, old)) = c.entries.remove(&index) {
                c.bytes -= old;
            }
            if c.bytes + size > self.max_bytes {
                drop_from(&mut c, index);
                continue;
            }
            c.bytes += size;
            c.entries.insert(index, (e.clone(), size));
        }
    }

    /// Returns the entries `[start, end)` if every one of them is cached.
    pub(crate) fn range(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        if start >= end {
            return Some(Vec::new());
        }
        let c = self.lock();
        let n = usize::try_from(end - start).ok()?;
        if n > c.entries.len() {
            return None;
        }
        let out: Vec<Entry> = c
            .entries
            .range(start..end)
            .map(|(_, (e, _))| e.clone())
            .collect();
        (out.len() == n).then_some(out)
    }

    /// Forgets entries at indexes `<= index` (applied or purged).
    pub(crate) fn remove_upto(&self, index: u64) {
        let mut c = self.lock();
        let keep = match index.checked_add(1) {
            Some(i) => c.entries.split_off(&i),
            None => BTreeMap::new(),
        };
        c.entries = keep;
        c.bytes = c.entries.values().map(|(_, s)| s).sum();
    }

    /// Forgets entries at indexes `>= index` (truncated).
    pub(crate) fn remove_from(&self, index: u64) {
        drop_from(&mut self.lock(), index);
    }

    /// Returns the number of cached entries and their approximate bytes.
    pub fn usage(&self) -> (usize, usize) {
        let c = self.lock();
        (c.entries.len(), c.bytes)
    }
}

fn drop_from(c: &mut Inner, index: u64) {
    let dropped = c.entries.split_off(&index);
    c.bytes -= dropped.values().map(|(_, s)| s).sum::<usize>();
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;
    use strata_model::{Sample, SeriesId, ShardBatchBuilder};

    use super::*;
    use crate::types::{LogId, Payload};

    fn entry(index: u64, samples: usize) -> Entry {
        let mut b = ShardBatchBuilder::new();
        for i in 0..samples {
            b.push_ref(SeriesId(i as u64), 0, &[Sample::new(i as i64, 1.0)]);
        }
        Entry {
            log_id: LogId {
                leader_id: CommittedLeaderId::new(1, 1),
                index,
            },
            payload: EntryPayload::Normal(Payload(b.finish())),
        }
    }

    #[test]
    fn mirrors_appends_truncates_and_purges() {
        let c = EntryCache::default();
        c.insert(&(1..=5).map(|i| entry(i, 1)).collect::<Vec<_>>());
        assert_eq!(c.range(2, 5).unwrap().len(), 3);
        assert!(c.range(0, 3).is_none());
        // Overwrite index 4 with a different entry, then truncate from 5.
        c.insert(&[entry(4, 3)]);
        c.remove_from(5);
        assert!(c.range(4, 6).is_none());
        assert_eq!(c.range(4, 5).unwrap()[0], entry(4, 3));
        c.remove_upto(2);
        assert!(c.range(2, 4).is_none());
        assert_eq!(c.range(3, 5).unwrap().len(), 2);
        c.remove_upto(u64::MAX);
        assert_eq!(c.usage(), (0, 0));
    }

    #[test]
    fn an_entry_over_the_bound_leaves_no_hole() {
        let small = entry_bytes(&entry(1, 1));
        let c = EntryCache::new(small * 2);
        c.insert(&[entry(1, 1), entry(2, 1)]);
        // Index 3 does not fit: it is not cached, and neither is anything after it.
        c.insert(&[entry(3, 1), entry(4, 1)]);
        assert!(c.range(3, 4).is_none());
        assert!(c.range(1, 5).is_none());
        assert_eq!(c.range(1, 3).unwrap().len(), 2);
        c.remove_upto(2);
        c.insert(&[entry(5, 1)]);
        // 5 fits now, but 3 and 4 are missing: a read of 3..6 must go to disk.
        assert!(c.range(3, 6).is_none());
        assert_eq!(c.range(5, 6).unwrap().len(), 1);
    }
}
