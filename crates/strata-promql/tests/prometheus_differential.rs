//! Differential tests against Prometheus 3.5 itself: random queries over random data are
//! evaluated by Prometheus (with delayed name removal and experimental functions, as its
//! promqltest engine runs) and by this crate; results must agree.
//!
//! - Instant queries (floats, classic and native histograms, `info()`): `promtool test rules`.
//! - Range queries (floats): a real `prometheus` server on 127.0.0.1 over TSDB blocks that
//!   `promtool tsdb create-blocks-from openmetrics` builds from the same data.
//!
//! The binaries come from `scripts/fetch-peers` (`~/.cache/strata-peers/bin`, or
//! `$STRATA_PEERS_DIR/bin`); they are fetched when missing, never skipped.
//! `STRATA_DIFF_SEEDS=1,2,3` and `STRATA_DIFF_QUERIES=300` widen the search.
//!
//! `exp` and vector `^` are not generated: Go's and Rust's libm differ in the last bit there,
//! and `%` or calendar functions over such huge values turn that bit into visible differences.
//!
//! Query shapes whose result is not deterministic in Prometheus itself are not generated:
//! `topk`/`bottomk`/`limitk` between equal values (the choice depends on Go map order) appear
//! only under `count()`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_model::Labels;
use strata_promql::promqltest::{
    SeqValue, parse_float, parse_histogram, parse_labels, parse_values, test_engine_config,
};
use strata_promql::{Engine, FloatHistogram, MemStore, Point, PointValue, QueryOpts, Value};
use support::{
    PrometheusServer, build_blocks, http_get, peer_binary, percent_encode, start_prometheus,
    work_dir,
};

mod support;

/// A small deterministic PRNG (xorshift64*), so that a seed always yields the same case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 10_000) as f64 / 10_000.0 < p
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn values(r: &mut Rng, counter: bool) -> String {
    let mut out = Vec::new();
    let mut v: i64 = r.below(20) as i64;
    for _ in 0..40 {
        if r.chance(0.07) {
            out.push("_".to_string());
            continue;
        }
        if r.chance(0.03) {
            out.push("stale".to_string());
            continue;
        }
        if counter {
            if r.chance(0.08) {
                v = r.below(5) as i64;
            } else {
                v += r.below(11) as i64;
            }
            out.push(v.to_string());
        } else if r.chance(0.5) {
            out.push(format!("{:.2}", r.below(10_000) as f64 / 100.0 - 50.0));
        } else {
            out.push((r.below(36) as i64 - 5).to_string());
        }
    }
    out.join(" ")
}

fn series(r: &mut Rng) -> Vec<(String, String)> {
    let mut s = Vec::new();
    for a in ["1", "2", "3"] {
        for b in ["x", "y"] {
            s.push((format!("m{{a=\"{a}\",b=\"{b}\"}}"), values(r, false)));
            s.push((format!("c_total{{a=\"{a}\",b=\"{b}\"}}"), values(r, true)));
        }
    }
    for a in ["1", "2"] {
        s.push((format!("n{{a=\"{a}\"}}"), values(r, false)));
    }
    for (name, schema) in [
        ("hh{a=\"1\"}", 0),
        ("hh{a=\"2\"}", 1),
        ("hh{a=\"3\"}", -53),
        ("hg{a=\"1\"}", 0),
    ] {
        s.push((
            name.to_string(),
            histogram_values(r, schema, name.starts_with("hg")),
        ));
    }
    for inst in ["i1", "i2", "i3"] {
        s.push((
            format!("up{{instance=\"{inst}\",job=\"j\"}}"),
            values(r, false),
        ));
    }
    s.push((
        "target_info{instance=\"i1\",job=\"j\",version=\"1\"}".to_string(),
        values(r, false),
    ));
    s.push((
        "target_info{instance=\"i2\",job=\"j\",version=\"2\",zone=\"z\"}".to_string(),
        values(r, false),
    ));
    s.push((
        "build_info{instance=\"i1\",job=\"j\",rev=\"abc\"}".to_string(),
        values(r, false),
    ));
    let les = ["0.1", "0.5", "1", "5", "+Inf"];
    for inst in ["p", "q"] {
        let base: Vec<u64> = les.iter().map(|_| r.below(4) as u64).collect();
        let mut rows: Vec<Vec<u64>> = Vec::new();
        for i in 0..40u64 {
            let mut acc = 0;
            let mut row = Vec::new();
            for (k, b) in base.iter().enumerate() {
                acc += b;
                row.push(acc * (i + 1) + r.below(3) as u64 * k as u64);
            }
            rows.push(row);
        }
        for (k, le) in les.iter().enumerate() {
            let v: Vec<String> = rows.iter().map(|row| row[k].to_string()).collect();
            s.push((
                format!("h_bucket{{inst=\"{inst}\",le=\"{le}\"}}"),
                v.join(" "),
            ));
        }
    }
    s
}

