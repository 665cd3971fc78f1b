//! `kill -9` during sustained remote_write: every acknowledged sample survives, none twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Strata, wait_until};

const SERIES_PER_REQUEST: usize = 40;
const SAMPLES_PER_SERIES: i64 = 25;
const BASE_MS: i64 = 1_700_000_000_000;

/// The samples of request `i`: every series gets `SAMPLES_PER_SERIES` consecutive seconds.
fn request(i: i64) -> Vec<(String, Vec<(i64, f64)>)> {
    (0..SERIES_PER_REQUEST)
        .map(|s| {
            let samples = (0..SAMPLES_PER_SERIES)
                .map(|j| {
                    let t = BASE_MS + (i * SAMPLES_PER_SERIES + j) * 1000;
                    (t, (i * 1000 + j) as f64 + s as f64 / 8.0)
                })
                .collect();
            (format!("s{s}"), samples)
        })
        .collect()
}

/// Writes requests in order from `first` until `stop` is set or `max` requests were sent; returns
/// the indexes that were acknowledged with 2xx.
fn writer(
    server: &Strata,
    first: i64,
    max: i64,
    stop: &AtomicBool,
    acked: &Mutex<Vec<i64>>,
) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut i = first;
    while i < first + max && !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let req = request(i);
        let series: Vec<(Vec<(&str, &str)>, Vec<(i64, f64)>)> = req
            .iter()
            .map(|(s, samples)| {
                (
                    vec![("__name__", "crash_test"), ("series", s.as_str())],
                    samples.clone(),
                )
            })
            .collect();
        let (status, _) = server.write(&series);
        if (200..300).contains(&status) {
            acked.lock().unwrap().push(i);
            i += 1;
        } else if status == 0 {
            // Connection refused or reset: the server is down; the request counts as not
            // acknowledged and the writer stops, as a sender would before retrying later.
            break;
        } else {
            panic!("unexpected status {status} for request {i}");
        }
    }
    i
}

fn check_all_acked_present(server: &Strata, acked: &[i64]) {
    let got = server.read(&[(0, "__name__", "crash_test")], 0, i64::MAX / 2);
    let mut by_series: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for s in got {
        let name = s
            .labels
            .iter()
            .find(|(n, _)| n == "series")
            .map(|(_, v)| v.clone())
            .expect("series label");
        by_series.entry(name).or_default().extend(s.samples);
    }
    for (name, samples) in &by_series {
        let mut seen = BTreeSet::new();
        for (t, _) in samples {
            assert!(
                seen.insert(*t),
                "series {name}: timestamp {t} returned twice"
            );
        }
    }
    for &i in acked {
        for (name, samples) in request(i) {
            let have = by_series.get(&name).map(Vec::as_slice).unwrap_or(&[]);
            for (t, v) in samples {
                let found = have.iter().find(|(ht, _)| *ht == t);
                assert_eq!(
                    found.map(|(_, bits)| *bits),
                    Some(v.to_bits()),
                    "acknowledged sample of request {i}, series {name}, t={t} lost or changed"
                );
            }
        }
    }
}

#[test]
fn kill_9_during_writes_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Strata::start(&dir.path().join("data"), &["--flush-interval", "2s"]);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut next = 0;
    for round in 0..3 {
        let pid = server.process.pid();
        let stop = Arc::new(AtomicBool::new(false));
        let before = acked.lock().unwrap().len();
        let last = std::thread::scope(|scope| {
            let h = scope.spawn(|| writer(&server, next, 100_000, &stop, &acked));
            // Kill while requests are in flight, after a varying amount of progress.
            let want = before + 20 + round * 35;
            let progressed = wait_until(Duration::from_secs(90), || {
                acked.lock().unwrap().len() >= want
            });
            assert!(
                progressed,
                "writes did not progress\n{}",
                server.process.log_tail(30)
            );
            let killed = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            stop.store(true, Ordering::SeqCst);
            h.join().unwrap()
        });
        next = last + 1;
        server.kill_9_and_restart();
        let acked_now = acked.lock().unwrap().clone();
        check_all_acked_present(&server, &acked_now);
    }
    let n = acked.lock().unwrap().len();
    assert!(n >= 100, "only {n} requests acknowledged");
    eprintln!(
        "crash test: {n} acknowledged requests ({} samples) all present after 3 kill -9",
        n * SERIES_PER_REQUEST * SAMPLES_PER_SERIES as usize
    );
}

#[test]
fn clean_shutdown_flushes_and_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Strata::start(&dir.path().join("data"), &[]);
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    writer(&server, 0, 30, &stop, &acked);
    let acked = acked.into_inner().unwrap();
    assert_eq!(acked.len(), 30);
    assert!(
        server.terminate_and_restart(),
        "clean shutdown failed\n{}",
        server.process.log_tail(30)
    );
    check_all_acked_present(&server, &acked);
}
