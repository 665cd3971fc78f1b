//! Warnings and infos that a query raises next to its result, worded as Prometheus words them,
//! with the position of the node they are about.

use std::collections::HashMap;

use promql_parser::parser::Expr;

/// Whether an annotation is a warning or an info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something is likely wrong with the query or data (`PromQL warning:`).
    Warning,
    /// A hint (`PromQL info:`).
    Info,
}

/// The AST node an annotation is about: Prometheus appends that node's `line:col` to the
/// text (` (1:6)`). Nodes are identified by the address of their payload in the tree being
/// evaluated, so an anchor is only meaningful with that tree (see
/// [`Annotations::resolve_positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// Argument `i` of a function call (key: the address of its `Call`).
    CallArg(usize, usize),
    /// The parameter of an aggregation (key: the address of its `AggregateExpr`).
    AggregateParam(usize),
    /// The argument of an aggregation, as written (key: the address of its `AggregateExpr`).
    AggregateExpr(usize),
    /// The aggregation node itself.
    Aggregate(usize),
    /// A binary operation (key: the address of its `BinaryExpr`).
    Binary(usize),
}

/// The node being evaluated, for annotations raised without an explicit anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// A function call (key: its `Call`).
    Call(usize),
    /// An aggregation (key: its `AggregateExpr`).
    Aggregate(usize),
    /// A binary operation (key: its `BinaryExpr`).
    Binary(usize),
}

impl Context {
    /// The context of a function call.
    pub(crate) fn call(c: &promql_parser::parser::Call) -> Context {
        Context::Call(std::ptr::from_ref(c) as usize)
    }

    /// The context of an aggregation.
    pub(crate) fn aggregate(a: &promql_parser::parser::AggregateExpr) -> Context {
        Context::Aggregate(std::ptr::from_ref(a) as usize)
    }

    /// The context of a binary operation.
    pub(crate) fn binary(b: &promql_parser::parser::BinaryExpr) -> Context {
        Context::Binary(std::ptr::from_ref(b) as usize)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    level: Level,
    msg: String,
    anchor: Option<Anchor>,
    pos: Option<String>,
}

/// A deduplicated, ordered set of annotations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Annotations {
    items: Vec<Item>,
    /// The nodes being evaluated, innermost last.
    context: Vec<Context>,
}

impl Annotations {
    /// Adds an annotation unless the same text is already present.
    pub fn add(&mut self, level: Level, msg: String) {
        self.add_item(Item {
            level,
            msg,
            anchor: None,
            pos: None,
        });
    }

    /// Adds an annotation about a node. Prometheus keys annotations by their text without the
    /// position, and a repeat replaces the earlier one: the last node raising a text names it.
    pub(crate) fn add_at(&mut self, level: Level, msg: String, anchor: Anchor) {
        self.add_item(Item {
            level,
            msg,
            anchor: Some(anchor),
            pos: None,
        });
    }

    fn add_item(&mut self, item: Item) {
        match self
            .items
            .iter_mut()
            .find(|i| i.level == item.level && i.msg == item.msg)
        {
            Some(old) => {
                if item.anchor.is_some() || item.pos.is_some() {
                    old.anchor = item.anchor;
                    old.pos = item.pos;
                }
            }
            None => self.items.push(item),
        }
    }

    /// Marks the start of a node's evaluation (paired with [`Annotations::leave`]).
    pub(crate) fn enter(&mut self, c: Context) {
        self.context.push(c);
    }

    /// Marks the end of the innermost node's evaluation.
    pub(crate) fn leave(&mut self) {
        self.context.pop();
    }

    /// The anchor of argument `i` of the function being evaluated, if one is.
    pub(crate) fn arg(&self, i: usize) -> Option<Anchor> {
        match self.context.last() {
            Some(Context::Call(k)) => Some(Anchor::CallArg(*k, i)),
            _ => None,
        }
    }

    /// The anchor of the parameter of the aggregation being evaluated, if one is.
    pub(crate) fn param(&self) -> Option<Anchor> {
        match self.context.last() {
            Some(Context::Aggregate(k)) => Some(Anchor::AggregateParam(*k)),
            _ => None,
        }
    }

    /// The anchor of the aggregation node being evaluated, if one is.
    pub(crate) fn node(&self) -> Option<Anchor> {
        match self.context.last() {
            Some(Context::Aggregate(k)) => Some(Anchor::Aggregate(*k)),
            Some(Context::Binary(k)) => Some(Anchor::Binary(*k)),
            _ => None,
        }
    }

    /// The anchor Prometheus uses for a problem with the operands of the node being evaluated:
    /// a function's first argument, an aggregation's argument, a binary operation.
    pub(crate) fn operand(&self) -> Option<Anchor> {
        self.context.last().map(|c| match *c {
            Context::Call(k) => Anchor::CallArg(k, 0),
            Context::Aggregate(k) => Anchor::AggregateExpr(k),
            Context::Binary(k) => Anchor::Binary(k),
        })
    }