/// A native histogram series: counters with occasional resets, or gauges.
fn histogram_values(r: &mut Rng, schema: i32, gauge: bool) -> String {
    let n = if schema == -53 { 3 } else { 4 };
    let mut buckets: Vec<u64> = (0..n).map(|_| r.below(3) as u64).collect();
    let mut zero = r.below(2) as u64;
    let mut sum = 0.0;
    let mut out = Vec::new();
    for _ in 0..40 {
        if r.chance(0.06) {
            out.push("_".to_string());
            continue;
        }
        if gauge || r.chance(0.07) {
            buckets = (0..n).map(|_| r.below(4) as u64).collect();
            zero = r.below(2) as u64;
            sum = 0.0;
        } else {
            for b in buckets.iter_mut() {
                *b += r.below(4) as u64;
            }
            zero += r.below(2) as u64;
        }
        sum += r.below(100) as f64 / 10.0;
        let count: u64 = buckets.iter().sum::<u64>() + if schema == -53 { 0 } else { zero };
        let list: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
        let mut h = format!(
            "{{{{schema:{schema} sum:{sum:.1} count:{count} buckets:[{}]",
            list.join(" ")
        );
        if schema == -53 {
            h.push_str(" custom_values:[1 5]");
        } else {
            h.push_str(&format!(" z_bucket:{zero} z_bucket_w:0.001"));
        }
        if gauge {
            h.push_str(" counter_reset_hint:gauge");
        }
        h.push_str("}}");
        out.push(h);
    }
    out.join(" ")
}

const SELECTORS: &[&str] = &[
    "m",
    "m{a=\"1\"}",
    "m{b=\"y\"}",
    "c_total",
    "c_total{a=~\"1|2\"}",
    "n",
    "m{a!=\"2\"}",
];
const RANGE_FUNCS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "deriv",
    "changes",
    "resets",
    "avg_over_time",
    "sum_over_time",
    "min_over_time",
    "max_over_time",
    "count_over_time",
    "last_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "present_over_time",
    "absent_over_time",
    "mad_over_time",
    "ts_of_max_over_time",
    "ts_of_last_over_time",
];

fn selector(r: &mut Rng) -> String {
    let mut s = r.pick(SELECTORS).to_string();
    if r.chance(0.15) {
        write!(s, " offset {}", r.pick(&["1m", "-2m", "90s", "5m"])).unwrap();
    } else if r.chance(0.1) {
        write!(s, " @ {}", r.pick(&["300", "start()", "end()", "600.5"])).unwrap();
    }
    s
}

fn range(r: &mut Rng) -> &'static str {
    r.pick(&["1m", "2m", "3m30s", "5m", "10m", "45s"])
}

fn range_vector(r: &mut Rng) -> String {
    if r.chance(0.25) {
        let inner = match r.below(3) {
            0 => selector(r),
            1 => format!("rate({}[{}])", r.pick(&["c_total", "m"]), range(r)),
            _ => format!("sum by (a) ({})", selector(r)),
        };
        let mut s = format!(
            "({inner})[{}:{}]",
            range(r),
            r.pick(&["", "1m", "45s", "20s"])
        );
        if r.chance(0.2) {
            write!(s, " offset {}", r.pick(&["1m", "-30s"])).unwrap();
        }
        return s;
    }
    let mut s = format!("{}[{}]", r.pick(SELECTORS), range(r));
    if r.chance(0.15) {
        write!(s, " offset {}", r.pick(&["1m", "-2m", "90s"])).unwrap();
    } else if r.chance(0.08) {
        write!(s, " @ {}", r.pick(&["300", "end()"])).unwrap();
    }
    s
}

