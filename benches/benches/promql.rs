//! PromQL engine benchmarks on typical dashboard queries over compressed 1-second data.
//!
//! Data (see `promql/data.rs`): 10,000 `node_cpu_seconds_total` series and a classic histogram
//! of 2,400 bucket series, one hour at one sample per second (≈ 44.6 M samples), cut into closed
//! 30-minute chunks and encoded with `Chunk::encode`, as the storage engine stores them. Queries
//! run through `strata_promql::Engine` over a `Queryable` that decodes those chunks (see
//! `promql/store.rs`); throughput is in samples handed to the engine.
//!
//! Before the timings it prints, per query, the samples read, the result size and the growth of
//! the process' peak resident memory during one evaluation (Linux `clear_refs`), for the lazy
//! read path and for the node's read path (`strata_cluster::ChunkSamples` over copied chunks).
//!
//! `scripts/bench-promql` runs the same queries over the same data against `strata server` and
//! Prometheus 3.5 side by side; figures are in `docs/benchmarks-promql.md`.

#[path = "promql/data.rs"]
mod data;
#[path = "promql/store.rs"]
mod store;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use store::{ChunkStore, ReadPath};
use strata_model::synth::DEFAULT_START_MS;
use strata_promql::{Engine, QueryOpts, QueryResult, Queryable, Value};

/// First sample of the data set.
const START: i64 = DEFAULT_START_MS;
/// Evaluation time of instant queries and end of range queries: the last scrape.
const END: i64 = START + (data::SECONDS as i64 - 1) * 1000;
/// Start of range queries: the last hour.
const RANGE_START: i64 = END - 3_600_000;

/// One benchmarked query.
#[derive(Debug, Clone, Copy)]
struct Q {
    name: &'static str,
    query: &'static str,
    /// 0 for an instant query at `END`, else the step of a range query over the last hour.
    step_s: i64,
    /// Whether to also time it over the node's read path.
    cluster_path: bool,
}

const RATE_BY_MODE: &str = "sum by (mode) (rate(node_cpu_seconds_total[5m]))";
const QUANTILE: &str =
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))";
const TOPK: &str = "topk(5, rate(node_cpu_seconds_total[5m]))";
const SUBQUERY: &str = "max_over_time(rate(node_cpu_seconds_total[1m])[30m:1m])";

const QUERIES: [Q; 8] = [
    Q {
        name: "rate_by_mode/instant",
        query: RATE_BY_MODE,
        step_s: 0,
        cluster_path: true,
    },
    Q {
        name: "rate_by_mode/range_1h_15s",
        query: RATE_BY_MODE,
        step_s: 15,
        cluster_path: true,
    },
    Q {
        name: "rate_by_mode/range_1h_60s",
        query: RATE_BY_MODE,
        step_s: 60,
        cluster_path: false,
    },
    Q {
        name: "histogram_quantile/instant",
        query: QUANTILE,
        step_s: 0,
        cluster_path: false,
    },
    Q {
        name: "histogram_quantile/range_1h_15s",
        query: QUANTILE,
        step_s: 15,
        cluster_path: false,
    },
    Q {
        name: "topk/instant",
        query: TOPK,
        step_s: 0,
        cluster_path: false,
    },
    Q {
        name: "topk/range_1h_60s",
        query: TOPK,
        step_s: 60,
        cluster_path: false,
    },
    Q {
        name: "subquery_max_over_time/instant",
        query: SUBQUERY,
        step_s: 0,
        cluster_path: true,
    },
];

/// Evaluates `q` over `store`.
fn run(engine: &Engine, store: &dyn Queryable, q: &Q) -> QueryResult {
    let opts = QueryOpts::default();
    let r = if q.step_s == 0 {
        engine.instant_query(store, q.query, END, &opts)
    } else {
        engine.range_query(store, q.query, RANGE_START, END, q.step_s * 1000, &opts)
    };
    match r {
        Ok(r) => r,
        Err(e) => panic!("{}: {e}", q.query),
    }
}

/// Returns (series, points) of a result.
fn result_size(r: &QueryResult) -> (usize, usize) {
    match &r.value {
        Value::Vector(v) => (v.len(), v.len()),
        Value::Matrix(m) => (m.len(), m.iter().map(|s| s.floats.len()).sum()),
        Value::Scalar { .. } | Value::String { .. } => (0, 1),
    }
}

/// Reads a `kB` field of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Evaluates `q` once and returns the growth of peak RSS during it in MiB (Linux only: writing
/// 5 to `clear_refs` resets the peak to the current RSS), with the wall time.
fn peak_growth_mib(engine: &Engine, store: &dyn Queryable, q: &Q) -> (Option<f64>, Duration) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let t0 = Instant::now();
    black_box(run(engine, store, q));
    let took = t0.elapsed();
    let peak = status_kib("VmHWM:");
    let growth = match (reset, before, peak) {
        (true, Some(b), Some(p)) => Some(p.saturating_sub(b) as f64 / 1024.0),
        _ => None,
    };
    (growth, took)
}

fn main() {
    let t0 = Instant::now();
    let base = ChunkStore::build(START);
    let (series, samples, bytes) = base.stats();
    eprintln!(
        "\nPromQL bench data: {series} series, {samples} samples, {:.1} MiB of chunks ({:.2} B/sample), built in {:.1?}",
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / samples as f64,
        t0.elapsed()
    );
    let engine = Engine::default();
    let lazy = base.with(ReadPath::Lazy, None);
    let cluster = base.with(ReadPath::Node, None);

    eprintln!(
        "{:<32} {:>11} {:>8} {:>8} {:>12} {:>14}",
        "query", "samples", "series", "points", "peak MiB lazy", "peak MiB node"
    );
    let mut read = Vec::new();
    for q in &QUERIES {
        let counter = Arc::new(AtomicU64::new(0));
        let counting = base.with(ReadPath::Lazy, Some(counter.clone()));
        let r = run(&engine, &counting, q);
        let n = counter.load(Ordering::Relaxed);
        let (rs, rp) = result_size(&r);
        drop(r);
        let (lazy_mib, _) = peak_growth_mib(&engine, &lazy, q);
        let (node_mib, _) = peak_growth_mib(&engine, &cluster, q);
        let fmt = |m: Option<f64>| m.map_or("n/a".to_string(), |m| format!("{m:.1}"));
        eprintln!(
            "{:<32} {:>11} {:>8} {:>8} {:>12} {:>14}",
            q.name,
            n,
            rs,
            rp,
            fmt(lazy_mib),
            fmt(node_mib)
        );
        read.push(n);
    }

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut g = c.benchmark_group("promql");
    for (q, &n) in QUERIES.iter().zip(&read) {
        g.throughput(Throughput::Elements(n));
        g.bench_function(BenchmarkId::new(q.name, "lazy"), |b| {
            b.iter(|| black_box(run(&engine, &lazy, q)))
        });
        if q.cluster_path {
            g.bench_function(BenchmarkId::new(q.name, "node_read_path"), |b| {
                b.iter(|| black_box(run(&engine, &cluster, q)))
            });
        }
    }
    g.finish();
    c.final_summary();
}
