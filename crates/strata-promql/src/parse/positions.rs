//! Where each node of a parsed query sits in the query text, as Prometheus 3.5 records it.
//!
//! Prometheus ends the text of its warning and info annotations with the position of an AST
//! node, `PromQL info: … "up" (1:6)`, computed by `PositionRange.StartPosInput` from the node's
//! `PositionRange()`. `promql-parser`'s AST has no positions, so this module re-parses the
//! ORIGINAL query with the checker of `parse::syntax` (whose tree has byte positions) and walks
//! that tree in lockstep with the `promql-parser` AST that `parse()` returned for the same
//! query, giving each AST node the range of its counterpart.
//!
//! The ranges follow Prometheus' `PositionRange()` of each node type (`promql/parser/ast.go`,
//! set by `generated_parser.y` and `parse.go`):
//! - number and string literals: the token; a folded sign (`-1`) starts the number;
//! - vector selectors: the metric name or `{` up to the last token, an `offset`/`@` modifier
//!   included; range selectors and subqueries: their expression's start up to `]` or the
//!   last modifier token;
//! - binary expressions: the left side's start to the right side's end; unary expressions: the
//!   operator to the operand's end; parentheses: `(` to `)`;
//! - calls and aggregations: the name/operator to the front of Prometheus' queue of
//!   closing parentheses when the node is reduced. That queue also holds the `)` of grouping
//!   lists (`on(…)`, `by (…)`) and of `@ start()`, which nothing consumes, so Prometheus' end of
//!   a call is sometimes an earlier `)` (`sum by (a) (rate(x[5m]))`: `rate(…)` "ends" after
//!   `by (a)`). This is reproduced; only starts appear in annotations.
//!
//! `promql-parser` drops a unary `+` (Prometheus keeps a `UnaryExpr`): the operand's node gets
//! the unary expression's range, which is what Prometheus reports when the expression is an
//! argument (`histogram_quantile(0.9, +rate(x[5m]))` points at the `+`). Where the two trees
//! disagree in shape (a rewrite that changed the structure, a precedence difference), the
//! disagreeing node and everything below it get no position.
//!
//! Nodes are keyed by address: the evaluator holds `&Expr` of the very tree that was given to
//! [`node_positions`]. Every node but the root lives in a `Box` (or the `Vec<Box<Expr>>` of call
//! arguments), so its address does not change when the tree is moved; the root's does, so
//! compute the positions on the tree where it will be evaluated and do not move it afterwards.
//! Each entry also records the node's variant, and a lookup of a node of another variant at
//! that address answers `None`.

use std::collections::HashMap;
use std::mem::Discriminant;

use promql_parser::parser::Expr;

use super::lexer::{Kind, Token};
use super::syntax::{self, Node, Shape};

/// A node's place in the query text: byte offsets, `end` exclusive (Prometheus'
/// `posrange.PositionRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionRange {
    /// Byte offset of the node's first character.
    pub start: usize,
    /// Byte offset just past the node, as Prometheus computes it (see the module docs for
    /// calls and aggregations).
    pub end: usize,
}

/// The positions of the nodes of one parsed query; see [`node_positions`].
#[derive(Debug, Clone, Default)]
pub struct NodePositions {
    query: String,
    nodes: HashMap<usize, (Discriminant<Expr>, PositionRange)>,
}

impl NodePositions {
    /// The node's range in the query, if it is a node of the tree these positions were computed
    /// for and its shape matched the query.
    pub fn range(&self, e: &Expr) -> Option<PositionRange> {
        self.nodes
            .get(&key(e))
            .filter(|(d, _)| *d == std::mem::discriminant(e))
            .map(|(_, r)| *r)
    }

    /// Prometheus' `line:col` of the node's start (`StartPosInput`): the line 1-based, the
    /// column in bytes after the last newline before it, 1-based. This is the text Prometheus
    /// puts in parentheses after an annotation: `format!("{msg} ({pos})")`.
    pub fn start_pos(&self, e: &Expr) -> Option<String> {
        self.range(e).map(|r| start_pos_input(&self.query, r.start))
    }

