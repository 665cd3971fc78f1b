//! Parse errors against Prometheus 3.5 itself: every query of the corpus below is sent to a
//! real `prometheus` server's `/api/v1/parse_query` (and every series selector to
//! `/api/v1/series`), and Strata's parser must accept what Prometheus accepts and reject the
//! rest with exactly Prometheus' error text (`line:col: parse error: …`).
//!
//! Two servers run: one with the feature flags Strata's parser enables by default
//! (`promql-experimental-functions`, `promql-duration-expr`), compared with
//! `strata_promql::parse`, and one without, compared with `parse_with_options` with both
//! features off. The binary comes from `scripts/fetch-peers` (`~/.cache/strata-peers/bin`, or
//! `$STRATA_PEERS_DIR/bin`); it is fetched when missing, never skipped.

#![allow(clippy::unwrap_used)]

mod support;

use strata_promql::parse::{ParseOptions, parse, parse_metric_selector, parse_with_options};
use support::{PrometheusServer, http_get, percent_encode, spawn_prometheus, wait_ready, work_dir};

const QUERIES: &[&str] = &[
    r#"999999999999999999995m"#,
    r#"up[5m-5m]="#,
    r#"up[5m/(1-1)(]"#,
    r#"x[18446744073709551615ms]"#,
    r#"up[5m-5m]"#,
    r#"up[5m/(1-1)]"#,
    r#"up offset (5m/(1m-1m))"#,
    r#"up[1m:(1m-2m)]"#,
    r#"up[5m%5m]"#,
    r#"up offset --5m * 2"#,
    r#"up offset+ (1m) + 1"#,
    r#"up[1-5m]"#,
    r#"up[5m*-2]"#,
    r#"011e0 + 0e1"#,
    r#"0x_1"#,
    r#"010 + 1_0"#,
    r#"x[0_10s]"#,
    r#"up offset 10000-00000s"#,
    r#"0s + 5m"#,
    r#"x * 1h30m"#,
    r#"x offset- -1m"#,
    r#"vector offset(0x1f)"#,
    r#"x offset(1m)"#,
    r#"x[(1m)]"#,
    r#"x offset --1m"#,
    r#"x offset +-1m"#,
    r#"x[--5m]"#,
    r#"x[(5m):(((1m)))]"#,
    r#"x offset -(1m)"#,
    r#"rate(x[+5m])"#,
    r#"x @ start()[5m]"#,
    r#"rate(x @ end()[5m])"#,
    r#"x @ start()[5m] @ 10"#,
    r#"x @ 10 @ start()"#,
    r#"0._9"#,
    r#"3_ + 1"#,
    r#"0x1f_"#,
    r#"vector offset (0x1f)"#,
    r#"x@ start()[5m+1m] @ end()"#,
    r#"x[5m] @ start() @ end()"#,
    r#"sum(x) by (a) @ 10"#,
    r#"sum(rate(up[5m])"#,
    r#"up{job~"a"}"#,
    r#"up{job=="a"}"#,
    r#"foo{a=~"("}"#,
    r#"rate(up)"#,
    r#"1 + "a""#,
    r#"up[5m] offset"#,
    r#"sum(up)("#,
    r#"("#,
    r#")"#,
    r#"up)"#,
    r#"up]"#,
    r#"up["#,
    r#"up[5m"#,
    r#"up[5m:"#,
    r#"up[5m:1m"#,
    r#"up[:5m]"#,
    r#"up[5m::1m]"#,
    r#"up[5m]]"#,
    r#"up{"#,
    r#"up{a"#,
    r#"up{a="#,
    r#"up{a="b""#,
    r#"up{a="b","#,
    r#"up{a="b" c="d"}"#,
    r#"up{a="b"}}"#,
    r#"up{{"#,
    r#"{}"#,
    r#"{a=""}"#,
    r#"{a=~".*"}"#,
    r#"{a!~".+"}"#,
    r#"{a!=""}"#,
    r#"{__name__="up"}"#,
    r#"up{__name__="x"}"#,
    r#"foo{"bar"}"#,
    r#"{"up", a="b"}"#,
    r#"{"up", "x"}"#,
    r#"up @"#,
    r#"up @ foo"#,
    r#"up @ start"#,
    r#"up @ start()"#,
    r#"up @ end()"#,
    r#"up @ start(1)"#,
    r#"up @ start("#,
    r#"up @ 100 @ 200"#,
    r#"up offset 5m offset 1m"#,
    r#"up offset 0s offset 1m"#,
    r#"up offset 5m[5m]"#,
    r#"up @ 100[5m]"#,
    r#"(up)[5m]"#,
    r#"sum(up)[5m]"#,
    r#"rate(up[5m])[5m]"#,
    r#"rate(up[5m])[5m:1m]"#,
    r#"up[5m][5m]"#,
    r#"up[5m][5m:1m]"#,
    r#""a"[5m:1m]"#,
    r#"1[5m:1m]"#,
    r#"up[0m]"#,
    r#"up[0]"#,
    r#"up[-5m]"#,
    r#"up[5m:0s]"#,
    r#"up offset -5m"#,
    r#"up offset 1x"#,
    r#"sum by (a) up"#,
    r#"sum by up"#,
    r#"sum by (a"#,
    r#"sum by (a,"#,
    r#"sum by (a b)"#,
    r#"sum by ("a") (up)"#,
    r#"sum by ("") (up)"#,
    r#"sum by (a:b) (up)"#,
    r#"sum by (1) (up)"#,
    r#"sum by (a, 1) (up)"#,
    r#"sum by (a,) (up)"#,
    r#"sum by () (up)"#,
    r#"sum by (a) ()"#,
    r#"sum()"#,
    r#"sum(up, up)"#,
    r#"topk(up)"#,
    r#"topk(1, up, up)"#,
    r#"count_values(1, up)"#,
    r#"quantile("a", up)"#,
    r#"topk("a", up)"#,
    r#"sum(up) by (a) by (b)"#,
    r#"sum without (a) (up)"#,
    r#"sum (up) without (a) (up)"#,
    r#"sum up"#,
    r#"sum(up) by"#,
    r#"sum(up up)"#,
    r#"sum((up up))"#,
    r#"abs(up up)"#,
    r#"(up up)"#,
    r#"abs(up,)"#,
    r#"abs(,up)"#,
    r#"abs(up,,)"#,
    r#"sum(up,)"#,
    r#"foo(up)"#,
    r#"Rate(x[5m])"#,
    r#"abs()"#,
    r#"abs(up, up)"#,
    r#"label_replace(up)"#,
    r#"round(up, 1, 2)"#,
    r#"vector("a")"#,
    r#"time(1)"#,
    r#"abs(up[5m])"#,
    r#"pi()"#,
    r#"pi"#,
    r#"label_join(up, "a")"#,
    r#"label_join(up, "a", "b", "c", "d", "e")"#,
    r#"histogram_quantile("a", up)"#,
    r#"histogram_quantile(0.9)"#,
    r#"scalar(up[5m])"#,
    r#"absent_over_time(up)"#,
    r#"predict_linear(up[5m])"#,
    r#"clamp(up, 1)"#,
    r#"day_of_month(up, up)"#,
    r#"quantile(0.5, up[5m])"#,
    r#"count_values("a", "b")"#,
    r#"sort_by_label(up)"#,
    r#"info(up, up)"#,
    r#"info(up, {a="b"})"#,
    r#"info(up, up{a="b"})"#,
    r#"info(up, {})"#,
    r#"info(up, "a")"#,
    r#"up + up[5m]"#,
    r#"up[5m] + 1"#,
    r#"up and 1"#,
    r#"1 and up"#,
    r#"1 == 1"#,
    r#"1 == bool 1"#,
    r#"1 < bool 2"#,
    r#"up == bool up"#,
    r#"up + bool up"#,
    r#"up and bool up"#,
    r#"up + on(a) group_left(a) up"#,
    r#"up + ignoring(a) group_left(a) up"#,
    r#"up and on(a) group_left up"#,
    r#"up + on(a) group_left(b) on(c) up"#,
    r#"up + on(a) group_left on"#,
    r#"up + on(a)"#,
    r#"up + on"#,
    r#"up + on(a) ignoring(b) up"#,
    r#"up + on(a) bool up"#,
    r#"1 + on(a) up"#,
    r#"1 + on() up"#,
    r#"up == on() up"#,
    r#"up or on(a) up"#,
    r#"up * on(a) group_right(b, c) up"#,
    r#""a""#,
    r#""a" + 1"#,
    r#"-"a""#,
    r#"- -"a""#,
    r#"-up[5m]"#,
    r#"!up"#,
    r#"up !~ "a""#,
    r#"up =~ "a""#,
    r#"up = 1"#,
    r#"up == 1 == 1"#,
    r#"up =="#,
    r#"* up"#,
    r#"up * * up"#,
    r#"1 +"#,
    r#"1 2"#,
    r#""a" "b""#,
    r#"foo bar"#,
    r#"'a'"#,
    r#"`abc`"#,
    r#""abc"#,
    r#"'abc"#,
    r#"`abc"#,
    r#""a\qb""#,
    r#""\x1""#,
    r#""\u12""#,
    r#""\xff""#,
    r#""\400""#,
    r#""\ud800""#,
    r#""a\"#,
    r#"1.2.3"#,
    r#"1e"#,
    r#"1e+"#,
    r#"0x"#,
    r#"0x_"#,
    r#"0xg"#,
    r#"0x1e"#,
    r#"0x1f"#,
    r#"1_"#,
    r#"1__0"#,
    r#"1_000"#,
    r#"1ms"#,
    r#"1y1y"#,
    r#"5m5"#,
    r#"5mx"#,
    r#"1.5m"#,
    r#"1hs"#,
    r#"1m1h"#,
    r#"0x1.5"#,
    r#"09"#,
    r#"1e400"#,
    r#"99999999999999999999"#,
    r#"0b101"#,
    r#".5"#,
    r#"."#,
    r#".."#,
    r#"1..2"#,
    r#"$"#,
    r#"up{a="b"} #comment"#,
    r#"# only comment"#,
    r#"up # comment"#,
    r#"up{a="\xff"}"#,
    r#"up{a=~"[a-"}"#,
    r#"up{a!~"*"}"#,
    r#"up{a=~"a**"}"#,
    r#"up{a=~"a)"}"#,
    r#"up{a=~"\\q"}"#,
    r#"up{a=~"[z-a]"}"#,
    r#"up{a=~"(?=a)"}"#,
    r#"up{a=~"(?<n>a)"}"#,
    r#"up{a=~"(?P<1-x>a)"}"#,
    r#"up{a=~"a{1001}"}"#,
    r#"up{a=~"[[:foo:]]"}"#,
    r#"up{a=~"\\8"}"#,
    r#"up{a=~"a|*"}"#,
    r#"up{a=~"(*)"}"#,
    r#"up{a=~"\\"}"#,
    r#"{a=~"(?P<x>a)"}"#,
    r#"{a="\u00e9"}"#,
    r#"up{1="a"}"#,
    r#"up{a.b="c"}"#,
    r#"up{=~"a"}"#,
    r#"up{,}"#,
    r#"up{a,}"#,
    r#"up{a="b",,}"#,
    r#"up{"a"="b"}"#,
    r#"up{"__name__"="x"}"#,
    r#"{"a" b}"#,
    r#"{"a" ="b"}"#,
    r#"{"a" =~ "("}"#,
    r#"{a="b" "c"}"#,
    r#"{a=b}"#,
    r#"{a="b",a="c"}"#,
    r#"up{a=~"(" $"#,
    r#"up{a!b}"#,
    r#"sum(up{a="b"})[5m:"#,
    r#"rate(up[5m] offset)"#,
    r#"rate(up[5m] @)"#,
    r#"up[5m] @ 1e100"#,
    r#"up @ -1"#,
    r#"up @ Inf"#,
    r#"up @ NaN"#,
    r#"up @ 5m"#,
    r#"-1 offset 5m"#,
    r#"sum(x) offset 5m"#,
    r#"(up) offset 5m"#,
    r#"(up) @ 5"#,
    r#""a" @ 5"#,
    r#"up offset 5m + 1"#,
    r#"up offset (1m) + 1"#,
    r#"up offset -5m * 2"#,
    r#"up[5m] @ 10 offset 1m"#,
    r#"up[1e20s]"#,
    r#"up offset 1e20s"#,
    r#"up[10000000000s]"#,
    r#"up offset 10000000000s"#,
    r#"up[5m+]"#,
    r#"up[5m+1m:]"#,
    r#"up[(5m]"#,
    r#"up[5m/0]"#,
    r#"up[5m%0]"#,
    r#"up[5m/(0)]"#,
    r#"up[foo]"#,
    r#"up[5m foo]"#,
    r#"up[5 m]"#,
    r#"up[5m:1m:]"#,
    r#"up[5m:foo]"#,
    r#"up[5m:1m foo]"#,
    r#"up[5m 5m]"#,
    r#"up[5m,]"#,
    r#"up[5m:1m 1m]"#,
    r#"up[5m:1m+]"#,
    r#"up[-(5m)]"#,
    r#"up[1h/2:10s]"#,
    r#"up[5m*2]"#,
    r#"sum"#,
    r#"sum{a="b"}"#,
    r#"sum offset 5m"#,
    r#"by"#,
    r#"and"#,
    r#"offset"#,
    r#"start"#,
    r#"on"#,
    r#"bool"#,
    r#"sum + 1"#,
    r#"up and and"#,
    r#"atan2"#,
    r#"atan2(1, 2)"#,
    r#"1 atan2 2"#,
    r#"a:b(up)"#,
    r#"SUM(up)"#,
    r#"Inf"#,
    r#"-Inf"#,
    r#"nan"#,
    r#"up - - up"#,
    r#"--1"#,
    r#"+up"#,
    r#"(1)"#,
    r#"((up))"#,
    r#"()"#,
    r#"(up,)"#,
    r#"topk(1, up) by (a)"#,
    r#"mad_over_time(up[5m])"#,
    r#"limitk(1, up)"#,
    r#"   "#,
    r#"a"#,
    r#"+"#,
    r#"2 ^ -1"#,
    r#"-2 ^ 2"#,
    r#"-up offset 5m"#,
    r#"up offset 5m @ 10 offset 1m"#,
    r#"sum(up) @ 10"#,
    r#"rate(up[5m:1m] @ 10 @ 20)"#,
    r#"foo{a="b"} offset 1m [5m]"#,
    "up\n+",
    "sum(\n  rate(up[5m])\n",
    "a\n  +",
    "up{a=\"b\",\n b=~\"(\"}",
    "1 ==\n\t1",
    "up{a=\"b\"} # c\n offset",
    r#"é + é"#,
    r#"up{a="é"} 1"#,
];

