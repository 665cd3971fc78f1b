//! Annotation positions against Prometheus 3.5 itself.
//!
//! Prometheus ends each warning/info annotation with ` (line:col)`, the start of one AST node
//! (`PositionRange.StartPosInput`). A real `prometheus` server (from `scripts/fetch-peers`:
//! `~/.cache/strata-peers/bin`, or `$STRATA_PEERS_DIR/bin`; fetched when missing, never skipped)
//! runs over a small TSDB built with promtool; every query below is sent to its
//! `/api/v1/query`, and for every annotation it returns, the suffix must equal
//! `NodePositions::start_pos` of the node Prometheus uses for that annotation type, found in
//! Strata's own (`promql-parser`) tree of the query.
//!
//! The node of each annotation type (Prometheus 3.5 `promql/engine.go`, `functions.go`):
//! - `metric might not be a counter` (rate/increase): the call's `Args[0]`;
//! - `bucket label "le" is missing or has a malformed value`: `histogram_quantile`'s `Args[1]`
//!   (`resetHistograms(inVec, args[1])`; `histogram_fraction`'s `Args[2]`);
//! - `input to histogram_quantile needed to be fixed for monotonicity`: `Args[1]`;
//! - `quantile value should be between 0 and 1`: the aggregation's `Param` (`quantile`), or
//!   the function's `Args[0]` (`histogram_quantile`, `quantile_over_time`);
//! - `ratio value should be between -1 and 1` (`limit_ratio`): the aggregation's `Param`.
//!
//! Prometheus' evaluator rewrites some of these nodes before it reports them (parentheses
//! stripped around call arguments and aggregation parameters, subquery arguments replaced):
//! `NodePositions::call_arg_start_pos` / `aggregate_param_start_pos` apply the same rules,
//! and the cases below cover them.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;

use promql_parser::parser::Expr;
use strata_promql::parse::{NodePositions, node_positions, parse};
use support::{
    PrometheusServer, build_blocks, http_get, percent_encode, start_prometheus, work_dir,
};

mod support;

