//! Engine behaviour on hand-built data: lookback, staleness, range windows, extrapolation,
//! matching errors, limits and error kinds.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use strata_model::{ErrorKind, Labels, stale_nan};
use strata_promql::{Engine, EngineConfig, MemStore, Point, PointValue, QueryOpts, Value};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string()))).unwrap()
}

/// A series given as label pairs and `(t, v)` points.
type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn store_with(series: &[SeriesSpec<'_>]) -> MemStore {
    let mut s = MemStore::new();
    for (l, pts) in series {
        for (t, v) in pts.iter() {
            s.append(
                labels(l),
                Point {
                    t: *t,
                    v: PointValue::Float(*v),
                },
            );
        }
    }
    s
}

fn instant(store: &MemStore, q: &str, t: i64) -> Vec<(Labels, f64)> {
    let engine = Engine::default();
    let r = engine
        .instant_query(store, q, t, &QueryOpts::default())
        .unwrap();
    match r.value {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.f)).collect(),
        Value::Scalar { v, .. } => vec![(Labels::empty(), v)],
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn instant_selector_looks_back_five_minutes_inclusive_of_the_edge_sample_only_inside() {
    let s = store_with(&[(&[("__name__", "m")], &[(0, 1.0)])]);
    assert_eq!(instant(&s, "m", 0).len(), 1);
    assert_eq!(instant(&s, "m", 299_999).len(), 1);
    // The window is (t - 5m, t]: a sample exactly 5m old is out.
    assert!(instant(&s, "m", 300_000).is_empty());
}

#[test]
fn lookback_delta_is_configurable_per_engine_and_per_query() {
    let s = store_with(&[(&[("__name__", "m")], &[(0, 1.0)])]);
    let engine = Engine::new(EngineConfig {
        lookback_delta: Duration::from_secs(60),
        ..EngineConfig::default()
    });
    let r = engine
        .instant_query(&s, "m", 61_000, &QueryOpts::default())
        .unwrap();
    assert_eq!(r.value, Value::Vector(vec![]));
    let opts = QueryOpts {
        lookback_delta_ms: Some(120_000),
        ..QueryOpts::default()
    };
    let r = engine.instant_query(&s, "m", 61_000, &opts).unwrap();
    assert!(matches!(r.value, Value::Vector(v) if v.len() == 1));
}

#[test]
fn staleness_marker_ends_a_series_until_the_next_sample() {
    let s = store_with(&[(
        &[("__name__", "m")],
        &[(0, 1.0), (10_000, stale_nan()), (30_000, 3.0)],
    )]);
    assert_eq!(instant(&s, "m", 5_000)[0].1, 1.0);
    assert!(instant(&s, "m", 10_000).is_empty());
    assert!(instant(&s, "m", 20_000).is_empty());
    assert_eq!(instant(&s, "m", 30_000)[0].1, 3.0);
    // Staleness markers are not samples of a range window.
    assert_eq!(instant(&s, "count_over_time(m[1m])", 40_000)[0].1, 2.0);
}

#[test]
fn range_windows_are_left_open() {
    let s = store_with(&[(
        &[("__name__", "m")],
        &[(0, 1.0), (60_000, 2.0), (120_000, 3.0)],
    )]);
    assert_eq!(instant(&s, "count_over_time(m[1m])", 120_000)[0].1, 1.0);
    assert_eq!(instant(&s, "count_over_time(m[1m1ms])", 120_000)[0].1, 2.0);
}

#[test]
fn rate_extrapolates_and_needs_two_samples() {
    // A counter growing by 1/s sampled every 15s: rate is exactly 1 over any aligned window.
    let pts: Vec<(i64, f64)> = (0..=20).map(|i| (i * 15_000, i as f64 * 15.0)).collect();
    let s = store_with(&[(&[("__name__", "c_total")], &pts)]);
    let r = instant(&s, "rate(c_total[1m])", 300_000);
    assert!((r[0].1 - 1.0).abs() < 1e-9, "{r:?}");
    // One sample in the window: no result.
    assert!(instant(&s, "rate(c_total[10s])", 300_000).is_empty());
}

#[test]
fn increase_is_not_extrapolated_below_zero() {
    let s = store_with(&[(
        &[("__name__", "c_total")],
        &[(50_000, 0.0), (55_000, 5.0), (60_000, 10.0)],
    )]);
    let r = instant(&s, "increase(c_total[1m])", 60_000);
    assert!((r[0].1 - 10.0).abs() < 1e-9, "{r:?}");
}

#[test]
fn many_to_many_matching_is_an_execution_error() {
    let s = store_with(&[
        (&[("__name__", "a"), ("x", "1"), ("y", "1")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("x", "1"), ("y", "2")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("x", "1"), ("y", "1")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("x", "1"), ("y", "2")], &[(0, 1.0)]),
    ]);
    let engine = Engine::default();
    let err = engine
        .instant_query(&s, "a + on(x) b", 0, &QueryOpts::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Execution);
    // Prometheus prints label sets with `labels.Labels.String()`, `__name__` included.
    assert_eq!(
        err.to_string(),
        "found duplicate series for the match group {x=\"1\"} on the right hand-side of the \
         operation: [{__name__=\"b\", x=\"1\", y=\"2\"}, {__name__=\"b\", x=\"1\", y=\"1\"}];\
         many-to-many matching not allowed: matching labels must be unique on one side"
    );
    let err = engine
        .instant_query(&s, "a + on(x) group_left b", 0, &QueryOpts::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("many-to-many matching not allowed"),
        "{err}"
    );
    // One-to-one with duplicates on the left is the "must be explicit" error.
    let s2 = store_with(&[
        (&[("__name__", "a"), ("x", "1"), ("y", "1")], &[(0, 1.0)]),
        (&[("__name__", "a"), ("x", "1"), ("y", "2")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("x", "1")], &[(0, 1.0)]),
    ]);
    let err = engine
        .instant_query(&s2, "a + on(x) b", 0, &QueryOpts::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("many-to-one matching must be explicit"),
        "{err}"
    );
    assert_eq!(instant(&s2, "a + on(x) group_left b", 0).len(), 2);
}

#[test]
fn errors_carry_prometheus_kinds() {
    let s = MemStore::new();
    let engine = Engine::default();
    let e = engine
        .instant_query(&s, "sum(", 0, &QueryOpts::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadData);
    let e = engine
        .range_query(&s, "up[5m]", 0, 60_000, 15_000, &QueryOpts::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadData);
    let e = engine
        .range_query(&s, "up", 0, 60_000, 0, &QueryOpts::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadData);
}

#[test]
fn cancellation_and_timeout_stop_the_query() {
    let pts: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, i as f64)).collect();
    let s = store_with(&[(&[("__name__", "m")], &pts)]);
    let engine = Engine::default();
    let cancel = Arc::new(AtomicBool::new(true));
    let opts = QueryOpts {
        cancel: Some(cancel),
        ..QueryOpts::default()
    };
    let e = engine
        .range_query(&s, "m", 0, 100_000, 1000, &opts)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Canceled);
    let opts = QueryOpts {
        timeout: Some(Duration::ZERO),
        ..QueryOpts::default()
    };
    let e = engine
        .range_query(&s, "rate(m[10s])", 0, 100_000, 10, &opts)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[test]