const SELECTORS: &[&str] = &[
    r#"up[5m]"#,
    r#"sum(up)"#,
    r#"{}"#,
    r#"up{a=~"("}"#,
    r#""#,
    r#"up{a="b"} offset 5m"#,
    r#"{a=""}"#,
    r#"up}"#,
    r#"  up  "#,
    r#"up"#,
    r#"{__name__="up"}"#,
    r#"a:b{c="d"}"#,
    r#"up{a="b",c!~"x.*"}"#,
    r#"{"up"}"#,
    r#"rate(x)"#,
    r#"up or up"#,
    r#"up{a=b}"#,
    r#"1"#,
    r#""up""#,
    r#"up{a="b""#,
    r#"{a=~"(?=x)"}"#,
    r#"by{a="b"}"#,
    r#"up @ 10"#,
    r#"{"up", a="b"}"#,
    r#"up{a="b"}[5m:1m]"#,
    r#"-up"#,
    r#"up{a="\xff"}"#,
];

const WITHOUT_FEATURES: &[&str] = &[
    r#"mad_over_time(up[5m])"#,
    r#"limitk(1, up)"#,
    r#"limit_ratio(0.5, up)"#,
    r#"up[5m+1m]"#,
    r#"up offset (5m)"#,
    r#"1 + 2"#,
    r#"up[(5m)]"#,
    r#"info(up)"#,
    r#"sort_by_label(up, "a")"#,
    r#"up[5m:1m]"#,
    r#"up offset -5m"#,
    r#"double_exponential_smoothing(up[5m], 0.5, 0.5)"#,
    r#"up[5m*2:1m]"#,
    r#"rate(up[5m])"#,
    r#"foo(up)"#,
    r#"up[-(5m)]"#,
];