fn histogram_query(r: &mut Rng) -> String {
    let sel = r.pick(&["hh", "hh{a=\"1\"}", "hh{a!=\"3\"}", "hg", "hh{a=\"3\"}"]);
    let rng = range(r);
    let inner = match r.below(8) {
        0 | 1 => sel.to_string(),
        2 => format!(
            "{}({sel}[{rng}])",
            r.pick(&["rate", "increase", "delta", "irate", "idelta"])
        ),
        3 => format!(
            "{}({sel}[{rng}])",
            r.pick(&[
                "sum_over_time",
                "avg_over_time",
                "last_over_time",
                "count_over_time",
                "resets",
                "changes"
            ])
        ),
        4 => format!("{}({sel})", r.pick(&["sum", "avg", "count"])),
        5 => format!(
            "{sel} {} {}",
            r.pick(&["*", "/"]),
            r.pick(&["2", "0.5", "0"])
        ),
        6 => format!(
            "rate({sel}[{rng}]) {} ignoring(a) rate(hh{{a=\"1\"}}[{rng}])",
            r.pick(&["+", "-"])
        ),
        _ => format!("sum by (a) (rate({sel}[{rng}]))"),
    };
    match r.below(4) {
        0 => format!(
            "{}({inner})",
            r.pick(&[
                "histogram_count",
                "histogram_sum",
                "histogram_avg",
                "histogram_stddev",
                "histogram_stdvar"
            ])
        ),
        1 => format!(
            "histogram_quantile({}, {inner})",
            r.pick(&["0.1", "0.5", "0.9", "1"])
        ),
        2 => format!(
            "histogram_fraction({}, {}, {inner})",
            r.pick(&["0", "-1", "0.5"]),
            r.pick(&["1", "3", "+Inf"])
        ),
        _ => inner,
    }
}

fn info_query(r: &mut Rng) -> String {
    let base = r.pick(&[
        "up",
        "up{instance=\"i1\"}",
        "rate(up[5m])",
        "sum by (instance, job) (up)",
        "target_info",
    ]);
    match r.below(5) {
        0 => format!("info({base})"),
        1 => format!("info({base}, {{version=~\".+\"}})"),
        2 => format!("info({base}, {{__name__=\"build_info\"}})"),
        3 => format!("info({base}, {{__name__=~\".+_info\", zone=\"z\"}})"),
        _ => format!("info({base}, {{version=\"1\"}}) * 2"),
    }
}