fn max_samples_limits_a_query() {
    let series: Vec<Vec<(i64, f64)>> = (0..10)
        .map(|_| (0..100).map(|i| (i * 1000, 1.0)).collect())
        .collect();
    let mut s = MemStore::new();
    for (n, pts) in series.iter().enumerate() {
        for (t, v) in pts {
            s.append(
                labels(&[("__name__", "m"), ("n", &n.to_string())]),
                Point {
                    t: *t,
                    v: PointValue::Float(*v),
                },
            );
        }
    }
    let engine = Engine::new(EngineConfig {
        max_samples: 50,
        ..EngineConfig::default()
    });
    let e = engine
        .range_query(&s, "m", 0, 99_000, 1000, &QueryOpts::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Execution);
    assert!(e.to_string().contains("too many samples"), "{e}");
    assert!(
        engine
            .instant_query(&s, "m", 10_000, &QueryOpts::default())
            .is_ok()
    );
}

#[test]
fn experimental_functions_need_the_option() {
    let s = store_with(&[(&[("__name__", "m")], &[(0, 1.0)])]);
    let e = Engine::default()
        .instant_query(&s, "mad_over_time(m[1m])", 0, &QueryOpts::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadData);
    let engine = Engine::new(EngineConfig {
        enable_experimental_functions: true,
        ..EngineConfig::default()
    });
    assert!(
        engine
            .instant_query(&s, "mad_over_time(m[1m])", 0, &QueryOpts::default())
            .is_ok()
    );
}