/// Valid queries that mutations start from.
const SEEDS: &[&str] = &[
    r#"sum by (job) (rate(http_requests_total{job="api", code=~"5.."}[5m]))"#,
    r#"histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))"#,
    r#"up offset 5m @ 100"#,
    r#"max_over_time(rate(x[5m])[1h:1m])"#,
    r#"a + on(instance) group_left(version) b"#,
    r#"label_replace(up, "a", "$1", "b", "(.*)")"#,
    r#"topk(3, sum without (instance) (x)) > bool 2"#,
    r#"-x ^ 2 % 3 atan2 y"#,
    r#"count_values("v", up) unless ignoring(a) y"#,
    r#"{__name__=~"a.*", job!=""}[5m:30s] offset -1m"#,
    r#"x[5m+1m] @ end() and y"#,
    "sum(\n  rate(a_total{b=\"é\"}[1h30m]) # comment\n) by (c)",
    r#"limitk(2, x) or quantile_over_time(0.9, y[10m] @ 50 offset 1m)"#,
    r#"label_join(x, "d", ",", "a", "b") / ignoring(e) group_right(f) sort_by_label(y, "z")"#,
    r#"absent(nonexistent{job="x"}) + count by (a) (info(up, {k=~"v"}))"#,
    r#"1 - -2 * 3 ^ -4 >= bool 5 unless on() vector(time())"#,
    r#"x{a='\x41', b=`c`} or vector(0x1f)"#,
];