    /// Where Prometheus points an annotation about argument `i` of the call `call` (its
    /// functions use `args[i].PositionRange()`), which is not always the argument as written:
    /// Prometheus' evaluator first strips the parentheses, in place, around the arguments up to
    /// and including the first range argument (all of them when there is none), except around
    /// an argument it wrapped as step-invariant (a constant argument of a call that is not
    /// constant as a whole: `quantile_over_time((2), x[5m])` points at `(`); and a subquery
    /// range argument is replaced by a selector without position, which reports `1:1`.
    pub fn call_arg_start_pos(&self, call: &Expr, i: usize) -> Option<String> {
        let Expr::Call(c) = call else {
            return None;
        };
        let args = &c.args.args;
        let arg: &Expr = args.get(i)?;
        let range_arg = args.iter().position(|a| {
            matches!(
                self.strip_parens(a),
                Expr::MatrixSelector(_) | Expr::Subquery(_)
            )
        });
        if range_arg == Some(i) && matches!(self.strip_parens(arg), Expr::Subquery(_)) {
            return Some(start_pos_input(&self.query, 0));
        }
        let wrapped = !step_invariant(call) && step_invariant(arg);
        let stripped = range_arg.is_none_or(|m| i <= m) && !wrapped;
        self.start_pos(if stripped {
            self.strip_parens(arg)
        } else {
            arg
        })
    }

    /// Where Prometheus points an annotation about an aggregation's parameter
    /// (`Param.PositionRange()` after its evaluator stripped the parentheses around it):
    /// `quantile((2), x)` points at `2`.
    pub fn aggregate_param_start_pos(&self, aggregate: &Expr) -> Option<String> {
        let Expr::Aggregate(a) = aggregate else {
            return None;
        };
        self.start_pos(self.strip_parens(a.param.as_deref()?))
    }

    /// `e` without enclosing parentheses (Prometheus' `unwrapParenExpr`). A parenthesis node
    /// that stands for a unary `+` `promql-parser` dropped (`+(2)`) is a unary expression to
    /// Prometheus, and stays.
    fn strip_parens<'e>(&self, mut e: &'e Expr) -> &'e Expr {
        while let Expr::Paren(p) = e {
            let is_paren = self
                .range(e)
                .is_none_or(|r| self.query.as_bytes().get(r.start) == Some(&b'('));
            if !is_paren {
                break;
            }
            e = &p.expr;
        }
        e
    }

    /// The number of nodes with a position.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node has a position.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Prometheus' `PositionRange.StartPosInput(query, 0)` for a range starting at byte `pos`:
/// `line:col`, or `unknown position` for an empty query and `invalid position` past its end.
pub fn start_pos_input(query: &str, pos: usize) -> String {
    if query.is_empty() {
        return "unknown position".into();
    }
    let Some(before) = query.as_bytes().get(..pos) else {
        return "invalid position".into();
    };
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => pos - nl,
        None => pos + 1,
    };
    format!("{line}:{col}")
}

/// Whether Prometheus' `PreprocessExpr` finds `e` step-invariant (its value the same at every
/// step: literals, selectors with `@`, and what is built only from them, except through the
/// functions that read the evaluation time).
fn step_invariant(e: &Expr) -> bool {
    const TIME_DEPENDENT: &[&str] = &[
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
        "predict_linear",
        "time",
        "timestamp",
    ];
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        let ok = match e {
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
            Expr::VectorSelector(vs) => vs.at.is_some(),
            Expr::MatrixSelector(ms) => ms.vs.at.is_some(),
            Expr::Subquery(sq) => sq.at.is_some(),
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                true
            }
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
                true
            }
            Expr::Paren(p) => {
                stack.push(&p.expr);
                true
            }
            Expr::Unary(u) => {
                stack.push(&u.expr);
                true
            }
            Expr::Call(c) => {
                stack.extend(c.args.args.iter().map(|a| &**a));
                !TIME_DEPENDENT.contains(&c.func.name)
            }
            Expr::Extension(_) => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Maps every node of `expr`, the tree that `parse()`/`parse_with_options()` returned for