/// Set by the range test: no native histograms (OpenMetrics input carries floats only) and no
/// `info()`.
static FLOATS_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn vector(r: &mut Rng, depth: usize) -> String {
    let floats_only = FLOATS_ONLY.load(std::sync::atomic::Ordering::Relaxed);
    if depth == 0 && !floats_only && r.chance(0.15) {
        return histogram_query(r);
    }
    // Prometheus 3.5.3's info() mixes up data labels between series in range queries, so it
    // is compared in instant queries only.
    if depth == 0 && !floats_only && r.chance(0.08) {
        return info_query(r);
    }
    let x = r.below(100);
    if depth > 2 || x < 20 {
        return selector(r);
    }
    if x < 45 {
        return match r.below(24) {
            0 => format!(
                "quantile_over_time({}, {})",
                r.pick(&["0.5", "0.9", "0"]),
                range_vector(r)
            ),
            1 => format!(
                "predict_linear({}, {})",
                range_vector(r),
                r.pick(&["60", "300"])
            ),
            2 => format!(
                "double_exponential_smoothing({}, 0.5, 0.3)",
                range_vector(r)
            ),
            _ => format!("{}({})", r.pick(RANGE_FUNCS), range_vector(r)),
        };
    }
    if x < 62 {
        let op = r.pick(&[
            "sum",
            "avg",
            "min",
            "max",
            "count",
            "stddev",
            "stdvar",
            "group",
            "topk",
            "quantile",
            "count_values",
            "limitk",
        ]);
        let m = r.pick(&["", " by (a)", " without (b)", " by (b)", " without (a, b)"]);
        let inner = vector(r, depth + 1);
        return match op {
            // Which of several equal series topk/limitk keep is not deterministic in
            // Prometheus, so only their number is compared.
            "topk" | "limitk" => format!("count({op}({}, {inner}))", r.pick(&["1", "2"])),
            "quantile" => format!("quantile{m}({}, {inner})", r.pick(&["0.25", "0.5", "1"])),
            "count_values" => format!("count_values{m}(\"v\", {inner})"),
            _ => format!("{op}{m}({inner})"),
        };
    }
    if x < 82 {
        let (a, b) = (vector(r, depth + 1), vector(r, depth + 1));
        let op = r.pick(&[
            "+", "-", "*", "/", "%", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless",
            "atan2",
        ]);
        let set = matches!(op, "and" | "or" | "unless");
        let cmp = matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=");
        let bool_ = if cmp && r.chance(0.5) { " bool" } else { "" };
        if !set && r.chance(0.3) {
            return format!("{a} {op}{bool_} {}", r.pick(&["2", "0.5", "-1", "10"]));
        }
        let m = if set {
            r.pick(&["", "", " on (a)", " ignoring (b)", " on(a,b)"])
        } else {
            r.pick(&[
                "",
                "",
                " on (a)",
                " ignoring (b)",
                " on (a) group_left",
                " ignoring (a) group_right",
                " on(a,b)",
            ])
        };
        return format!("{a} {op}{bool_}{m} {b}");
    }
    if r.chance(0.1) {
        return match r.below(4) {
            0 => format!("-{}", vector(r, depth + 1)),
            1 => format!(
                "({}) {} {}",
                vector(r, depth + 1),
                r.pick(&["*", "+"]),
                r.pick(&["(2 ^ 3)", "-1", "(5 % 3)", "(1 > bool 2)"])
            ),
            2 => format!(
                "{}(({})[{}:{}])",
                r.pick(&["max_over_time", "rate", "sum_over_time", "last_over_time"]),
                format_args!(
                    "{}(m[{}])",
                    r.pick(&["max_over_time", "avg_over_time"]),
                    range(r)
                ),
                range(r),
                r.pick(&["", "30s"])
            ),
            _ => format!("sort_desc({})", vector(r, depth + 1)),
        };
    }
    let inner = vector(r, depth + 1);
    match r.below(22) {
        0 => format!("clamp({inner}, -5, 10)"),
        1 => format!("clamp_min({inner}, 3)"),
        2 => format!("round({inner}, {})", r.pick(&["1", "0.5", "3"])),
        3 => format!("label_replace({inner}, \"z\", \"$1-x\", \"a\", \"(.*)\")"),
        4 => format!(
            "histogram_quantile({}, {})",
            r.pick(&["0.5", "0.9", "0.99"]),
            r.pick(&["h_bucket", "rate(h_bucket[5m])", "sum by (le) (h_bucket)"])
        ),
        5 => format!(
            "histogram_fraction({}, {}, {})",
            r.pick(&["0", "0.2", "-1"]),
            r.pick(&["0.5", "1", "+Inf"]),
            r.pick(&["h_bucket", "rate(h_bucket[5m])"])
        ),
        6 => format!("vector(scalar({inner}))"),
        7 => "vector(time())".to_string(),
        8 => format!("label_join({inner}, \"j\", \"-\", \"a\", \"b\")"),
        9 => format!("limit_ratio({}, {inner})", r.pick(&["0.5", "-0.5", "0.3"])),
        10 => format!("timestamp({inner})"),
        11 => format!("absent({inner})"),
        f => format!(
            "{}({inner})",
            [
                "abs",
                "ceil",
                "floor",
                "sqrt",
                "log2",
                "ln",
                "sgn",
                "minute",
                "hour",
                "day_of_week"
            ][f - 12]
        ),
    }
}

fn promtool() -> PathBuf {
    peer_binary("promtool")
}

/// A sample value: a float or a native histogram.
#[derive(Debug, Clone)]
enum Val {
    F(f64),
    H(FloatHistogram),
}

/// promtool's outcome for one query: an error, or the samples it returned.
#[derive(Debug)]
enum Outcome {
    Error(String),
    Samples(Vec<(Labels, Val)>),
}