#[test]
fn info_adds_target_info_data_labels() {
    let s = store_with(&[
        (
            &[("__name__", "m"), ("instance", "a"), ("job", "j")],
            &[(0, 1.0)],
        ),
        (
            &[
                ("__name__", "target_info"),
                ("instance", "a"),
                ("job", "j"),
                ("k8s", "x"),
            ],
            &[(0, 1.0)],
        ),
    ]);
    let engine = Engine::new(EngineConfig {
        enable_experimental_functions: true,
        ..EngineConfig::default()
    });
    let r = engine
        .instant_query(&s, "info(m)", 0, &QueryOpts::default())
        .unwrap();
    let Value::Vector(v) = r.value else {
        panic!("vector expected")
    };
    assert_eq!(
        v[0].labels,
        labels(&[
            ("__name__", "m"),
            ("instance", "a"),
            ("job", "j"),
            ("k8s", "x")
        ])
    );
    let r = engine
        .instant_query(&s, r#"info(m, {k8s="y"})"#, 0, &QueryOpts::default())
        .unwrap();
    assert!(matches!(r.value, Value::Vector(v) if v.is_empty()));
}

#[test]
fn config_reads_human_durations_and_validates() {
    let c: EngineConfig =
        serde_json::from_str(r#"{"lookback-delta": "1m30s", "timeout": "10s"}"#).unwrap();
    assert_eq!(c.lookback_delta, Duration::from_secs(90));
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.max_samples, 50_000_000);
    assert!(c.validate().is_ok());
    assert!(serde_json::from_str::<EngineConfig>(r#"{"bogus": 1}"#).is_err());
    let bad = EngineConfig {
        lookback_delta: Duration::ZERO,
        ..EngineConfig::default()
    };
    assert!(bad.validate().is_err());
}

#[test]
fn series_differing_only_by_a_removed_name_collide_in_range_queries() {
    // a_total exists in the first minutes, b_total later; after rate() removes the names both
    // have the same labels, which Prometheus rejects even though they never overlap in time.
    let a: Vec<(i64, f64)> = (0..5).map(|i| (i * 15_000, i as f64)).collect();
    let b: Vec<(i64, f64)> = (20..25).map(|i| (i * 15_000, i as f64)).collect();
    let s = store_with(&[
        (&[("__name__", "a_total"), ("job", "x")], &a),
        (&[("__name__", "b_total"), ("job", "x")], &b),
    ]);
    let engine = Engine::default();
    let e = engine
        .range_query(
            &s,
            r#"rate({__name__=~"a_total|b_total"}[1m])"#,
            0,
            360_000,
            15_000,
            &QueryOpts::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("same labelset"), "{e}");
}

#[test]
fn annotations_carry_the_position_prometheus_gives_them() {
    let pts: Vec<(i64, f64)> = (0..60).map(|i| (i * 10_000, i as f64)).collect();
    let s = store_with(&[
        (&[("__name__", "up"), ("job", "a")], &pts),
        (&[("__name__", "req_total"), ("job", "a")], &pts),
    ]);
    let engine = Engine::default();
    let q = |query: &str| {
        engine
            .instant_query(&s, query, 600_000, &QueryOpts::default())
            .unwrap()
    };
    // The first two texts are what Prometheus 3.5 answers for the same queries (the e2e
    // differential test); the others follow the rules tests/annotation_positions.rs checks.
    let r = q("rate(up[5m])");
    assert_eq!(
        r.infos(),
        vec![
            "PromQL info: metric might not be a counter, name does not end in \
             _total/_sum/_count/_bucket: \"up\" (1:6)"
        ]
    );
    let r = q("histogram_quantile(0.9, rate(req_total[5m]))");
    assert_eq!(
        r.warnings(),
        vec![
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\" \
             for metric name \"\" (1:25)"
        ]
    );
    // Aggregation parameters point at the parameter, parentheses stripped.
    let r = q("sum(up) + quantile((2), up)");
    assert_eq!(
        r.warnings(),
        vec!["PromQL warning: quantile value should be between 0 and 1, got 2 (1:21)"]
    );
    // Multi-line queries count lines and columns as Prometheus does.
    let r = q("sum(\n  rate(up[5m])\n)");
    assert_eq!(r.infos().len(), 1);
    assert!(r.infos()[0].ends_with("(2:8)"), "{:?}", r.infos());
}