/// `query`, to its Prometheus position range in `query`. Never fails: nodes whose shape does
/// not match the query (or all of them, for a query that does not parse) get no position.
pub fn node_positions(query: &str, expr: &Expr) -> NodePositions {
    let flat = syntax::with_tree(query, |tree, tokens| Flattener::run(query, tree, tokens));
    let mut out = NodePositions {
        query: query.to_string(),
        nodes: HashMap::new(),
    };
    if let Some((items, root)) = flat {
        align(expr, &items, root, &mut out.nodes);
    }
    out
}

fn key(e: &Expr) -> usize {
    e as *const Expr as usize
}

/// A checker node, flattened (children by index) so that the walk over it needs no recursion.
#[derive(Debug)]
struct Flat {
    kind: FlatKind,
    range: PositionRange,
}

#[derive(Debug)]
enum FlatKind {
    Num,
    Str,
    Vector,
    Matrix,
    Subquery(usize),
    Call {
        name: Option<&'static str>,
        args: Vec<usize>,
    },
    Aggregate {
        param: Option<usize>,
        expr: Option<usize>,
    },
    Binary(usize, usize),
    Paren(usize),
    Unary {
        plus: bool,
        expr: usize,
    },
}

/// Flattens the checker's tree in the order Prometheus' parser reduces the nodes (children
/// first, left to right), replaying its queue of closing parentheses for the ends of calls and
/// aggregations.
struct Flattener<'a> {
    input: &'a str,
    /// Ends of every `)` token, in query order.
    closes: Vec<usize>,
    /// The front of the queue: how many of `closes` have been consumed.
    next: usize,
    out: Vec<Flat>,
}

impl<'a> Flattener<'a> {
    fn run(input: &'a str, tree: &Node, tokens: &[Token]) -> (Vec<Flat>, usize) {
        let mut f = Flattener {
            input,
            closes: tokens
                .iter()
                .filter(|t| t.kind == Kind::RParen)
                .map(Token::end)
                .collect(),
            next: 0,
            out: Vec::new(),
        };
        let root = f.node(tree);
        (f.out, root)
    }

    /// Consumes the front of the closing-parenthesis queue.
    fn pop(&mut self) -> Option<usize> {
        let front = self.closes.get(self.next).copied();
        self.next += 1;
        front
    }

    fn end_of(&self, i: usize) -> usize {
        self.out.get(i).map_or(0, |f| f.range.end)
    }

    fn node(&mut self, n: &Node) -> usize {
        let (start, own_end) = n.span();
        let (kind, end) = match n.shape(self.input) {
            Shape::Num => (FlatKind::Num, own_end),
            Shape::Str => (FlatKind::Str, own_end),
            Shape::Vector => (FlatKind::Vector, own_end),
            Shape::Matrix(v) => {
                self.node(v);
                (FlatKind::Matrix, own_end)
            }
            Shape::Subquery(e) => {
                let c = self.node(e);
                (FlatKind::Subquery(c), own_end)
            }
            Shape::Call { name, args } => {
                let args = args.iter().map(|a| self.node(a)).collect();
                let end = self.pop().unwrap_or(own_end);
                (FlatKind::Call { name, args }, end)
            }
            Shape::Aggregate {
                grouped,
                param,
                expr,
            } => {
                let param = param.map(|p| self.node(p));
                let expr = expr.map(|e| self.node(e));
                if grouped {
                    // Prometheus drops the queue's front (meant to be the grouping list's `)`)
                    // when more than one `)` read so far is unconsumed.
                    let read = self.closes.iter().take_while(|&&c| c <= own_end).count();
                    if read.saturating_sub(self.next) > 1 {
                        self.next += 1;
                    }
                }
                let end = self.pop().unwrap_or(own_end);
                (FlatKind::Aggregate { param, expr }, end)
            }
            Shape::Binary(l, r) => {
                let l = self.node(l);
                let r = self.node(r);
                (FlatKind::Binary(l, r), self.end_of(r))
            }
            Shape::Paren(e) => {
                let c = self.node(e);
                self.pop();
                (FlatKind::Paren(c), own_end)
            }
            Shape::Unary { plus, expr } => {
                let c = self.node(expr);
                (FlatKind::Unary { plus, expr: c }, self.end_of(c))
            }
        };
        self.out.push(Flat {
            kind,
            range: PositionRange { start, end },
        });
        self.out.len() - 1
    }
}