/// Runs all queries through promtool; queries promtool reports nothing for returned nothing.
fn run_promtool(
    dir: &Path,
    data: &[(String, String)],
    queries: &[(String, i64)],
) -> BTreeMap<String, Outcome> {
    let mut y = String::from(
        "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (s, v) in data {
        writeln!(y, "      - series: '{s}'\n        values: '{v}'").unwrap();
    }
    y.push_str("    promql_expr_test:\n");
    for (q, t) in queries {
        writeln!(
            y,
            "      - expr: '{q}'\n        eval_time: {t}s\n        exp_samples: []"
        )
        .unwrap();
    }
    let file = dir.join("diff.yml");
    std::fs::write(&file, y).unwrap();
    let out = Command::new(promtool())
        .args([
            "test",
            "rules",
            "--enable-feature=promql-experimental-functions,promql-delayed-name-removal",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let mut res = BTreeMap::new();
    let re = regex::Regex::new(r"(\{[^{}]*\}) (\{\{[^}]*\}\}|[^ ,]+)").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim();
        let Some(rest) = l.strip_prefix("expr: \"") else {
            continue;
        };
        let Some(end) = rest.find("\", time: ") else {
            continue;
        };
        let expr = rest[..end].replace("\\\"", "\"").replace("\\\\", "\\");
        let after = &rest[end..];
        if let Some(p) = after.find(", err: ") {
            res.insert(expr, Outcome::Error(after[p + 7..].to_string()));
            continue;
        }
        let got = lines.get(i + 2).map(|g| g.trim()).unwrap_or("");
        let Some(got) = got.strip_prefix("got: ") else {
            continue;
        };
        let mut samples = Vec::new();
        if got != "nil" {
            for c in re.captures_iter(got) {
                let lp = &c[1];
                let labels =
                    parse_labels(lp).unwrap_or_else(|e| panic!("promtool labels {lp:?}: {e}"));
                let v = if c[2].starts_with("{{") {
                    Val::H(
                        parse_histogram(&c[2])
                            .unwrap_or_else(|e| panic!("promtool histogram {}: {e}", &c[2]))
                            .0,
                    )
                } else {
                    Val::F(parse_float(&c[2]).unwrap_or(f64::NAN))
                };
                samples.push((labels, v));
            }
        }
        res.insert(expr, Outcome::Samples(samples));
    }
    res
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    a == b || ((a - b).abs() / a.abs().max(b.abs())) < 1e-6
}

/// Rounds the `count_values` label to 12 significant digits: Go's and Rust's libm differ in
/// the last bit of some transcendental functions, which that label spells out in full.
fn normalize(l: &Labels) -> Labels {
    let mut l = l.clone();
    if let Some(v) = l.get("v").and_then(parse_float) {
        l.set("v", &format!("{v:.11e}"));
    }
    l
}

/// Compares sample values; histograms structurally in canonical form, hints ignored.
fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::F(x), Val::F(y)) => close(*x, *y),
        (Val::H(x), Val::H(y)) => {
            let (x, y) = (x.compacted(), y.compacted());
            let floats_close = |p: &[f64], q: &[f64]| {
                p.len() == q.len() && p.iter().zip(q).all(|(u, v)| close(*u, *v))
            };
            x.schema == y.schema
                && close(x.count, y.count)
                && close(x.sum, y.sum)
                // promtool does not print the zero bucket of custom-bucket histograms.
                && (x.uses_custom_buckets() || close(x.zero_count, y.zero_count))
                && (x.zero_count == 0.0 || x.zero_threshold == y.zero_threshold)
                && x.positive_spans == y.positive_spans
                && x.negative_spans == y.negative_spans
                && floats_close(&x.positive_buckets, &y.positive_buckets)
                && floats_close(&x.negative_buckets, &y.negative_buckets)
                && (!x.uses_custom_buckets() || x.custom_values == y.custom_values)
        }
        _ => false,
    }
}