    /// Adds a warning about `anchor` when known, else a plain one.
    pub(crate) fn warn_opt(&mut self, anchor: Option<Anchor>, msg: impl Into<String>) {
        let msg = format!("PromQL warning: {}", msg.into());
        match anchor {
            Some(a) => self.add_at(Level::Warning, msg, a),
            None => self.add(Level::Warning, msg),
        }
    }

    /// Adds an info about `anchor` when known, else a plain one.
    pub(crate) fn info_opt(&mut self, anchor: Option<Anchor>, msg: impl Into<String>) {
        let msg = format!("PromQL info: {}", msg.into());
        match anchor {
            Some(a) => self.add_at(Level::Info, msg, a),
            None => self.add(Level::Info, msg),
        }
    }

    /// Adds a warning; `msg` is the text after `PromQL warning: `. Raised while a node is
    /// being evaluated, it is about that node's operand (see [`Annotations::operand`]).
    pub fn warn(&mut self, msg: impl Into<String>) {
        let msg = format!("PromQL warning: {}", msg.into());
        match self.operand() {
            Some(a) => self.add_at(Level::Warning, msg, a),
            None => self.add(Level::Warning, msg),
        }
    }

    /// Adds an info; `msg` is the text after `PromQL info: `. Raised while a node is being
    /// evaluated, it is about that node's operand (see [`Annotations::operand`]).
    pub fn info(&mut self, msg: impl Into<String>) {
        let msg = format!("PromQL info: {}", msg.into());
        match self.operand() {
            Some(a) => self.add_at(Level::Info, msg, a),
            None => self.add(Level::Info, msg),
        }
    }

    /// Gives every annotation raised about a node of `expr` (the tree that was evaluated, not
    /// a copy) Prometheus' position suffix, computed from `query`, the text `expr` was parsed
    /// from. Annotations whose node has no position keep their bare text.
    pub fn resolve_positions(&mut self, query: &str, expr: &Expr) {
        if self.items.iter().all(|i| i.anchor.is_none()) {
            return;
        }
        let positions = crate::parse::node_positions(query, expr);
        let mut nodes: HashMap<usize, &Expr> = HashMap::new();
        index_nodes(expr, &mut nodes);
        for item in &mut self.items {
            let Some(anchor) = item.anchor.take() else {
                continue;
            };
            let pos = match anchor {
                Anchor::CallArg(k, i) => nodes
                    .get(&k)
                    .and_then(|n| positions.call_arg_start_pos(n, i)),
                Anchor::AggregateParam(k) => nodes
                    .get(&k)
                    .and_then(|n| positions.aggregate_param_start_pos(n)),
                Anchor::AggregateExpr(k) => match nodes.get(&k) {
                    Some(Expr::Aggregate(a)) => positions.start_pos(&a.expr),
                    _ => None,
                },
                Anchor::Aggregate(k) | Anchor::Binary(k) => {
                    nodes.get(&k).and_then(|n| positions.start_pos(n))
                }
            };
            if pos.is_some() {
                item.pos = pos;
            }
        }
    }

    /// Merges another set into this one.
    pub fn merge(&mut self, other: Annotations) {
        for item in other.items {
            self.add_item(item);
        }
    }

    /// Returns the warning texts.
    pub fn warnings(&self) -> Vec<String> {
        self.of(Level::Warning)
    }

    /// Returns the info texts.
    pub fn infos(&self) -> Vec<String> {
        self.of(Level::Info)
    }

    /// Returns whether there are no annotations.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Returns the texts of one level without their position suffixes.
    pub fn texts(&self, level: Level) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| i.level == level)
            .map(|i| i.msg.clone())
            .collect()
    }

    fn of(&self, level: Level) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| i.level == level)
            .map(|i| match &i.pos {
                Some(p) => format!("{} ({p})", i.msg),
                None => i.msg.clone(),
            })
            .collect()
    }
}

/// Maps the payload address of every call, aggregation and binary node of `e` to its node.
fn index_nodes<'e>(e: &'e Expr, out: &mut HashMap<usize, &'e Expr>) {
    match e {
        Expr::Call(c) => {
            out.insert(std::ptr::from_ref(c) as usize, e);
            for a in &c.args.args {
                index_nodes(a, out);
            }
        }
        Expr::Aggregate(a) => {
            out.insert(std::ptr::from_ref(a) as usize, e);
            index_nodes(&a.expr, out);
            if let Some(p) = &a.param {
                index_nodes(p, out);
            }
        }
        Expr::Binary(b) => {
            out.insert(std::ptr::from_ref(b) as usize, e);
            index_nodes(&b.lhs, out);
            index_nodes(&b.rhs, out);
        }
        Expr::Unary(u) => index_nodes(&u.expr, out),
        Expr::Paren(p) => index_nodes(&p.expr, out),
        Expr::Subquery(s) => index_nodes(&s.expr, out),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => {}
    }
}
