use std::sync::mpsc;
use std::time::Duration;

use super::*;
use crate::StorageConfig;

fn open(dir: &std::path::Path) -> (Arc<Db>, Arc<RaftLog>) {
    let db = Db::open(dir, &StorageConfig::default()).unwrap();
    let log = RaftLog::open(Arc::clone(&db)).unwrap();
    (db, log)
}

fn ents(range: std::ops::Range<u64>) -> Vec<(u64, Vec<u8>)> {
    range.map(|i| (i, format!("e{i}").into_bytes())).collect()
}

#[test]
fn appends_reads_truncates_and_purges_per_group() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, log) = open(dir.path());
    let (a, b) = (GroupId(1), GroupId(2));
    wait(|d| log.append(a, ents(0..10), d)).unwrap();
    wait(|d| log.append(b, ents(5..7), d)).unwrap();

    assert_eq!(log.entries(a, 0, 100).unwrap(), ents(0..10));
    assert_eq!(log.entries(a, 3, 5).unwrap(), ents(3..5));
    assert_eq!(log.entries(b, 0, u64::MAX).unwrap(), ents(5..7));
    assert_eq!(log.entries(GroupId(3), 0, u64::MAX).unwrap(), vec![]);
    assert_eq!(log.last_entry(a).unwrap(), Some((9, b"e9".to_vec())));
    assert_eq!(log.last_entry(b).unwrap(), Some((6, b"e6".to_vec())));
    assert_eq!(log.last_entry(GroupId(0)).unwrap(), None);
    assert_eq!(log.entry(a, 4).unwrap(), Some(b"e4".to_vec()));

    wait(|d| log.truncate(a, 7, d)).unwrap();
    assert_eq!(log.entries(a, 0, 100).unwrap(), ents(0..7));
    wait(|d| log.purge(a, 2, b"p2".to_vec(), d)).unwrap();
    assert_eq!(log.entries(a, 0, 100).unwrap(), ents(3..7));
    assert_eq!(
        log.state(a, StateKey::LastPurged).unwrap(),
        Some(b"p2".to_vec())
    );
    assert_eq!(log.state(b, StateKey::LastPurged).unwrap(), None);
    // The other group is untouched.
    assert_eq!(log.entries(b, 0, u64::MAX).unwrap(), ents(5..7));

    wait(|d| log.put_state(b, StateKey::Vote, b"v".to_vec(), true, d)).unwrap();
    assert_eq!(log.state(b, StateKey::Vote).unwrap(), Some(b"v".to_vec()));
    assert_eq!(log.state(a, StateKey::Vote).unwrap(), None);
}

#[test]
fn survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_db, log) = open(dir.path());
        wait(|d| log.append(GroupId(4), ents(0..3), d)).unwrap();
        wait(|d| log.put_state(GroupId(4), StateKey::Committed, b"c".to_vec(), false, d)).unwrap();
        log.shutdown();
    }
    let (_db, log) = open(dir.path());
    assert_eq!(log.entries(GroupId(4), 0, u64::MAX).unwrap(), ents(0..3));
    assert_eq!(
        log.state(GroupId(4), StateKey::Committed).unwrap(),
        Some(b"c".to_vec())
    );
}

#[test]
fn merges_queued_appends_of_many_groups_into_one_synced_write() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, log) = open(dir.path());
    // Hold the writer inside a completion so the next requests queue up behind it.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    log.append(
        GroupId(0),
        ents(0..1),
        Box::new(move |r| {
            r.unwrap();
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        }),
    );
    started_rx.recv().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    for g in 1..=50u32 {
        let done_tx = done_tx.clone();
        log.append(
            GroupId(g),
            ents(0..2),
            Box::new(move |r| done_tx.send(r).unwrap()),
        );
    }
    release_tx.send(()).unwrap();
    for _ in 0..50 {
        done_rx.recv().unwrap().unwrap();
    }
    let s = log.stats();
    assert_eq!(s.requests, 51);
    assert_eq!(s.entries, 101);
    assert_eq!(s.writes, 2, "{s:?}");
    assert_eq!(s.fsyncs, 2, "{s:?}");
    for g in 1..=50u32 {
        assert_eq!(log.entries(GroupId(g), 0, 10).unwrap(), ents(0..2));
    }
}