fn run_seed(seed: u64, n: usize) -> Vec<String> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let data = series(&mut r);
    let mut queries: Vec<(String, i64)> = Vec::new();
    while queries.len() < n {
        let q = vector(&mut r, 0);
        if !queries.iter().any(|(x, _)| x == &q) {
            let t = [0, 60, 300, 600, 900, 1200, 1500, 2340][r.below(8)];
            queries.push((q, t));
        }
    }
    let dir =
        std::env::temp_dir().join(format!("strata-promql-diff-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reference = run_promtool(&dir, &data, &queries);
    let _ = std::fs::remove_dir_all(&dir);

    let mut store = MemStore::new();
    for (s, v) in &data {
        let labels = parse_labels(s).unwrap();
        for (i, sv) in parse_values(v).unwrap().into_iter().enumerate() {
            let v = match sv {
                SeqValue::Float(f) => PointValue::Float(f),
                SeqValue::Histogram(h, _) => PointValue::Histogram(h),
                SeqValue::Omitted => continue,
            };
            store.append(
                labels.clone(),
                Point {
                    t: i as i64 * 60_000,
                    v,
                },
            );
        }
    }
    let engine = Engine::new(test_engine_config());
    let mut mismatches = Vec::new();
    for (q, t) in &queries {
        let ours = engine.instant_query(&store, q, t * 1000, &QueryOpts::default());
        let expected = reference.get(q);
        let problem = match (ours, expected) {
            (Err(_), Some(Outcome::Error(_))) => None,
            (Err(e), _) => Some(format!("we fail ({e}), Prometheus does not")),
            (Ok(_), Some(Outcome::Error(e))) => Some(format!("Prometheus fails ({e}), we do not")),
            (Ok(res), exp) => {
                let got: Vec<(Labels, Val)> = match res.value {
                    Value::Vector(v) => v
                        .into_iter()
                        .map(|s| match s.h {
                            Some(h) => (s.labels, Val::H((*h).clone())),
                            None => (s.labels, Val::F(s.f)),
                        })
                        .collect(),
                    Value::Scalar { v, .. } => vec![(Labels::empty(), Val::F(v))],
                    other => return vec![format!("{q}: unexpected value {other:?}")],
                };
                let want: Vec<(Labels, Val)> = match exp {
                    Some(Outcome::Samples(s)) => s.clone(),
                    _ => Vec::new(),
                };
                let mut diff = None;
                if got.len() != want.len() {
                    diff = Some(format!(
                        "{} series vs Prometheus' {}: {got:?} vs {want:?}",
                        got.len(),
                        want.len()
                    ));
                }
                for (l, v) in &want {
                    let exact = got.iter().find(|(gl, _)| gl == l);
                    match exact.or_else(|| got.iter().find(|(gl, _)| normalize(gl) == normalize(l)))
                    {
                        Some((_, gv)) if same(gv, v) => {}
                        Some((_, gv)) => diff = Some(format!("{l}: {gv:?} vs Prometheus' {v:?}")),
                        None => diff = Some(format!("missing {l} {v:?}; got {got:?}")),
                    }
                }
                diff
            }
        };
        if let Some(p) = problem {
            mismatches.push(format!("seed {seed}, t={t}s: {q}: {p}"));
        }
    }
    mismatches
}

#[test]
fn agrees_with_prometheus_on_random_queries() {
    let seeds: Vec<u64> = std::env::var("STRATA_DIFF_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let n: usize = std::env::var("STRATA_DIFF_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(250);
    let mut all = Vec::new();
    for s in &seeds {
        all.extend(run_seed(*s, n));
    }
    for m in &all {
        eprintln!("MISMATCH {m}");
    }
    assert!(
        all.is_empty(),
        "{} of {} queries disagree with Prometheus",
        all.len(),
        seeds.len() * n
    );
}

/// Writes the float series as OpenMetrics (one sample per minute, gaps and staleness markers
/// left out), builds blocks with promtool and starts Prometheus on them.
fn start_data_prometheus(data: &[(String, String)], tag: &str) -> PrometheusServer {
    let dir = work_dir("promql-prom", tag);
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    for (s, v) in data {
        let name = s.split('{').next().unwrap_or("").to_string();
        let fam = families.entry(name).or_default();
        for (i, tok) in v.split_whitespace().enumerate() {
            if let Some(f) = parse_float(tok) {
                writeln!(fam, "{s} {f} {}", i * 60).unwrap();
            }
        }
    }
    let mut om = String::new();
    for (name, body) in &families {
        writeln!(om, "# TYPE {name} unknown").unwrap();
        om.push_str(body);
    }
    om.push_str("# EOF\n");
    build_blocks(&dir, &om);
    start_prometheus(
        dir,
        &[
            "--storage.tsdb.retention.time=100y",
            "--enable-feature=promql-experimental-functions,promql-delayed-name-removal,promql-per-step-stats",
        ],
    )
}

/// One series of a range result: labels and `(t ms, value)` points.
type RangeResult = (Labels, Vec<(i64, f64)>);

/// Prometheus' range result, or its error.
fn prometheus_range(
    server: &PrometheusServer,
    q: &str,
    step_s: i64,
) -> Result<Vec<RangeResult>, String> {
    let path = format!(
        "/api/v1/query_range?query={}&start=0&end=2340&step={step_s}",
        percent_encode(q)
    );
    let (_, body) = http_get(&server.addr, &path).ok_or("no response")?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if v["status"] != "success" {
        return Err(v["error"].as_str().unwrap_or("error").to_string());
    }
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().cloned().unwrap_or_default() {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, val) in s["metric"].as_object().cloned().unwrap_or_default() {
            pairs.push((k, val.as_str().unwrap_or("").to_string()));
        }
        let labels = Labels::from_pairs(pairs).unwrap();
        let mut pts = Vec::new();
        for p in s["values"].as_array().cloned().unwrap_or_default() {
            let t = (p[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            pts.push((
                t,
                parse_float(p[1].as_str().unwrap_or("NaN")).unwrap_or(f64::NAN),
            ));
        }
        out.push((labels, pts));
    }
    Ok(out)
}

#[test]
fn agrees_with_a_prometheus_server_on_random_range_queries() {
    FLOATS_ONLY.store(true, std::sync::atomic::Ordering::Relaxed);
    let seeds: Vec<u64> = std::env::var("STRATA_DIFF_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1]);
    let n: usize = std::env::var("STRATA_DIFF_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut mismatches = Vec::new();
    for seed in &seeds {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // Float series only, staleness markers dropped (OpenMetrics cannot carry them).
        let data: Vec<(String, String)> = series(&mut r)
            .into_iter()
            .filter(|(_, v)| !v.contains("{{"))
            .map(|(s, v)| (s, v.replace("stale", "_")))
            .collect();
        let server = start_data_prometheus(&data, &seed.to_string());
        let mut store = MemStore::new();
        for (s, v) in &data {
            let labels = parse_labels(s).unwrap();
            for (i, sv) in parse_values(v).unwrap().into_iter().enumerate() {
                if let SeqValue::Float(f) = sv {
                    store.append(
                        labels.clone(),
                        Point {
                            t: i as i64 * 60_000,
                            v: PointValue::Float(f),
                        },
                    );
                }
            }
        }
        let engine = Engine::new(test_engine_config());
        let mut non_empty = 0;
        for _ in 0..n {
            let q = vector(&mut r, 0);
            let step_s = [60, 97, 300][r.below(3)];
            let theirs = prometheus_range(&server, &q, step_s);
            if theirs.as_ref().is_ok_and(|m| !m.is_empty()) {
                non_empty += 1;
            }
            let ours = engine.range_query(
                &store,
                &q,
                0,
                2_340_000,
                step_s * 1000,
                &QueryOpts::default(),
            );
            let problem = match (ours, theirs) {
                (Err(_), Err(_)) => None,
                (Err(e), Ok(_)) => Some(format!("we fail ({e}), Prometheus does not")),
                (Ok(_), Err(e)) => Some(format!("Prometheus fails ({e}), we do not")),
                (Ok(res), Ok(want)) => {
                    let Value::Matrix(got) = res.value else {
                        unreachable!("range queries return matrices")
                    };
                    let mut diff = None;
                    if got.len() != want.len() {
                        diff = Some(format!(
                            "{} series vs Prometheus' {}",
                            got.len(),
                            want.len()
                        ));
                    }
                    for (l, pts) in &want {
                        let exact = got.iter().find(|g| &g.labels == l);
                        match exact
                            .or_else(|| got.iter().find(|g| normalize(&g.labels) == normalize(l)))
                        {
                            None => diff = Some(format!("missing {l}")),
                            Some(g) => {
                                let same_points = g.floats.len() == pts.len()
                                    && g.floats
                                        .iter()
                                        .zip(pts)
                                        .all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
                                if !same_points {
                                    diff =
                                        Some(format!("{l}: {:?} vs Prometheus' {pts:?}", g.floats));
                                }
                            }
                        }
                    }
                    diff
                }
            };
            if let Some(p) = problem {
                mismatches.push(format!("seed {seed}, step {step_s}s: {q}: {p}"));
            }
        }
        // Guard against a vacuous pass (e.g. a server that answers nothing).
        assert!(
            non_empty * 3 > n,
            "only {non_empty} of {n} range queries returned data"
        );
    }
    for m in &mismatches {
        eprintln!("MISMATCH {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} range queries disagree with Prometheus",
        mismatches.len()
    );
}

/// Prometheus' `data.stats.samples` for a query path: total, peak and per-step reads.
type SampleStats = (i64, i64, Vec<(i64, i64)>);

fn prometheus_stats(server: &PrometheusServer, path: &str) -> Result<SampleStats, String> {
    let (_, body) = http_get(&server.addr, path).ok_or("no response")?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    if v["status"] != "success" {
        return Err(v["error"].as_str().unwrap_or("error").to_string());
    }
    let s = &v["data"]["stats"]["samples"];
    let per_step = s["totalQueryableSamplesPerStep"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            (
                (p[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64,
                p[1].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    Ok((
        s["totalQueryableSamples"].as_i64().unwrap_or(-1),
        s["peakSamples"].as_i64().unwrap_or(-1),
        per_step,
    ))
}

/// The engine's sample statistics (`totalQueryableSamples`, `peakSamples` and the per-step
/// reads) equal those of a Prometheus 3.5 server asked with `stats=all`, for instant and range
/// queries of the main node types: selectors, range functions, subqueries, aggregations,
/// binary operators with literals, functions of instant vectors.
#[test]
fn sample_stats_match_a_prometheus_server() {
    // 40 points a minute apart (0s..2340s); `_` is a missing point.
    let ramp = |k: f64, gap: std::ops::Range<usize>| -> String {
        (0..40)
            .map(|i| {
                if gap.contains(&i) {
                    "_".to_string()
                } else {
                    format!("{}", k * i as f64)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let data: Vec<(String, String)> = vec![
        (r#"req_total{job="api",i="1"}"#.into(), ramp(1.0, 0..0)),
        (r#"req_total{job="api",i="2"}"#.into(), ramp(2.0, 10..16)),
        (r#"req_total{job="db",i="1"}"#.into(), ramp(3.0, 30..40)),
        (r#"temp{job="api"}"#.into(), ramp(0.5, 5..25)),
        (r#"temp{job="db"}"#.into(), ramp(1.5, 0..3)),
    ];
    let server = start_data_prometheus(&data, "stats");
    let mut store = MemStore::new();
    for (s, v) in &data {
        let labels = parse_labels(s).unwrap();
        for (i, tok) in v.split_whitespace().enumerate() {
            if let Some(f) = parse_float(tok) {
                store.append(
                    labels.clone(),
                    Point {
                        t: i as i64 * 60_000,
                        v: PointValue::Float(f),
                    },
                );
            }
        }
    }
    let engine = Engine::new(test_engine_config());
    let instant_only = [
        "req_total[5m]",
        "rate(req_total[5m])[10m:1m]",
        "temp[10m] offset 3m",
    ];
    let queries = [
        "req_total",
        "temp offset 2m",
        "rate(req_total[5m])",
        "sum by (job) (rate(req_total[5m]))",
        "max_over_time(req_total[3m])",
        "quantile_over_time(0.5, temp[10m])",
        "max_over_time(rate(req_total[2m])[10m:1m])",
        "avg_over_time(temp[5m:2m])",
        "topk(2, req_total)",
        "count_values(\"v\", temp)",
        "req_total * 2",
        "req_total / on(job) group_left temp",
        "abs(temp - 10)",
        "histogram_quantile(0.9, temp)",
        "timestamp(temp)",
        "time()",
        "1 + 2",
        "label_replace(temp, \"x\", \"$1\", \"job\", \"(.*)\")",
        "absent_over_time(nope[5m])",
        "sum(req_total) by (job) > 10",
    ];
    let mut problems = Vec::new();
    let mut check =
        |q: &str, path: String, ours: strata_promql::Result<strata_promql::QueryResult>| {
            let theirs = prometheus_stats(&server, &path);
            match (ours, theirs) {
                (Ok(r), Ok(want)) => {
                    let got = (
                        r.stats.total_queryable_samples,
                        r.stats.peak_samples,
                        r.stats.total_queryable_samples_per_step.clone(),
                    );
                    if got != want {
                        problems.push(format!(
                            "{path}: ours (total, peak, per step) {got:?}, Prometheus {want:?}"
                        ));
                    }
                }
                (Err(_), Err(_)) => {}
                (a, b) => problems.push(format!("{q}: ours {:?}, Prometheus {b:?}", a.err())),
            }
        };
    for q in instant_only.iter().chain(queries.iter()) {
        for t in [1200, 2340] {
            let path = format!(
                "/api/v1/query?query={}&time={t}&stats=all",
                percent_encode(q)
            );
            check(
                q,
                path,
                engine.instant_query(&store, q, t * 1000, &QueryOpts::default()),
            );
        }
    }
    for q in &queries {
        for step in [60, 97, 300] {
            let path = format!(
                "/api/v1/query_range?query={}&start=0&end=2340&step={step}&stats=all",
                percent_encode(q)
            );
            let ours =
                engine.range_query(&store, q, 0, 2_340_000, step * 1000, &QueryOpts::default());
            check(q, path, ours);
        }
    }
    for p in &problems {
        eprintln!("STATS MISMATCH {p}");
    }
    assert!(
        problems.is_empty(),
        "{} queries' sample statistics disagree with Prometheus",
        problems.len()
    );
}