/// Which node an annotation points at.
#[derive(Debug, Clone, Copy)]
enum Node {
    /// Argument `n` of the first (pre-order) call of the named function.
    Arg(&'static str, usize),
    /// Argument `n` of the last (pre-order) call of the named function.
    LastArg(&'static str, usize),
    /// The parameter of the first aggregation whose text starts with the operator name.
    Param(&'static str),
}

/// A query, and the annotations Prometheus must return for it: a distinctive part of the
/// message and the node whose start ends it.
struct Case {
    query: &'static str,
    expect: &'static [(&'static str, Node)],
}

const NON_COUNTER: &str = "metric might not be a counter";
const BAD_LE: &str = "bucket label \"le\" is missing";
const MONOTONIC: &str = "needed to be fixed for monotonicity";
const QUANTILE: &str = "quantile value should be between 0 and 1";
const RATIO: &str = "ratio value should be between -1 and 1";

const CASES: &[Case] = &[
    Case {
        query: "rate(gauge[5m])",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "sum by (a) (\n  increase(gauge[5m] offset 1m)\n)",
        expect: &[(NON_COUNTER, Node::Arg("increase", 0))],
    },
    Case {
        query: "1 + -abs(rate(gauge[5m:1m] @ 600))",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "rate(gauge @ start()[5m])",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "label_replace(rate(gauge[4m+1m] offset 0s), \"x\", \"$1\", \"a\", \"(.*)\")",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "max_over_time(\n\t(rate(gauge[5m]))[10m:1m]\n)",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "histogram_quantile(0.9, rate(gauge[5m]))",
        expect: &[
            (BAD_LE, Node::Arg("histogram_quantile", 1)),
            (NON_COUNTER, Node::Arg("rate", 0)),
        ],
    },
    Case {
        query: "histogram_quantile(0.9, (gauge))",
        expect: &[(BAD_LE, Node::Arg("histogram_quantile", 1))],
    },
    Case {
        query: "histogram_quantile(0.9, req_bucket)",
        expect: &[(MONOTONIC, Node::Arg("histogram_quantile", 1))],
    },
    Case {
        // promql-parser drops the unary plus; its operand stands for it.
        query: "histogram_quantile(0.9, +req_bucket)",
        expect: &[(MONOTONIC, Node::Arg("histogram_quantile", 1))],
    },
    Case {
        query: "sum(histogram_quantile(0.9, sum by (le) (req_bucket)) * 2)",
        expect: &[(MONOTONIC, Node::Arg("histogram_quantile", 1))],
    },
    Case {
        query: "histogram_quantile(-(1), req_bucket)",
        expect: &[(QUANTILE, Node::Arg("histogram_quantile", 0))],
    },
    Case {
        query: "histogram_quantile(+0.5 * 4, req_bucket offset 1m)",
        expect: &[(QUANTILE, Node::Arg("histogram_quantile", 0))],
    },
    Case {
        // A constant argument of a non-constant call keeps its parentheses (1:20)...
        query: "histogram_quantile((2), req_bucket)",
        expect: &[(QUANTILE, Node::Arg("histogram_quantile", 0))],
    },
    Case {
        // ... which are stripped when the whole call is constant (1:21).
        query: "histogram_quantile((2), req_bucket @ 600)",
        expect: &[(QUANTILE, Node::Arg("histogram_quantile", 0))],
    },
    Case {
        query: "histogram_quantile(((0.9)), ((req_bucket)))",
        expect: &[(MONOTONIC, Node::Arg("histogram_quantile", 1))],
    },
    Case {
        query: "quantile_over_time((2), gauge[5m])",
        expect: &[(QUANTILE, Node::Arg("quantile_over_time", 0))],
    },
    Case {
        // A subquery range argument is replaced by a selector without position: 1:1.
        query: "sum(rate(gauge[5m:1m]))",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "quantile(+(2), gauge)",
        expect: &[(QUANTILE, Node::Param("quantile"))],
    },
    Case {
        query: "quantile(2, gauge)",
        expect: &[(QUANTILE, Node::Param("quantile"))],
    },
    Case {
        query: "quantile by (a) ((2), gauge)",
        expect: &[(QUANTILE, Node::Param("quantile"))],
    },
    Case {
        query: "gauge / on (a)\n  quantile without (b) (-1, gauge)",
        expect: &[(QUANTILE, Node::Param("quantile"))],
    },
    Case {
        query: "quantile_over_time(1.5, gauge[5m])",
        expect: &[(QUANTILE, Node::Arg("quantile_over_time", 0))],
    },
    Case {
        query: "quantile_over_time(scalar(gauge) * 2, gauge[5m])",
        expect: &[(QUANTILE, Node::Arg("quantile_over_time", 0))],
    },
    Case {
        // Prometheus keys annotations by their text without position: of two identical
        // messages, the one added last (here the right-hand side's) keeps its position.
        query: "rate(gauge[5m]) + rate(gauge[4m])",
        expect: &[(NON_COUNTER, Node::LastArg("rate", 0))],
    },
    Case {
        // (`rate(gauge[1m])` sees one sample per window and adds no annotation.)
        query: "rate(gauge[5m]) + rate(gauge[1m])",
        expect: &[(NON_COUNTER, Node::Arg("rate", 0))],
    },
    Case {
        query: "quantile(2, gauge) or quantile((2), gauge)",
        expect: &[(QUANTILE, Node::Param("quantile(("))],
    },
    Case {
        query: "limit_ratio(2, gauge)",
        expect: &[(RATIO, Node::Param("limit_ratio"))],
    },
    Case {
        query: "count(limit_ratio(-5, gauge))",
        expect: &[(RATIO, Node::Param("limit_ratio"))],
    },
];

/// The first node (pre-order) satisfying `f`.
fn find<'e>(e: &'e Expr, f: &dyn Fn(&Expr) -> bool) -> Option<&'e Expr> {
    find_all(e, f).into_iter().next()
}

/// The nodes satisfying `f`, pre-order.
fn find_all<'e>(e: &'e Expr, f: &dyn Fn(&Expr) -> bool) -> Vec<&'e Expr> {
    let mut found = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        if f(e) {
            found.push(e);
        }
        let mut kids: Vec<&Expr> = match e {
            Expr::Aggregate(a) => a.param.iter().map(|p| &**p).chain([&*a.expr]).collect(),
            Expr::Unary(u) => vec![&u.expr],
            Expr::Binary(b) => vec![&b.lhs, &b.rhs],
            Expr::Paren(p) => vec![&p.expr],
            Expr::Subquery(s) => vec![&s.expr],
            Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
            _ => vec![],
        };
        kids.reverse();
        stack.extend(kids);
    }
    found
}