/// Text that mutations insert.
const PIECES: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    "==",
    "~",
    "!",
    "@",
    " offset ",
    " by ",
    "5m",
    "1",
    "\"s\"",
    ":",
    " ",
    "+",
    "-",
    "sum",
    "x",
    "'",
    "`",
    "#",
    "\n",
    ".",
    "1e",
    "0x",
    " bool ",
    " on(a) ",
    "group_left",
    "=~",
    "\\",
    "@ start()",
    "_",
];

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// `n` queries made by deleting, inserting, truncating or swapping text in the seeds.
fn mutations(n: usize, seed: u64) -> Vec<String> {
    let mut r = Rng(seed | 1);
    let mut out = Vec::new();
    for i in 0..n {
        let pool = SEEDS.len() + QUERIES.len();
        let pick = if i % 2 == 0 {
            i / 2 % SEEDS.len()
        } else {
            r.below(pool)
        };
        let src = SEEDS.get(pick).or_else(|| QUERIES.get(pick - SEEDS.len()));
        let mut q: Vec<char> = src.copied().unwrap_or_default().chars().collect();
        for _ in 0..1 + r.below(2) {
            let at = r.below(q.len() + 1);
            match r.below(4) {
                0 if at < q.len() => {
                    q.remove(at);
                }
                1 => {
                    let piece: Vec<char> = PIECES[r.below(PIECES.len())].chars().collect();
                    q.splice(at..at, piece);
                }
                2 => q.truncate(at),
                _ if at + 1 < q.len() => q.swap(at, at + 1),
                _ => {}
            }
        }
        out.push(q.into_iter().collect());
    }
    out
}