#[test]
fn completes_with_error_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, log) = open(dir.path());
    log.shutdown();
    let err = wait(|d| log.append(GroupId(1), ents(0..1), d)).unwrap_err();
    assert!(matches!(err, Error::WriterStopped));
}

#[test]
fn compaction_drops_purged_entries_from_disk_once_past_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = open(dir.path());
    let (a, b) = (GroupId(1), GroupId(2));
    // Incompressible 64 KiB entries, so that the SST size follows the bytes written.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut entry = || {
        (0..8192)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .collect::<Vec<u8>>()
    };
    let per_group = (COMPACT_FLOOR_BYTES / 2 / 65536) + 64;
    for g in [a, b] {
        let es: Vec<_> = (0..per_group).map(|i| (i, entry())).collect();
        wait(|d| log.append(g, es, d)).unwrap();
    }
    db.flush_memtables().unwrap();
    let before = log.sst_bytes().unwrap();
    assert!(before >= COMPACT_FLOOR_BYTES, "{before}");
    // Nothing purged yet: a compaction keeps everything, and the next one waits for growth.
    let first = log.maybe_compact().unwrap().unwrap();
    assert!(first.sst_bytes_after >= COMPACT_FLOOR_BYTES, "{first:?}");
    assert_eq!(log.maybe_compact().unwrap(), None);
    // Purge all but the last 4 entries of each group: the next compaction (forced, since the
    // files did not grow) leaves only those on disk.
    for g in [a, b] {
        wait(|d| log.purge(g, per_group - 5, b"p".to_vec(), d)).unwrap();
    }
    log.compact().unwrap();
    let after = log.sst_bytes().unwrap();
    assert!(after < 16 * 65536, "{after}");
    assert_eq!(log.entries(a, 0, u64::MAX).unwrap().len(), 4);
    assert_eq!(log.entries(b, 0, u64::MAX).unwrap().len(), 4);
}

/// The shard batches of one write request, announced before they are proposed, share one fsync
/// although their appends arrive apart.
#[test]
fn announced_appends_share_one_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
    // A wait far longer than the gap between the two appends below.
    let log = RaftLog::open_with_linger(db, Duration::from_secs(30)).unwrap();
    log.announce_appends([GroupId(1), GroupId(2)]);
    let (tx, rx) = mpsc::channel();
    for g in [1u32, 2] {
        let tx = tx.clone();
        log.append(
            GroupId(g),
            ents(0..1),
            Box::new(move |r| tx.send(r).unwrap()),
        );
        // Without the wait, the writer would write and fsync group 1's append meanwhile.
        std::thread::sleep(Duration::from_millis(50));
    }
    rx.recv().unwrap().unwrap();
    rx.recv().unwrap().unwrap();
    let s = log.stats();
    assert_eq!((s.writes, s.fsyncs, s.linger_timeouts), (1, 1, 0), "{s:?}");
    assert_eq!(log.entries(GroupId(2), 0, 10).unwrap(), ents(0..1));
}

/// An announced append that never comes costs one bounded wait, which clears the counts.
#[test]
fn an_announcement_without_append_costs_one_wait() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), &StorageConfig::default()).unwrap();
    let log = RaftLog::open_with_linger(db, Duration::from_millis(5)).unwrap();
    log.announce_appends([GroupId(1), GroupId(2)]);
    wait(|d| log.append(GroupId(1), ents(0..1), d)).unwrap();
    let s = log.stats();
    assert_eq!((s.fsyncs, s.lingers, s.linger_timeouts), (1, 1, 1), "{s:?}");
    wait(|d| log.append(GroupId(1), ents(1..2), d)).unwrap();
    let s = log.stats();
    assert_eq!((s.fsyncs, s.lingers, s.linger_timeouts), (2, 1, 1), "{s:?}");
}
