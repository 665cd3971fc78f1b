//! Selection: matcher semantics, ranges over head + flushed chunks + partitions, label names
//! and values.

use strata_model::MatchOp::{NotEqual, NotRegex, Regex};

use super::*;

const H: i64 = 3_600_000;

/// Four series with different label sets, one sample every 10 s for `hours` hours.
fn load(f: &Fixture, hours: i64, flush_every: u64) -> Vec<Labels> {
    let series = vec![
        labels(&[("__name__", "up"), ("job", "a"), ("inst", "1")]),
        labels(&[("__name__", "up"), ("job", "b"), ("inst", "2")]),
        labels(&[("__name__", "up"), ("inst", "3")]),
        labels(&[("__name__", "other"), ("job", "a"), ("inst", "1\nx")]),
    ];
    let mut index = 0;
    // One entry per 10 minutes of data.
    for start in (0..hours * H).step_by(600_000) {
        let per: Vec<Vec<(i64, f64)>> = (0..series.len())
            .map(|i| {
                (start..start + 600_000)
                    .step_by(10_000)
                    .map(|t| (t, (t / 1000) as f64 + i as f64 * 0.5))
                    .collect()
            })
            .collect();
        let pairs: Vec<(&Labels, &[(i64, f64)])> = series
            .iter()
            .zip(per.iter())
            .map(|(l, s)| (l, s.as_slice()))
            .collect();
        index += 1;
        let out = f.shard.apply(index, &batch(&pairs)).unwrap();
        assert_eq!(out.appended, 60 * series.len() as u64);
        if flush_every > 0 && index % flush_every == 0 {
            f.shard.flush().unwrap();
        }
    }
    series
}

fn expected(i: usize, mint: i64, maxt: i64, hours: i64) -> Vec<(i64, u64)> {
    (0..hours * H)
        .step_by(10_000)
        .filter(|t| (mint..=maxt).contains(t))
        .map(|t| (t, ((t / 1000) as f64 + i as f64 * 0.5).to_bits()))
        .collect()
}