/// Prometheus' verdict: `Ok` or the error text without the `invalid parameter "…": ` prefix.
fn prometheus_verdict(p: &PrometheusServer, path: &str, param: &str) -> Result<(), String> {
    let (_, body) = http_get(&p.addr, path).expect("Prometheus answers");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
    if v["status"] == "success" {
        return Ok(());
    }
    let err = v["error"].as_str().expect("error text").to_string();
    let prefix = format!("invalid parameter \"{param}\": ");
    Err(err.strip_prefix(&prefix).map(str::to_string).unwrap_or(err))
}

/// For a query that parses, the error Prometheus reports when preparing it for evaluation
/// (duration expressions that come out non-positive or divide by zero), which Strata reports
/// when parsing: `/api/v1/query` gives it.
fn prepared_verdict(
    p: &PrometheusServer,
    q: &str,
    parsed: Result<(), String>,
) -> Result<(), String> {
    parsed?;
    let path = format!("/api/v1/query?query={}&time=100", percent_encode(q));
    match prometheus_verdict(p, &path, "query") {
        Err(e) if !e.contains("parse error") && e.contains("duration") || e.contains("by zero") => {
            Err(e)
        }
        _ => Ok(()),
    }
}

fn show(r: &Result<(), String>) -> String {
    match r {
        Ok(()) => "accepted".into(),
        Err(e) => format!("error {e:?}"),
    }
}