/// Walks the `promql-parser` tree and the flattened checker tree together, recording the
/// range of every node whose counterpart has the same shape.
fn align(
    expr: &Expr,
    flat: &[Flat],
    root: usize,
    nodes: &mut HashMap<usize, (Discriminant<Expr>, PositionRange)>,
) {
    let mut stack: Vec<(&Expr, usize)> = vec![(expr, root)];
    while let Some((e, outer)) = stack.pop() {
        let Some(mut c) = flat.get(outer) else {
            continue;
        };
        // `promql-parser` drops unary pluses: the operand stands for them.
        while let FlatKind::Unary {
            plus: true,
            expr: inner,
        } = c.kind
        {
            match flat.get(inner) {
                Some(next) => c = next,
                None => break,
            }
        }
        let mut children: Vec<(&Expr, usize)> = Vec::new();
        let matched = match (e, &c.kind) {
            (Expr::NumberLiteral(_), FlatKind::Num)
            | (Expr::StringLiteral(_), FlatKind::Str)
            | (Expr::VectorSelector(_), FlatKind::Vector)
            | (Expr::MatrixSelector(_), FlatKind::Matrix) => true,
            (Expr::Subquery(s), FlatKind::Subquery(i)) => {
                children.push((&s.expr, *i));
                true
            }
            (Expr::Paren(p), FlatKind::Paren(i)) => {
                children.push((&p.expr, *i));
                true
            }
            (Expr::Unary(u), FlatKind::Unary { plus: false, expr }) => {
                children.push((&u.expr, *expr));
                true
            }
            (Expr::Binary(b), FlatKind::Binary(l, r)) => {
                children.push((&b.lhs, *l));
                children.push((&b.rhs, *r));
                true
            }
            (Expr::Call(call), FlatKind::Call { name, args }) => {
                let ours = &call.args.args;
                // `info(x, {})` reaches promql-parser as `info(x)`.
                let same = ours.len() == args.len()
                    || (call.func.name == "info" && ours.len() == 1 && args.len() == 2);
                if *name == Some(call.func.name) && same {
                    children.extend(ours.iter().map(|a| &**a).zip(args.iter().copied()));
                    true
                } else {
                    false
                }
            }
            (Expr::Aggregate(a), FlatKind::Aggregate { param, expr }) => {
                match (&a.param, param, expr) {
                    (Some(p), Some(pi), Some(ei)) => {
                        children.push((p, *pi));
                        children.push((&a.expr, *ei));
                        true
                    }
                    (None, None, Some(ei)) => {
                        children.push((&a.expr, *ei));
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if matched {
            if let Some(f) = flat.get(outer) {
                nodes.insert(key(e), (std::mem::discriminant(e), f.range));
            }
            // Reverse, so that nodes are visited in query order (not needed, but tidy).
            stack.extend(children.into_iter().rev());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    /// Every node of the tree, pre-order, as `Kind start..end` (or `Kind -` without position).
    fn layout(q: &str) -> Vec<String> {
        let e = parse(q).unwrap();
        let pos = node_positions(q, &e);
        let mut out = Vec::new();
        let mut stack = vec![&e];
        while let Some(e) = stack.pop() {
            let (name, mut kids): (&str, Vec<&Expr>) = match e {
                Expr::Aggregate(a) => (
                    "Agg",
                    a.param.iter().map(|p| &**p).chain([&*a.expr]).collect(),
                ),
                Expr::Unary(u) => ("Unary", vec![&u.expr]),
                Expr::Binary(b) => ("Bin", vec![&b.lhs, &b.rhs]),
                Expr::Paren(p) => ("Paren", vec![&p.expr]),
                Expr::Subquery(s) => ("Subq", vec![&s.expr]),
                Expr::NumberLiteral(_) => ("Num", vec![]),
                Expr::StringLiteral(_) => ("Str", vec![]),
                Expr::VectorSelector(_) => ("Vec", vec![]),
                Expr::MatrixSelector(_) => ("Mat", vec![]),
                Expr::Call(c) => ("Call", c.args.args.iter().map(|a| &**a).collect()),
                Expr::Extension(_) => ("Ext", vec![]),
            };
            out.push(match pos.range(e) {
                Some(r) => format!("{name} {}..{}", r.start, r.end),
                None => format!("{name} -"),
            });
            kids.reverse();
            stack.extend(kids);
        }
        out
    }

    fn starts(q: &str) -> Vec<String> {
        let e = parse(q).unwrap();
        let pos = node_positions(q, &e);
        let mut out = Vec::new();
        let mut stack = vec![&e];
        while let Some(e) = stack.pop() {
            out.push(pos.start_pos(e).unwrap_or_else(|| "-".into()));
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
        out
    }

    #[test]
    fn start_pos_input_is_prometheus() {
        assert_eq!(start_pos_input("", 0), "unknown position");
        assert_eq!(start_pos_input("abc", 4), "invalid position");
        assert_eq!(start_pos_input("abc", 3), "1:4");
        assert_eq!(start_pos_input("abc", 0), "1:1");
        assert_eq!(start_pos_input("a\nbc", 2), "2:1");
        assert_eq!(start_pos_input("a\nbc", 3), "2:2");
        // Columns count bytes.
        assert_eq!(start_pos_input("x{a=\"é\"}+y", 10), "1:11");
    }

    #[test]
    fn calls_and_selectors() {
        assert_eq!(layout("rate(up[5m])"), ["Call 0..12", "Mat 5..11"]);
        assert_eq!(starts("rate(up[5m])"), ["1:1", "1:6"]);
        assert_eq!(
            layout("histogram_quantile(0.9, rate(x[5m]))"),
            ["Call 0..36", "Num 19..22", "Call 24..35", "Mat 29..34"]
        );
        assert_eq!(
            starts("histogram_quantile(0.9, rate(x[5m]))"),
            ["1:1", "1:20", "1:25", "1:30"]
        );
        assert_eq!(
            layout(r#"label_replace(x{a="b"}, "d", "$1", "a", "(.*)")"#),
            [
                "Call 0..47",
                "Vec 14..22",
                "Str 24..27",
                "Str 29..33",
                "Str 35..38",
                "Str 40..46"
            ]
        );
        assert_eq!(layout("{__name__=\"x\"}"), ["Vec 0..14"]);
        assert_eq!(layout("time()"), ["Call 0..6"]);
        assert_eq!(
            layout("abs(ceil(x))"),
            ["Call 0..12", "Call 4..11", "Vec 9..10"]
        );
    }

    #[test]
    fn aggregations() {
        assert_eq!(
            layout("sum(rate(x[5m]))"),
            ["Agg 0..16", "Call 4..15", "Mat 9..14"]
        );
        assert_eq!(
            layout("quantile(2, x) by (a)"),
            ["Agg 0..21", "Num 9..10", "Vec 12..13"]
        );
        assert_eq!(
            layout("count_values without (a) (\"v\", x)"),
            ["Agg 0..33", "Str 26..29", "Vec 31..32"]
        );
        assert_eq!(
            layout("topk(3, sum by (a) (x))"),
            ["Agg 0..23", "Num 5..6", "Agg 8..22", "Vec 20..21"]
        );
        // Prometheus' queue of closing parentheses still holds `by (a)`'s when `rate(…)` is
        // reduced: the call "ends" there.
        assert_eq!(
            layout("sum by (a) (rate(x[5m]))"),
            ["Agg 0..24", "Call 12..10", "Mat 17..22"]
        );
        assert_eq!(starts("sum by (a) (rate(x[5m]))"), ["1:1", "1:13", "1:18"]);
    }

    #[test]
    fn binary_unary_and_parens() {
        assert_eq!(
            layout("(a + b) * 2"),
            [
                "Bin 0..11",
                "Paren 0..7",
                "Bin 1..6",
                "Vec 1..2",
                "Vec 5..6",
                "Num 10..11"
            ]
        );
        assert_eq!(
            layout("a / on(b) group_left(c) d"),
            ["Bin 0..25", "Vec 0..1", "Vec 24..25"]
        );
        assert_eq!(layout("-x"), ["Unary 0..2", "Vec 1..2"]);
        assert_eq!(layout("-1"), ["Num 0..2"]);
        assert_eq!(layout("- -1"), ["Num 0..4"]);
        assert_eq!(layout("-(1)"), ["Unary 0..4", "Paren 1..4", "Num 2..3"]);
        assert_eq!(
            layout("1 - -x ^ 2"),
            [
                "Bin 0..10",
                "Num 0..1",
                "Unary 4..10",
                "Bin 5..10",
                "Vec 5..6",
                "Num 9..10"
            ]
        );
        // A unary plus disappears in promql-parser's tree; its operand takes its range.
        assert_eq!(layout("+x"), ["Vec 0..2"]);
        assert_eq!(
            layout("histogram_quantile(0.9, +rate(x[5m]))"),
            ["Call 0..37", "Num 19..22", "Call 24..36", "Mat 30..35"]
        );
        assert_eq!(layout("-+x"), ["Unary 0..3", "Vec 1..3"]);
        assert_eq!(layout("+1"), ["Num 0..2"]);
        assert_eq!(
            layout("x > bool 1 and on() y"),
            [
                "Bin 0..21",
                "Bin 0..10",
                "Vec 0..1",
                "Num 9..10",
                "Vec 20..21"
            ]
        );
        // The queue quirk: `on()`'s `)` is consumed by `sum(`.
        assert_eq!(
            layout("sum(foo and on(a) bar)"),
            ["Agg 0..17", "Bin 4..21", "Vec 4..7", "Vec 18..21"]
        );
    }

    #[test]
    fn subqueries_offsets_and_at() {
        assert_eq!(
            layout("rate(x[5m])[30m:1m] offset 1m"),
            ["Subq 0..29", "Call 0..11", "Mat 5..10"]
        );
        assert_eq!(
            layout("max_over_time((x + 1)[5m:])"),
            [
                "Call 0..27",
                "Subq 14..26",
                "Paren 14..21",
                "Bin 15..20",
                "Vec 15..16",
                "Num 19..20"
            ]
        );
        assert_eq!(layout("x offset 5m"), ["Vec 0..11"]);
        assert_eq!(layout("x @ 100 offset -5m"), ["Vec 0..18"]);
        assert_eq!(layout("x[5m] @ end()"), ["Mat 0..13"]);
        assert_eq!(layout("rate(x[5m] offset 1h)"), ["Call 0..21", "Mat 5..20"]);
        // `@ start()`'s `)` stays in Prometheus' queue, and `sum(` takes it.
        assert_eq!(layout("sum(x @ start())"), ["Agg 0..15", "Vec 4..15"]);
    }

    #[test]
    fn rewritten_queries_keep_original_positions() {
        // Durations folded, `offset 0s` dropped, `@ start()` moved behind the range.
        assert_eq!(
            layout("rate(x[5m+1m] offset 0s)"),
            ["Call 0..24", "Mat 5..23"]
        );
        // (`start()`'s `)` is the front of Prometheus' queue when `rate(` is reduced.)
        assert_eq!(layout("rate(x @ start()[5m])"), ["Call 0..16", "Mat 5..20"]);
        assert_eq!(layout("x offset (1h / 2)"), ["Vec 0..17"]);
        // `info(x, {})` reaches promql-parser as `info(x)`.
        assert_eq!(layout("info(x, {})"), ["Call 0..11", "Vec 5..6"]);
        // Go number forms and durations as numbers.
        assert_eq!(
            layout("1_000 + 0x1F * 010 - 5m"),
            [
                "Bin 0..23",
                "Bin 0..18",
                "Num 0..5",
                "Bin 8..18",
                "Num 8..12",
                "Num 15..18",
                "Num 21..23"
            ]
        );
        assert_eq!(layout("sum by (a:b) (x)"), ["Agg 0..16", "Vec 14..15"]);
        assert_eq!(layout("x[5 m]"), ["Subq 0..6", "Vec 0..1"]);
    }

    #[test]
    fn multi_line_queries() {
        let q =
            "sum by (job) (\n  rate(http_requests[5m])\n)\n/ on (job)\n  # comment\n  count(up)";
        assert_eq!(starts(q), ["1:1", "1:1", "2:3", "2:8", "6:3", "6:9"]);
        let q = "histogram_quantile(\n\t0.9,\n\trate(x[5m])\n)";
        assert_eq!(starts(q), ["1:1", "2:2", "3:2", "3:7"]);
    }

    #[test]
    fn strings_with_escapes_and_unicode() {
        let q = "count_values(`a\\b`, x{y=\"é\\\"\"}) + label_join(z, \"d\", \",\", \"a\")";
        let l = layout(q);
        assert_eq!(l[0], format!("Bin 0..{}", q.len()));
        // `é` is two bytes.
        assert_eq!(l[1], "Agg 0..32");
        assert_eq!(l[2], "Str 13..18");
        assert_eq!(l[3], "Vec 20..31");
        assert_eq!(l[4], "Call 35..63");
        assert_eq!(l[6], "Str 49..52");
        assert_eq!(starts(q)[5], "1:47");
    }

    #[test]
    fn deep_queries_use_a_big_stack() {
        let depth = 400;
        let q = format!("{}x{}", "abs(".repeat(depth), ")".repeat(depth));
        let l = layout(&q);
        assert_eq!(l.len(), depth + 1);
        assert_eq!(l[0], format!("Call 0..{}", q.len()));
        assert_eq!(l[depth], format!("Vec {}..{}", 4 * depth, 4 * depth + 1));
    }

    /// `call_arg_start_pos(first call named `name`, i)`.
    fn arg_pos(q: &str, name: &str, i: usize) -> Option<String> {
        let e = parse(q).unwrap();
        let pos = node_positions(q, &e);
        let mut stack = vec![&e];
        while let Some(n) = stack.pop() {
            match n {
                Expr::Call(c) if c.func.name == name => return pos.call_arg_start_pos(n, i),
                Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| &**a)),
                Expr::Aggregate(a) => stack.push(&a.expr),
                Expr::Binary(b) => stack.extend([&*b.lhs, &*b.rhs]),
                Expr::Paren(p) => stack.push(&p.expr),
                Expr::Unary(u) => stack.push(&u.expr),
                Expr::Subquery(s) => stack.push(&s.expr),
                _ => {}
            }
        }
        None
    }

    #[test]
    fn call_arguments_as_prometheus_evaluates_them() {
        assert_eq!(arg_pos("rate(x[5m])", "rate", 0).as_deref(), Some("1:6"));
        assert_eq!(arg_pos("rate((x[5m]))", "rate", 0).as_deref(), Some("1:7"));
        // Subquery arguments become selectors without position.
        assert_eq!(
            arg_pos("1 + rate(x[5m:])", "rate", 0).as_deref(),
            Some("1:1")
        );
        assert_eq!(
            arg_pos("histogram_quantile(0.9, (x))", "histogram_quantile", 1).as_deref(),
            Some("1:26")
        );
        // Constant argument of a non-constant call: wrapped, parentheses kept.
        assert_eq!(
            arg_pos("histogram_quantile((2), x)", "histogram_quantile", 0).as_deref(),
            Some("1:20")
        );
        // Constant call: parentheses stripped.
        assert_eq!(
            arg_pos("histogram_quantile((2), x @ 10)", "histogram_quantile", 0).as_deref(),
            Some("1:21")
        );
        // A time-dependent function is never constant.
        assert_eq!(
            arg_pos("predict_linear(x[5m] @ 10, (3))", "predict_linear", 1).as_deref(),
            Some("1:28")
        );
        // Arguments after the range argument keep their parentheses.
        assert_eq!(
            arg_pos("predict_linear(x[5m], (time()))", "predict_linear", 1).as_deref(),
            Some("1:23")
        );
        // Before it, they lose them (unless constant).
        assert_eq!(
            arg_pos(
                "quantile_over_time((scalar(y)), x[5m])",
                "quantile_over_time",
                0
            )
            .as_deref(),
            Some("1:21")
        );
        assert_eq!(
            arg_pos("quantile_over_time((0.5), x[5m])", "quantile_over_time", 0).as_deref(),
            Some("1:20")
        );
        assert_eq!(arg_pos("rate(x[5m])", "rate", 1), None);
    }

    #[test]
    fn aggregation_parameters_lose_parentheses() {
        let q = "quantile(((2)), x) + quantile(+(3), y) + sum(z)";
        let e = parse(q).unwrap();
        let pos = node_positions(q, &e);
        let Expr::Binary(outer) = &e else { panic!() };
        let Expr::Binary(inner) = &*outer.lhs else {
            panic!()
        };
        assert_eq!(
            pos.aggregate_param_start_pos(&inner.lhs).as_deref(),
            Some("1:12")
        );
        // `+(3)`: promql-parser's paren node stands for Prometheus' unary plus, which stays.
        assert_eq!(
            pos.aggregate_param_start_pos(&inner.rhs).as_deref(),
            Some("1:31")
        );
        assert_eq!(pos.aggregate_param_start_pos(&outer.rhs), None);
        assert_eq!(pos.aggregate_param_start_pos(&e), None);
    }

    #[test]
    fn mismatches_degrade_to_none() {
        let e = parse("sum(x)").unwrap();
        assert!(node_positions("rate(x[5m])", &e).is_empty());
        assert!(node_positions("", &e).is_empty());
        assert!(node_positions("sum(", &e).is_empty());
        // Same root, different children: only the root is known.
        let e = parse("x + y").unwrap();
        let pos = node_positions("x + rate(y[5m])", &e);
        assert_eq!(pos.len(), 2);
        assert_eq!(pos.start_pos(&e).as_deref(), Some("1:1"));
        if let Expr::Binary(b) = &e {
            assert_eq!(pos.start_pos(&b.rhs), None);
        }
        // A node of another tree is unknown.
        let other = parse("x + y").unwrap();
        assert_eq!(pos.start_pos(&other), None);
        // Positions computed for one query answer nothing for a tree of another.
        let e = parse("rate(x[5m])").unwrap();
        let pos = node_positions("rate(x[5m])", &e);
        assert_eq!(pos.len(), 2);
        let e2 = parse("rate(x[5m])").unwrap();
        assert_eq!(pos.start_pos(&e2), None);
    }
}