#[test]
fn select_spans_head_flushed_chunks_and_partitions() {
    let f = Fixture::new(small_config());
    // 3 hours = 3 partitions; flushing every 50 minutes leaves data in head and on disk.
    let series = load(&f, 3, 5);
    assert!(f.shard.stats().chunks_flushed > 0);
    assert!(f.shard.stats().partitions >= 2);
    for (mint, maxt) in [
        (0, 3 * H),
        (0, 0),
        (H - 5_000, H + 5_000),
        (2 * H + 1, 3 * H - 1),
        (30 * 60_000, 2 * H + 30 * 60_000),
        (i64::MIN, i64::MAX),
        (3 * H + 10, 4 * H),
    ] {
        let sel = f.shard.select(&[eq("job", "a")], mint, maxt).unwrap();
        let got = decode_all(&sel, mint, maxt);
        let want: Vec<(String, Vec<(i64, u64)>)> = [(3usize, &series[3]), (0, &series[0])]
            .iter()
            .map(|(i, l)| (l.to_string(), expected(*i, mint, maxt, 3)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        // Sorted by labels: `__name__="other"` sorts before `__name__="up"`.
        assert_eq!(got, want, "range {mint}..={maxt}");
    }
}

#[test]
fn head_only_and_disk_only_selections_agree() {
    let head_only = Fixture::new(small_config());
    load(&head_only, 2, 0);
    let flushed = Fixture::new(small_config());
    load(&flushed, 2, 1);
    flushed.shard.flush().unwrap();
    let flushed = flushed.crash_and_reopen();
    for ms in [
        vec![eq("__name__", "up")],
        vec![m(NotEqual, "job", "a")],
        vec![m(Regex, "inst", "1.*")],
    ] {
        let a = head_only.shard.select(&ms, 0, 2 * H).unwrap();
        let b = flushed.shard.select(&ms, 0, 2 * H).unwrap();
        assert_eq!(decode_all(&a, 0, 2 * H), decode_all(&b, 0, 2 * H), "{ms:?}");
    }
}

/// Runs every matcher case against the head, then against flushed data after a restart.
#[test]
fn matcher_semantics_on_head_and_disk() {
    let cases: Vec<(Vec<Matcher>, Vec<&str>)> = vec![
        (
            vec![eq("job", "a")],
            vec![
                "other{inst=\"1\\nx\", job=\"a\"}",
                "up{inst=\"1\", job=\"a\"}",
            ],
        ),
        (
            vec![eq("__name__", "up"), m(NotEqual, "job", "a")],
            vec!["up{inst=\"2\", job=\"b\"}", "up{inst=\"3\"}"],
        ),
        // Only negative matchers: series lacking the label match.
        (
            vec![m(NotEqual, "job", "a")],
            vec!["up{inst=\"2\", job=\"b\"}", "up{inst=\"3\"}"],
        ),
        (vec![eq("job", "")], vec!["up{inst=\"3\"}"]),
        (
            vec![m(Regex, "job", "a|b"), eq("inst", "2")],
            vec!["up{inst=\"2\", job=\"b\"}"],
        ),
        // Anchored: "a" does not match "ab"-like prefixes, ".+" needs the label.
        (
            vec![m(Regex, "inst", "1")],
            vec!["up{inst=\"1\", job=\"a\"}"],
        ),
        (
            vec![m(Regex, "inst", "1.*")],
            vec![
                "other{inst=\"1\\nx\", job=\"a\"}",
                "up{inst=\"1\", job=\"a\"}",
            ],
        ),
        (
            vec![m(Regex, "job", ".+"), eq("__name__", "up")],
            vec!["up{inst=\"1\", job=\"a\"}", "up{inst=\"2\", job=\"b\"}"],
        ),
        (
            vec![m(Regex, "job", ".*"), eq("__name__", "up")],
            vec![
                "up{inst=\"1\", job=\"a\"}",
                "up{inst=\"2\", job=\"b\"}",
                "up{inst=\"3\"}",
            ],
        ),
        (
            vec![m(NotRegex, "job", "a|"), eq("__name__", "up")],
            vec!["up{inst=\"2\", job=\"b\"}"],
        ),
        (vec![m(NotRegex, "job", ".*")], vec![]),
        (
            vec![m(Regex, "job", "|b")],
            vec!["up{inst=\"2\", job=\"b\"}", "up{inst=\"3\"}"],
        ),
        (vec![eq("nope", "x")], vec![]),
        (
            vec![eq("nope", "")],
            vec![
                "other{inst=\"1\\nx\", job=\"a\"}",
                "up{inst=\"1\", job=\"a\"}",
                "up{inst=\"2\", job=\"b\"}",
                "up{inst=\"3\"}",
            ],
        ),
        (
            vec![],
            vec![
                "other{inst=\"1\\nx\", job=\"a\"}",
                "up{inst=\"1\", job=\"a\"}",
                "up{inst=\"2\", job=\"b\"}",
                "up{inst=\"3\"}",
            ],
        ),
    ];
    let f = Fixture::new(small_config());
    load(&f, 1, 0);
    let check = |f: &Fixture, stage: &str| {
        for (ms, want) in &cases {
            let got = names(&f.shard.select(ms, 0, H).unwrap());
            assert_eq!(got, *want, "{stage}: {ms:?}");
        }
    };
    check(&f, "head");
    f.shard.flush().unwrap();
    let f = f.crash_and_reopen();
    // After the restart the data is in segments (head) and, for cut chunks, on disk.
    check(&f, "restarted");
    // Past the head: only disk partitions answer for old data once series are evicted.
    let later = labels(&[("__name__", "late")]);
    let out = f
        .shard
        .apply(100, &batch(&[(&later, &[(5 * H, 1.0)])]))
        .unwrap();
    assert_eq!(out.appended, 1);
    f.shard.flush().unwrap();
    assert_eq!(f.shard.stats().head_series, 1, "idle series evicted");
    f.shard.flush().unwrap();
    assert_eq!(f.shard.stats().retired_series, 0);
    check(&f, "disk");
}

#[test]
fn label_names_and_values_follow_matchers_and_ranges() {
    let f = Fixture::new(small_config());
    load(&f, 2, 3);
    let extra = labels(&[("__name__", "late"), ("zone", "z1")]);
    f.shard
        .apply(1000, &batch(&[(&extra, &[(2 * H + 1000, 1.0)])]))
        .unwrap();
    let all = f.shard.label_names(&[], 0, 3 * H).unwrap();
    assert_eq!(all, vec!["__name__", "inst", "job", "zone"]);
    let up = f
        .shard
        .label_names(&[eq("__name__", "up")], 0, 3 * H)
        .unwrap();
    assert_eq!(up, vec!["__name__", "inst", "job"]);
    let no_job = f
        .shard
        .label_names(&[eq("job", ""), eq("__name__", "up")], 0, 3 * H)
        .unwrap();
    assert_eq!(no_job, vec!["__name__", "inst"]);
    let jobs = f.shard.label_values("job", &[], 0, 3 * H).unwrap();
    assert_eq!(jobs, vec!["a", "b"]);
    let jobs = f
        .shard
        .label_values("job", &[eq("__name__", "other")], 0, 3 * H)
        .unwrap();
    assert_eq!(jobs, vec!["a"]);
    let names_ = f
        .shard
        .label_values("__name__", &[m(Regex, "inst", "[12]")], 0, 3 * H)
        .unwrap();
    assert_eq!(names_, vec!["up"]);
    // The late series is only in the last hour; `zone` only there.
    let zone = f
        .shard
        .label_values("zone", &[eq("__name__", "late")], 0, H)
        .unwrap();
    assert!(zone.is_empty());
    let zone = f
        .shard
        .label_values("zone", &[eq("__name__", "late")], 2 * H, 3 * H)
        .unwrap();
    assert_eq!(zone, vec!["z1"]);
    // Persist everything, restart, and ask again from disk + segments.
    f.shard.flush().unwrap();
    let f = f.crash_and_reopen();
    assert_eq!(
        f.shard.label_names(&[], 0, 3 * H).unwrap(),
        vec!["__name__", "inst", "job", "zone"]
    );
    assert_eq!(
        f.shard
            .label_values("inst", &[eq("job", "a")], 0, 3 * H)
            .unwrap(),
        vec!["1", "1\nx"]
    );
    assert!(
        f.shard
            .label_values("job", &[], 10 * H, 11 * H)
            .unwrap()
            .is_empty()
    );
    assert!(f.shard.label_names(&[], 5, 4).unwrap().is_empty());
}