#[test]
fn parse_errors_match_prometheus() {
    let full = spawn_prometheus(
        work_dir("parse-errors", "full"),
        &["--enable-feature=promql-experimental-functions,promql-duration-expr"],
    );
    let plain = spawn_prometheus(work_dir("parse-errors", "plain"), &[]);
    wait_ready(&full);
    wait_ready(&plain);
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut rejected = 0;
    // `STRATA_PARSE_MUTATIONS=n` widens the search (default 400), `STRATA_PARSE_SEED` varies it.
    let n_mut = std::env::var("STRATA_PARSE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let seed = std::env::var("STRATA_PARSE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let mutated = mutations(n_mut, seed);
    let total = QUERIES.len() + SELECTORS.len() + WITHOUT_FEATURES.len() + mutated.len();

    let mut compare = |what: &str, q: &str, want: Result<(), String>, got: Result<(), String>| {
        if want.is_err() {
            rejected += 1;
        }
        if want == got {
            passed += 1;
        } else {
            failures.push(format!(
                "{what} {q:?}:\n  Prometheus: {}\n  Strata:     {}",
                show(&want),
                show(&got)
            ));
        }
    };

    for q in QUERIES {
        let path = format!("/api/v1/parse_query?query={}", percent_encode(q));
        let want = prepared_verdict(&full, q, prometheus_verdict(&full, &path, "query"));
        let got = parse(q).map(|_| ()).map_err(|e| e.to_string());
        compare("query", q, want, got);
    }
    for q in &mutated {
        let path = format!("/api/v1/parse_query?query={}", percent_encode(q));
        let want = prepared_verdict(&full, q, prometheus_verdict(&full, &path, "query"));
        let got = parse(q).map(|_| ()).map_err(|e| e.to_string());
        compare("mutated query", q, want, got);
    }
    let off = ParseOptions {
        experimental_functions: false,
        duration_expressions: false,
    };
    for q in WITHOUT_FEATURES {
        let path = format!("/api/v1/parse_query?query={}", percent_encode(q));
        let want = prometheus_verdict(&plain, &path, "query");
        let got = parse_with_options(q, off)
            .map(|_| ())
            .map_err(|e| e.to_string());
        compare("query (no features)", q, want, got);
    }
    for s in SELECTORS {
        let path = format!("/api/v1/series?match[]={}", percent_encode(s));
        let want = match prometheus_verdict(&full, &path, "match[]") {
            // The API's own check after parsing, not the parser's.
            Err(e) if e == "match[] must contain at least one non-empty matcher" => Ok(()),
            other => other,
        };
        let got = parse_metric_selector(s)
            .map(|_| ())
            .map_err(|e| e.to_string());
        compare("match[]", s, want, got);
    }

    println!(
        "parse errors: {passed}/{total} agree with Prometheus 3.5 ({rejected} rejected by it, {} mutations)",
        mutated.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} differ from Prometheus:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(QUERIES.len() >= 150);
}

/// Long and deeply nested queries parse on a 2 MiB thread stack (as a server worker has).
#[test]
fn long_and_nested_queries_do_not_exhaust_the_stack() {
    let run = |q: String| {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse(&q).map(|_| ()).map_err(|e| e.to_string()))
            .unwrap()
            .join()
            .expect("parser thread survived")
    };
    assert_eq!(run(vec!["x"; 5000].join(" + ")), Ok(()));
    assert_eq!(
        run(format!("{}x{}", "(".repeat(3000), ")".repeat(3000))),
        Ok(())
    );
    assert_eq!(run(vec!["2"; 3000].join(" ^ ")), Ok(()));
    assert_eq!(run(format!("{}1", "-".repeat(3000))), Ok(()));
    let err = run(format!("{}x{}", "(".repeat(3000), ")".repeat(2999)));
    assert_eq!(
        err,
        Err("1:6001: parse error: unclosed left parenthesis".into())
    );
}