/// Where Strata's positions say the annotation of `node` points.
fn expected_pos(query: &str, expr: &Expr, pos: &NodePositions, node: Node) -> Option<String> {
    match node {
        Node::Arg(name, i) => {
            let call = find(expr, &|e| matches!(e, Expr::Call(c) if c.func.name == name))?;
            pos.call_arg_start_pos(call, i)
        }
        Node::LastArg(name, i) => {
            let calls = find_all(expr, &|e| matches!(e, Expr::Call(c) if c.func.name == name));
            pos.call_arg_start_pos(calls.last()?, i)
        }
        Node::Param(op) => {
            let agg = find(expr, &|e| {
                matches!(e, Expr::Aggregate(_))
                    && pos
                        .range(e)
                        .is_some_and(|r| query.get(r.start..).is_some_and(|t| t.starts_with(op)))
            })?;
            pos.aggregate_param_start_pos(agg)
        }
    }
}

#[test]
fn annotation_positions_match_prometheus() {
    let server = start_data_prometheus();
    let mut failures = Vec::new();
    for case in CASES {
        let q = case.query;
        let expr = parse(q).unwrap();
        let pos = node_positions(q, &expr);
        let annos = prometheus_annotations(&server, q);
        if annos.len() != case.expect.len() {
            failures.push(format!(
                "{q:?}: Prometheus returned {annos:?}, expected {} annotations",
                case.expect.len()
            ));
            continue;
        }
        for (what, node) in case.expect {
            let Some(anno) = annos.iter().find(|a| a.contains(what)) else {
                failures.push(format!("{q:?}: no annotation with {what:?} in {annos:?}"));
                continue;
            };
            let Some(suffix) = anno
                .strip_suffix(')')
                .and_then(|a| a.rsplit_once(" ("))
                .map(|(_, p)| p)
            else {
                failures.push(format!("{q:?}: no position in {anno:?}"));
                continue;
            };
            let ours = expected_pos(q, &expr, &pos, *node);
            if ours.as_deref() != Some(suffix) {
                failures.push(format!(
                    "{q:?}: {anno:?} is at {suffix}, Strata's {node:?} at {ours:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Prometheus' warnings and infos for an instant query at 600 s.
fn prometheus_annotations(server: &PrometheusServer, q: &str) -> Vec<String> {
    let path = format!("/api/v1/query?query={}&time=600", percent_encode(q));
    let (code, body) = http_get(&server.addr, &path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 200, "{q:?}: {body}");
    let mut out = Vec::new();
    for key in ["warnings", "infos"] {
        for a in v[key].as_array().cloned().unwrap_or_default() {
            out.push(a.as_str().unwrap_or_default().to_string());
        }
    }
    out
}

/// The data: a gauge (no counter suffix, no `le`) and a classic histogram whose buckets are not
/// monotonic, one sample a minute for 20 minutes.
fn data() -> String {
    let mut om = String::new();
    om.push_str("# TYPE gauge gauge\n");
    for a in ["1", "2"] {
        for i in 0..20 {
            writeln!(om, "gauge{{a=\"{a}\",b=\"x\"}} {} {}", i * 3 % 7, i * 60).unwrap();
        }
    }
    om.push_str("# TYPE req_bucket gauge\n");
    for (le, v) in [("0.5", 5), ("1", 3), ("+Inf", 8)] {
        for i in 0..20 {
            writeln!(om, "req_bucket{{le=\"{le}\"}} {} {}", v + i, i * 60).unwrap();
        }
    }
    om.push_str("# EOF\n");
    om
}

/// Prometheus over the blocks of [`data`].
fn start_data_prometheus() -> PrometheusServer {
    let dir = work_dir("anno-pos", "main");
    build_blocks(&dir, &data());
    start_prometheus(
        dir,
        &[
            "--storage.tsdb.retention.time=100y",
            "--enable-feature=promql-experimental-functions,promql-duration-expr",
        ],
    )
}
