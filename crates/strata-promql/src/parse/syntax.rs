//! A recursive-descent recogniser for PromQL that reports errors as Prometheus 3.5 does: the
//! same message, at the same `line:col`.
//!
//! Prometheus parses with a yacc grammar whose error productions decide the wording of syntax
//! errors ("unexpected X in label matching, expected string"): an error is reported in the
//! context of the innermost construct that has such a production. Here every construct with an
//! error production pushes a *catcher* while it is being parsed; an unexpected token is
//! reported with the innermost catcher's context (or bare, as the grammar's top-level fallback
//! does). Semantic errors found while parsing (bad regex, unknown function, offset twice, …)
//! are recorded in parse order; only when there are none does the type checker run, in the
//! order of Prometheus' `checkAST`. As in Prometheus, the first error recorded is the one
//! reported.
//!
//! Duration expressions are evaluated as Prometheus does before running a query, and their
//! errors (a range that comes out non-positive, a division by zero) are reported, without
//! position prefix, when the query otherwise parses.
//!
//! The recogniser builds only what the checks need (types, positions, modifiers); the crate's
//! evaluator still works on `promql-parser`'s AST. For the constructs Prometheus accepts and
//! `promql-parser` does not, the recogniser also returns text rewrites with the same meaning
//! (durations folded to milliseconds, colons in grouping labels quoted, …).

use super::goregex::go_regex_error;
use super::lexer::{Aggr, Kind, Lexed, Token, is_space, lex};
use super::quote::go_quote;
use super::{INVALID_BYTE_BASE, functions};

/// What the recogniser accepts beyond the default language.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Features {
    /// Experimental functions and the `limitk` / `limit_ratio` aggregations.
    pub(crate) experimental_functions: bool,
    /// Duration arithmetic in ranges, steps and offsets (`[5m+1m]`, `offset (1h/2)`).
    pub(crate) duration_expressions: bool,
}

/// A label matcher as written (value unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelMatcher {
    pub(crate) name: String,
    pub(crate) op: Kind,
    pub(crate) value: String,
}

/// The value types of PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Scalar,
    Vector,
    Matrix,
    Str,
}

impl Ty {
    /// The name in type errors ("range vector").
    fn documented(self) -> &'static str {
        match self {
            Ty::Scalar => "scalar",
            Ty::Vector => "instant vector",
            Ty::Matrix => "range vector",
            Ty::Str => "string",
        }
    }

    /// The internal name ("matrix").
    fn internal(self) -> &'static str {
        match self {
            Ty::Scalar => "scalar",
            Ty::Vector => "vector",
            Ty::Matrix => "matrix",
            Ty::Str => "string",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

#[derive(Debug)]
struct Selector {
    name: Option<String>,
    matchers: Vec<LabelMatcher>,
    offset_set: bool,
    at_set: bool,
    /// `@ <timestamp>` (not `@ start()`/`@ end()`), which a range may not follow.
    at_timestamp: bool,
    /// Where `@ start()` / `@ end()` was written, to move it behind a range for
    /// promql-parser.
    at_span: Option<(usize, usize)>,
    bypass_empty_check: bool,
}

#[derive(Debug)]
enum N {
    Num,
    Str,
    Vector(Selector),
    Matrix(Box<Node>),
    Subquery {
        expr: Box<Node>,
        offset_set: bool,
        at_set: bool,
    },
    Call {
        func: Option<&'static functions::Func>,
        args: Vec<Node>,
    },
    Aggregate {
        op: Aggr,
        param: Option<Box<Node>>,
        expr: Option<Box<Node>>,
        /// Whether a `by`/`without` clause was written (before or after the arguments).
        grouped: bool,
    },
    Binary {
        op: Kind,
        lhs: Box<Node>,
        rhs: Box<Node>,
        return_bool: bool,
        card: Card,
        on: bool,
        matching: Vec<String>,
        include: Vec<String>,
    },
    Paren(Box<Node>),
    Unary(Box<Node>),
}

/// A parsed expression: what the checks need, with its byte range in the query.
#[derive(Debug)]
pub(super) struct Node {
    n: N,
    start: usize,
    end: usize,
    /// For number literals: the value (after folding a unary sign).
    num: f64,
    /// The value type, computed once from the children (trees can be deep).
    ty: Ty,
}

impl Node {
    fn new(n: N, start: usize, end: usize) -> Self {
        let ty = match &n {
            N::Num => Ty::Scalar,
            N::Str => Ty::Str,
            N::Vector(_) | N::Aggregate { .. } => Ty::Vector,
            N::Matrix(_) | N::Subquery { .. } => Ty::Matrix,
            N::Call { func, .. } => func.map_or(Ty::Vector, |f| ty_of(f.ret)),
            N::Binary { lhs, rhs, .. } => {
                if lhs.ty == Ty::Scalar && rhs.ty == Ty::Scalar {
                    Ty::Scalar
                } else {
                    Ty::Vector
                }
            }
            N::Paren(e) | N::Unary(e) => e.ty,
        };
        Node {
            n,
            start,
            end,
            num: 0.0,
            ty,
        }
    }

    fn ty(&self) -> Ty {
        self.ty
    }
}

fn ty_of(t: functions::ArgType) -> Ty {
    match t {
        functions::ArgType::Scalar => Ty::Scalar,
        functions::ArgType::Vector => Ty::Vector,
        functions::ArgType::Matrix => Ty::Matrix,
        functions::ArgType::Str => Ty::Str,
    }
}

/// A duration expression inside brackets or after `offset`: a literal (with its value) or
/// arithmetic.
#[derive(Debug, Clone, Copy)]
struct Dur {
    start: usize,
    end: usize,
    /// The value when Prometheus' parser holds a number literal here.
    literal: Option<f64>,
    /// The value in seconds, as Prometheus evaluates the expression before running a query.
    value: f64,
    /// The first error that evaluation reports (division by zero in arithmetic).
    eval_error: Option<&'static str>,
}

impl Dur {
    fn lit(start: usize, end: usize, v: f64) -> Self {
        Dur {
            start,
            end,
            literal: Some(v),
            value: v,
            eval_error: None,
        }
    }
}

/// Parsing stopped: the first error has been recorded (or, for `Unexpected`, Prometheus'
/// parser would have panicked and reports just "unexpected error").
#[derive(Debug)]
enum Stop {
    Error,
    Panic,
}

type R<T> = Result<T, Stop>;

/// The context of an error production: `unexpected X in <context>, expected <expected>`.
#[derive(Debug, Clone, Copy)]
struct Catcher {
    context: &'static str,
    expected: &'static str,
}

const AGGREGATION: Catcher = Catcher {
    context: "aggregation",
    expected: "",
};

struct Parser<'a> {
    input: &'a str,
    toks: &'a [Token],
    lex_error: &'a Option<(usize, String)>,
    i: usize,
    errors: Vec<(usize, String)>,
    catchers: Vec<Catcher>,
    features: Features,
    /// Text replacements (byte range, new text) that make the query acceptable to
    /// `promql-parser` without changing its meaning.
    rewrites: Vec<Rewrite>,
    /// Errors of the evaluation preparation (see `error_unpositioned`).
    prepare_errors: Vec<String>,
}

/// A replacement of `input[start..end]`.
pub(crate) type Rewrite = (usize, usize, String);

/// Formats an error at a byte offset as Prometheus does: `line:col: parse error: msg`.
pub(crate) fn format_error(input: &str, pos: usize, msg: &str) -> String {
    if input.is_empty() {
        return format!("unknown position: parse error: {msg}");
    }
    if pos > input.len() {
        return format!("invalid position: parse error: {msg}");
    }
    let before = &input.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = pos - line_start + 1;
    format!("{line}:{col}: parse error: {msg}")
}

/// Tokens up to which checking runs on the caller's stack; longer queries (whose trees can be
/// as deep as they are long) are checked on a thread with a stack sized for them.
const INLINE_TOKENS: usize = 64;

/// Stack bytes reserved per token for long queries (recursion per nesting level, unoptimised
/// builds included).
const STACK_PER_TOKEN: usize = 16 << 10;

/// Checks a PromQL expression; `Err` holds Prometheus' error text for it. `Ok` holds the
/// rewrites that bring the query within what `promql-parser` accepts, in query order.
pub(crate) fn check_expr(input: &str, features: Features) -> Result<Vec<Rewrite>, String> {
    let lexed = lex(input);
    if lexed.tokens.len() <= INLINE_TOKENS {
        return check_lexed(input, &lexed, features);
    }
    let stack = (lexed.tokens.len() * STACK_PER_TOKEN + (1 << 20)).min(1 << 30);
    let lexed_ref = &lexed;
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("promql-check".into())
            .stack_size(stack)
            .spawn_scoped(scope, move || check_lexed(input, lexed_ref, features));
        match worker {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err("unexpected error".into())),
            // No thread to be had: check here, as on a short query.
            Err(_) => check_lexed(input, lexed_ref, features),
        }
    })
}

fn check_lexed(input: &str, lexed: &Lexed, features: Features) -> Result<Vec<Rewrite>, String> {
    let mut p = Parser::new(input, lexed, features);
    let result = p.top_expr();
    p.finish(result)?;
    let mut rewrites = std::mem::take(&mut p.rewrites);
    rewrites.sort_by_key(|r| r.0);
    Ok(rewrites)
}

/// The shape of a parsed node as `parse::positions` sees it: its kind and children.
pub(super) enum Shape<'n> {
    /// A number literal (a leading sign folded in).
    Num,
    /// A string literal.
    Str,
    /// A vector selector.
    Vector,
    /// A range selector over its vector selector.
    Matrix(&'n Node),
    /// A subquery over its expression.
    Subquery(&'n Node),
    /// A function call; the name is `None` for unknown functions.
    Call {
        name: Option<&'static str>,
        args: &'n [Node],
    },
    /// An aggregation (`param`/`expr` are `None` on a wrong argument count).
    Aggregate {
        grouped: bool,
        param: Option<&'n Node>,
        expr: Option<&'n Node>,
    },
    /// A binary operation.
    Binary(&'n Node, &'n Node),
    /// A parenthesised expression.
    Paren(&'n Node),
    /// A unary `+` (`plus`) or `-` over a non-literal.
    Unary { plus: bool, expr: &'n Node },
}

impl Node {
    /// The node's kind and children.
    pub(super) fn shape(&self, input: &str) -> Shape<'_> {
        match &self.n {
            N::Num => Shape::Num,
            N::Str => Shape::Str,
            N::Vector(_) => Shape::Vector,
            N::Matrix(e) => Shape::Matrix(e),
            N::Subquery { expr, .. } => Shape::Subquery(expr),
            N::Call { func, args } => Shape::Call {
                name: func.map(|f| f.name),
                args,
            },
            N::Aggregate {
                param,
                expr,
                grouped,
                ..
            } => Shape::Aggregate {
                grouped: *grouped,
                param: param.as_deref(),
                expr: expr.as_deref(),
            },
            N::Binary { lhs, rhs, .. } => Shape::Binary(lhs, rhs),
            N::Paren(e) => Shape::Paren(e),
            N::Unary(e) => Shape::Unary {
                plus: input.as_bytes().get(self.start) == Some(&b'+'),
                expr: e,
            },
        }
    }

    /// The byte range the checker recorded: where the node starts, and where its last token
    /// (modifiers included) ends.
    pub(super) fn span(&self) -> (usize, usize) {
        (self.start, self.end)
    }
}

/// Parses `input` (every feature enabled) and hands the expression tree and the tokens to `f`;
/// `None` if parsing stops at an error. Long queries are parsed, and `f` run, on a thread with
/// a stack sized for them, as in [`check_expr`].
pub(super) fn with_tree<T: Send>(
    input: &str,
    f: impl FnOnce(&Node, &[Token]) -> T + Send,
) -> Option<T> {
    let features = Features {
        experimental_functions: true,
        duration_expressions: true,
    };
    let lexed = lex(input);
    let run = move |lexed: &Lexed| {
        let mut p = Parser::new(input, lexed, features);
        let tree = p.tree().ok()?;
        Some(f(&tree, &lexed.tokens))
    };
    if lexed.tokens.len() <= INLINE_TOKENS {
        return run(&lexed);
    }
    let stack = (lexed.tokens.len() * STACK_PER_TOKEN + (1 << 20)).min(1 << 30);
    let lexed_ref = &lexed;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("promql-tree".into())
            .stack_size(stack)
            .spawn_scoped(scope, move || run(lexed_ref))
            .ok()
            .and_then(|handle| handle.join().ok().flatten())
    })
}

/// Applies non-overlapping rewrites (sorted by start) to a query.
pub(crate) fn apply_rewrites(input: &str, rewrites: &[Rewrite]) -> String {
    let mut out = String::with_capacity(input.len());
    let mut at = 0;
    for (start, end, text) in rewrites {
        if *start < at || *end > input.len() {
            continue;
        }
        out.push_str(&input[at..*start]);
        out.push_str(text);
        at = *end;
    }
    out.push_str(&input[at..]);
    out
}

/// Parses a series selector (`match[]`) as Prometheus' `ParseMetricSelector`: returns the
/// matchers, the metric name's (if written outside braces) last.
pub(crate) fn metric_selector(input: &str) -> Result<Vec<LabelMatcher>, String> {
    let lexed = lex(input);
    let mut p = Parser::new(
        input,
        &lexed,
        Features {
            experimental_functions: true,
            duration_expressions: true,
        },
    );
    let result = p.top_selector();
    match result {
        Ok(mut sel) if p.errors.is_empty() => {
            if let Some(name) = sel.name.take() {
                sel.matchers.push(LabelMatcher {
                    name: "__name__".into(),
                    op: Kind::Eql,
                    value: name,
                });
            }
            Ok(sel.matchers)
        }
        Ok(_) => p.finish(Ok(())).map(|()| Vec::new()),
        Err(e) => p.finish(Err(e)).map(|()| Vec::new()),
    }
}

fn is_metric_identifier(k: Kind) -> bool {
    matches!(
        k,
        Kind::Aggr(_)
            | Kind::By
            | Kind::Ident
            | Kind::And
            | Kind::Or
            | Kind::Unless
            | Kind::MetricIdent
            | Kind::Offset
            | Kind::Without
            | Kind::Start
            | Kind::End
    )
}

fn is_maybe_label(k: Kind) -> bool {
    is_metric_identifier(k)
        || matches!(
            k,
            Kind::Bool
                | Kind::GroupLeft
                | Kind::GroupRight
                | Kind::Ignoring
                | Kind::On
                | Kind::Atan2
        )
}

fn starts_expr(k: Kind) -> bool {
    is_metric_identifier(k)
        || matches!(
            k,
            Kind::Number
                | Kind::Duration
                | Kind::Str
                | Kind::LParen
                | Kind::LBrace
                | Kind::Add
                | Kind::Sub
        )
}

fn is_match_op(k: Kind) -> bool {
    matches!(k, Kind::Eql | Kind::Neq | Kind::EqlRegex | Kind::NeqRegex)
}

fn is_comparison(k: Kind) -> bool {
    matches!(
        k,
        Kind::EqlC | Kind::Neq | Kind::Lte | Kind::Lss | Kind::Gte | Kind::Gtr
    )
}

fn is_set_op(k: Kind) -> bool {
    matches!(k, Kind::And | Kind::Or | Kind::Unless)
}

/// Binding power of a binary operator and whether it is right-associative.
fn binary_precedence(k: Kind) -> Option<(u8, bool)> {
    Some(match k {
        Kind::Or => (1, false),
        Kind::And | Kind::Unless => (2, false),
        Kind::EqlC | Kind::Neq | Kind::Lte | Kind::Lss | Kind::Gte | Kind::Gtr => (3, false),
        Kind::Add | Kind::Sub => (4, false),
        Kind::Mul | Kind::Div | Kind::Mod | Kind::Atan2 => (5, false),
        Kind::Pow => (6, true),
        _ => return None,
    })
}

/// The precedence unary `+`/`-` takes (that of `*`): only `^` binds tighter.
const UNARY_OPERAND: u8 = 6;

/// The largest duration in seconds Prometheus accepts (`1<<63 / 1e9`).
const MAX_DURATION_SECONDS: f64 = 9_223_372_036.854_775;

/// Operator names as Prometheus prints them in `%q`.
fn op_name(k: Kind) -> &'static str {
    match k {
        Kind::And => "and",
        Kind::Or => "or",
        Kind::Unless => "unless",
        _ => "",
    }
}

/// Go's `%f` for a float: six decimals, `+Inf`, `-Inf`, `NaN`.
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v:.6}")
    }
}

/// Parses a number token as Prometheus (`strconv.ParseInt(s, 0, 64)`, then `ParseFloat`).
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    let lower = text.to_ascii_lowercase();
    if lower == "inf" {
        return Ok(f64::INFINITY);
    }
    if lower == "nan" {
        return Ok(f64::NAN);
    }
    let invalid = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(text)
        )
    };
    if text.contains('_') && !underscores_ok(text) {
        return Err(invalid());
    }
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(hex) = clean
        .strip_prefix("0x")
        .or_else(|| clean.strip_prefix("0X"))
    {
        return i64::from_str_radix(hex, 16)
            .map(|v| v as f64)
            .map_err(|_| invalid());
    }
    if clean.len() > 1
        && clean.starts_with('0')
        && clean.bytes().all(|b| b.is_ascii_digit())
        && let Ok(v) = i64::from_str_radix(&clean[1..], 8)
    {
        return Ok(v as f64);
    }
    match clean.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(text)
        )),
        Ok(v) => Ok(v),
        Err(_) => Err(invalid()),
    }
}

/// Whether the `_` in a number sit between digits (or after a base prefix), as Go's
/// `strconv` requires.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    // What was seen last: b'^' start, b'0' digit or prefix, b'_' underscore, b'!' other.
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Parses a duration token as Prometheus' `model.ParseDuration`; returns seconds.
pub(crate) fn parse_duration(text: &str) -> Result<f64, String> {
    parse_duration_millis(text).map(|ms| ms as f64 / 1000.0)
}

/// Parses a duration as Prometheus' `model.ParseDuration` (units `y w d h m s ms`, each at
/// most once and in that order, or `0`), with Go's error texts; returns milliseconds.
pub(crate) fn parse_duration_millis(text: &str) -> Result<i64, String> {
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("empty duration string".into());
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(text));
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let b = text.as_bytes();
    let mut i = 0;
    let mut last_unit: Option<usize> = None;
    let mut total_ms: u128 = 0;
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return Err(invalid());
        }
        // Go parses each number as a 64-bit unsigned integer.
        let n: u64 = text[st..i].parse().map_err(|_| invalid())?;
        let n = u128::from(n);
        let us = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        if us == i {
            return Err(invalid());
        }
        let unit = &text[us..i];
        let Some(idx) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                go_quote(unit),
                go_quote(text)
            ));
        };
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(invalid());
        }
        last_unit = Some(idx);
        total_ms = total_ms.saturating_add(n.saturating_mul(u128::from(UNITS[idx].1)));
        if total_ms.saturating_mul(1_000_000) > i64::MAX as u128 {
            return Err("duration out of range".into());
        }
    }
    i64::try_from(total_ms).map_err(|_| "duration out of range".to_owned())
}

/// Unquotes a string token (quoted or raw) as Prometheus does. Bytes that do not form valid
/// UTF-8 become private-use code points (see `INVALID_BYTE_BASE`).
pub(crate) fn unquote(text: &str) -> String {
    let Some(q) = text.chars().next() else {
        return String::new();
    };
    let body = &text[q.len_utf8()..text.len().saturating_sub(q.len_utf8()).max(q.len_utf8())];
    if q == '`' {
        return body.to_string();
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(body.len());
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let push_char = |bytes: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' || i >= chars.len() {
            push_char(&mut bytes, c);
            continue;
        }
        let e = chars[i];
        i += 1;
        let simple = match e {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '\'' | '"' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            push_char(&mut bytes, s);
            continue;
        }
        let (n, radix) = match e {
            '0'..='7' => (2, 8),
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            _ => {
                push_char(&mut bytes, e);
                continue;
            }
        };
        let mut digits: String = if radix == 8 {
            e.to_string()
        } else {
            String::new()
        };
        for _ in 0..n {
            if let Some(&d) = chars.get(i) {
                digits.push(d);
                i += 1;
            }
        }
        let v = u32::from_str_radix(&digits, radix).unwrap_or(0xFFFD);
        if e == 'x' || radix == 8 {
            bytes.push(v as u8);
        } else {
            push_char(&mut bytes, char::from_u32(v).unwrap_or('\u{fffd}'));
        }
    }
    let mut out = String::new();
    let mut rest: &[u8] = &bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(err) => {
                let (good, bad) = rest.split_at(err.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = err.error_len().unwrap_or(bad.len()).max(1);
                for b in &bad[..n] {
                    out.push(
                        char::from_u32(INVALID_BYTE_BASE + u32::from(*b)).unwrap_or('\u{fffd}'),
                    );
                }
                rest = &bad[n..];
            }
        }
    }
    out
}

/// Whether a label name is valid under Prometheus 3's UTF-8 name validation.
fn valid_label_name(s: &str) -> bool {
    !s.is_empty() && !super::has_invalid_utf8(s)
}

/// Whether a matcher matches the empty string.
fn matches_empty(m: &LabelMatcher) -> bool {
    match m.op {
        Kind::Eql => m.value.is_empty(),
        Kind::Neq => !m.value.is_empty(),
        Kind::EqlRegex | Kind::NeqRegex => {
            let re = regex::Regex::new(&format!("^(?s:{})$", m.value));
            let empty = re.map(|r| r.is_match("")).unwrap_or(false);
            if m.op == Kind::EqlRegex {
                empty
            } else {
                !empty
            }
        }
        _ => false,
    }
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, lexed: &'a Lexed, features: Features) -> Self {
        Parser {
            input,
            toks: &lexed.tokens,
            lex_error: &lexed.error,
            i: 0,
            errors: Vec::new(),
            catchers: Vec::new(),
            features,
            rewrites: Vec::new(),
            prepare_errors: Vec::new(),
        }
    }

    /// Turns the outcome into Prometheus' error text.
    fn finish(&mut self, result: R<()>) -> Result<(), String> {
        if let Err(Stop::Panic) = result {
            return Err("unexpected error".into());
        }
        match (self.errors.first(), self.prepare_errors.first()) {
            (Some((pos, msg)), _) => Err(format_error(self.input, *pos, msg)),
            (None, Some(msg)) => Err(msg.clone()),
            (None, None) => Ok(()),
        }
    }

    fn error(&mut self, pos: usize, msg: impl Into<String>) {
        self.errors.push((pos, msg.into()));
    }

    /// Records an error Prometheus reports when it prepares a parsed query for evaluation
    /// (duration expressions), without `line:col: parse error:`; it counts only if the query
    /// parses.
    fn error_unpositioned(&mut self, msg: String) {
        self.prepare_errors.push(msg);
    }

    /// The next token; reaching the lexer's error records it and stops.
    fn peek(&mut self) -> R<&'a Token> {
        if let Some(t) = self.toks.get(self.i) {
            return Ok(t);
        }
        if let Some((pos, msg)) = self.lex_error {
            self.errors.push((*pos, msg.clone()));
        }
        Err(Stop::Error)
    }

    /// The token after the next one, if the lexer produced it.
    fn peek2(&self) -> Option<&'a Token> {
        self.toks.get(self.i + 1)
    }

    fn bump(&mut self) -> &'a Token {
        let t = &self.toks[self.i];
        self.i += 1;
        t
    }

    fn prev_end(&self) -> usize {
        self.i
            .checked_sub(1)
            .and_then(|j| self.toks.get(j))
            .map_or(0, Token::end)
    }

    /// Reports the next token as unexpected in `catcher`'s context (or the innermost
    /// active catcher's, or bare).
    /// After an item of a comma-separated list closed by `close` (a trailing comma allowed):
    /// consumes the comma and/or `close`; returns whether the list ended. Anything else is an
    /// error in `next`'s words.
    fn list_item_end(&mut self, close: Kind, next: Catcher) -> R<bool> {
        let kind = self.peek()?.kind;
        if kind == Kind::Comma {
            self.bump();
            if self.peek()?.kind != close {
                return Ok(false);
            }
        } else if kind != close {
            return Err(self.unexpected_in(Some(next)));
        }
        self.bump();
        Ok(true)
    }

    fn unexpected_in(&mut self, catcher: Option<Catcher>) -> Stop {
        let tok = match self.peek() {
            Ok(t) => t,
            Err(stop) => return stop,
        };
        let mut msg = format!("unexpected {}", tok.describe());
        if let Some(c) = catcher.or_else(|| self.catchers.last().copied()) {
            if !c.context.is_empty() {
                msg.push_str(" in ");
                msg.push_str(c.context);
            }
            if !c.expected.is_empty() {
                msg.push_str(", expected ");
                msg.push_str(c.expected);
            }
        }
        self.error(tok.pos, msg);
        Stop::Error
    }

    fn unexpected(&mut self) -> Stop {
        self.unexpected_in(None)
    }

    fn with_catcher<T>(&mut self, c: Catcher, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        self.catchers.push(c);
        let r = f(self);
        self.catchers.pop();
        r
    }

    // ---- entry points ----

    fn top_expr(&mut self) -> R<()> {
        if self.peek()?.kind == Kind::Eof {
            self.error(0, "no expression found in input");
            return Ok(());
        }
        let mut e = self.expr(0)?;
        if self.peek()?.kind != Kind::Eof {
            return Err(self.unexpected());
        }
        if self.errors.is_empty() {
            self.check(&mut e)?;
        }
        Ok(())
    }

    /// The whole input as one expression, without type checking.
    fn tree(&mut self) -> R<Node> {
        let e = self.expr(0)?;
        if self.peek()?.kind != Kind::Eof {
            return Err(self.unexpected());
        }
        Ok(e)
    }

    fn top_selector(&mut self) -> R<Selector> {
        let t = self.peek()?;
        let sel = if is_metric_identifier(t.kind) {
            let t = self.bump();
            let mut sel = Selector {
                name: Some(t.text.clone()),
                matchers: Vec::new(),
                offset_set: false,
                at_set: false,
                at_timestamp: false,
                at_span: None,
                bypass_empty_check: false,
            };
            if self.peek()?.kind == Kind::LBrace {
                sel.matchers = self.label_matchers()?;
            }
            sel
        } else if t.kind == Kind::LBrace {
            Selector {
                name: None,
                matchers: self.label_matchers()?,
                offset_set: false,
                at_set: false,
                at_timestamp: false,
                at_span: None,
                bypass_empty_check: false,
            }
        } else {
            return Err(self.unexpected());
        };
        if self.peek()?.kind != Kind::Eof {
            return Err(self.unexpected());
        }
        Ok(sel)
    }

    // ---- expressions ----

    fn expr(&mut self, min_prec: u8) -> R<Node> {
        let mut lhs = self.unary()?;
        loop {
            let t = self.peek()?;
            let Some((prec, right)) = binary_precedence(t.kind) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            let op = self.bump().kind;
            let mut return_bool = false;
            let mut on = false;
            let mut matching = Vec::new();
            let mut include = Vec::new();
            let mut card = Card::OneToOne;
            if self.peek()?.kind == Kind::Bool {
                self.bump();
                return_bool = true;
            }
            let k = self.peek()?.kind;
            if k == Kind::On || k == Kind::Ignoring {
                self.bump();
                on = k == Kind::On;
                matching = self.grouping_labels()?;
                let g = self.peek()?.kind;
                if g == Kind::GroupLeft || g == Kind::GroupRight {
                    self.bump();
                    card = if g == Kind::GroupLeft {
                        Card::ManyToOne
                    } else {
                        Card::OneToMany
                    };
                    // Labels are optional, but what follows must then start the right side;
                    // anything else is reported as a bad grouping.
                    let next = self.peek()?.kind;
                    if next == Kind::LParen || !starts_expr(next) {
                        include = self.grouping_labels()?;
                    }
                }
            }
            let rhs = self.expr(if right { prec } else { prec + 1 })?;
            let (start, end) = (lhs.start, rhs.end);
            lhs = Node::new(
                N::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    return_bool,
                    card,
                    on,
                    matching,
                    include,
                },
                start,
                end,
            );
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> R<Node> {
        let t = self.peek()?;
        if t.kind != Kind::Add && t.kind != Kind::Sub {
            return self.postfix();
        }
        let op = self.bump();
        let operand = self.expr(UNARY_OPERAND)?;
        let end = operand.end;
        if let N::Num = operand.n {
            let mut n = operand;
            if op.kind == Kind::Sub {
                n.num = -n.num;
            }
            n.start = op.pos;
            return Ok(n);
        }
        Ok(Node::new(N::Unary(Box::new(operand)), op.pos, end))
    }

    /// A primary expression followed by any `[…]`, `offset` and `@` modifiers.
    fn postfix(&mut self) -> R<Node> {
        let mut e = self.primary()?;
        loop {
            match self.peek()?.kind {
                Kind::LBracket => e = self.brackets(e)?,
                Kind::Offset => e = self.offset(e)?,
                Kind::At => e = self.at(e)?,
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> R<Node> {
        let t = self.peek()?;
        match t.kind {
            Kind::Number | Kind::Duration => {
                let t = self.bump();
                let v = self.literal_value(t);
                if t.kind == Kind::Duration && v.is_finite() {
                    // A duration used as a number is its seconds; promql-parser refuses `0s`.
                    self.rewrites.push((t.pos, t.end(), format!("{v}")));
                }
                let mut n = Node::new(N::Num, t.pos, t.end());
                n.num = v;
                Ok(n)
            }
            Kind::Str => {
                let t = self.bump();
                Ok(Node::new(N::Str, t.pos, t.end()))
            }
            Kind::LParen => {
                let open = self.bump();
                let inner = self.expr(0)?;
                if self.peek()?.kind != Kind::RParen {
                    return Err(self.unexpected());
                }
                let close = self.bump();
                Ok(Node::new(N::Paren(Box::new(inner)), open.pos, close.end()))
            }
            Kind::LBrace => {
                let start = t.pos;
                let matchers = self.label_matchers()?;
                Ok(Node::new(
                    N::Vector(Selector {
                        name: None,
                        matchers,
                        offset_set: false,
                        at_set: false,
                        at_timestamp: false,
                        at_span: None,
                        bypass_empty_check: false,
                    }),
                    start,
                    self.prev_end(),
                ))
            }
            Kind::Aggr(op)
                if self
                    .peek2()
                    .is_some_and(|n| matches!(n.kind, Kind::LParen | Kind::By | Kind::Without)) =>
            {
                self.aggregate(op)
            }
            Kind::Ident if self.peek2().is_some_and(|n| n.kind == Kind::LParen) => self.call(),
            k if is_metric_identifier(k) => {
                let t = self.bump();
                let mut matchers = Vec::new();
                if self.peek()?.kind == Kind::LBrace {
                    matchers = self.label_matchers()?;
                }
                Ok(Node::new(
                    N::Vector(Selector {
                        name: Some(t.text.clone()),
                        matchers,
                        offset_set: false,
                        at_set: false,
                        at_timestamp: false,
                        at_span: None,
                        bypass_empty_check: false,
                    }),
                    t.pos,
                    self.prev_end(),
                ))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// The value of a number or duration token, recording its parse error.
    fn literal_value(&mut self, t: &Token) -> f64 {
        let r = if t.kind == Kind::Duration {
            parse_duration(&t.text)
        } else {
            parse_number(&t.text).map_err(|e| format!("error parsing number: {e}"))
        };
        match r {
            Ok(v) => {
                let b = t.text.as_bytes();
                // Go reads `010` as octal; promql-parser fails on `0e1` and `011e0`.
                let octal = b.len() > 1 && b[0] == b'0' && !matches!(b[1], b'x' | b'X' | b'.');
                if t.kind == Kind::Number && v.is_finite() && (octal || t.text.contains('_')) {
                    // promql-parser does not read these as Go does (`0x_1` is hex).
                    self.rewrites.push((t.pos, t.end(), format!("{v}")));
                }
                v
            }
            Err(e) => {
                self.error(t.pos, e);
                0.0
            }
        }
    }

    /// `(arg, …)` of a function call or aggregation; the `(` is next.
    fn call_args(&mut self) -> R<(Vec<Node>, usize)> {
        self.bump();
        let mut args = Vec::new();
        if self.peek()?.kind == Kind::RParen {
            let close = self.bump();
            return Ok((args, close.end()));
        }
        if !starts_expr(self.peek()?.kind) {
            return Err(self.unexpected());
        }
        args.push(self.expr(0)?);
        loop {
            match self.peek()?.kind {
                Kind::RParen => {
                    let close = self.bump();
                    return Ok((args, close.end()));
                }
                Kind::Comma => {
                    let comma = self.bump();
                    if starts_expr(self.peek()?.kind) {
                        args.push(self.expr(0)?);
                    } else {
                        self.error(
                            comma.pos,
                            "trailing commas not allowed in function call args",
                        );
                    }
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn call(&mut self) -> R<Node> {
        let name = self.bump();
        let (args, end) = self.call_args()?;
        let func = functions::get(&name.text);
        match func {
            None => self.error(
                name.pos,
                format!("unknown function with name {}", go_quote(&name.text)),
            ),
            Some(f) if f.experimental && !self.features.experimental_functions => self.error(
                name.pos,
                format!("function {} is not enabled", go_quote(&name.text)),
            ),
            _ => {}
        }
        Ok(Node::new(N::Call { func, args }, name.pos, end))
    }

    fn aggregate(&mut self, op: Aggr) -> R<Node> {
        let op_tok = self.bump();
        self.with_catcher(AGGREGATION, |p| {
            let mut modifier_first = false;
            if matches!(p.peek()?.kind, Kind::By | Kind::Without) {
                p.bump();
                p.grouping_labels()?;
                modifier_first = true;
            }
            if p.peek()?.kind != Kind::LParen {
                return Err(p.unexpected());
            }
            let (args, mut end) = p.call_args()?;
            let mut grouped = modifier_first;
            if !modifier_first && matches!(p.peek()?.kind, Kind::By | Kind::Without) {
                p.bump();
                p.grouping_labels()?;
                end = p.prev_end();
                grouped = true;
            }
            let mut node = Node::new(
                N::Aggregate {
                    op,
                    param: None,
                    expr: None,
                    grouped,
                },
                op_tok.pos,
                end,
            );
            if args.is_empty() {
                p.error(op_tok.pos, "no arguments for aggregate expression provided");
                return Ok(node);
            }
            let mut desired = 1;
            if op.has_param() {
                if matches!(op, Aggr::Limitk | Aggr::LimitRatio)
                    && !p.features.experimental_functions
                {
                    p.error(
                        op_tok.pos,
                        format!(
                            "{}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                            op.name()
                        ),
                    );
                    return Ok(node);
                }
                desired = 2;
            }
            if args.len() != desired {
                p.error(
                    op_tok.pos,
                    format!(
                        "wrong number of arguments for aggregate expression provided, expected {desired}, got {}",
                        args.len()
                    ),
                );
                return Ok(node);
            }
            let mut it = args.into_iter();
            let first = it.next();
            let (param, expr) = if desired == 2 {
                (first, it.next())
            } else {
                (None, first)
            };
            node.n = N::Aggregate {
                op,
                param: param.map(Box::new),
                expr: expr.map(Box::new),
                grouped,
            };
            Ok(node)
        })
    }

    /// `( label, … )` after `by`, `without`, `on`, `ignoring`, `group_left`, `group_right`.
    fn grouping_labels(&mut self) -> R<Vec<String>> {
        const OPEN: Catcher = Catcher {
            context: "grouping opts",
            expected: "\"(\"",
        };
        const LABEL: Catcher = Catcher {
            context: "grouping opts",
            expected: "label",
        };
        const NEXT: Catcher = Catcher {
            context: "grouping opts",
            expected: "\",\" or \")\"",
        };
        if self.peek()?.kind != Kind::LParen {
            return Err(self.unexpected_in(Some(OPEN)));
        }
        self.bump();
        let mut labels = Vec::new();
        if self.peek()?.kind == Kind::RParen {
            self.bump();
            return Ok(labels);
        }
        loop {
            let t = self.peek()?;
            if is_maybe_label(t.kind) {
                let t = self.bump();
                if t.kind == Kind::MetricIdent {
                    // promql-parser takes label names with colons only quoted.
                    self.rewrites.push((t.pos, t.end(), go_quote(&t.text)));
                }
                if !valid_label_name(&t.text) {
                    self.error(
                        t.pos,
                        format!("invalid label name for grouping: {}", go_quote(&t.text)),
                    );
                }
                labels.push(t.text.clone());
            } else if t.kind == Kind::Str {
                let t = self.bump();
                let name = unquote(&t.text);
                if !valid_label_name(&name) {
                    self.error(
                        t.pos,
                        format!("invalid label name for grouping: {}", go_quote(&name)),
                    );
                }
                labels.push(name);
            } else {
                return Err(self.unexpected_in(Some(LABEL)));
            }
            if self.list_item_end(Kind::RParen, NEXT)? {
                return Ok(labels);
            }
        }
    }

    /// `{ matcher, … }`; the `{` is next.
    fn label_matchers(&mut self) -> R<Vec<LabelMatcher>> {
        const FIRST: Catcher = Catcher {
            context: "label matching",
            expected: "identifier or \"}\"",
        };
        const OP: Catcher = Catcher {
            context: "label matching",
            expected: "label matching operator",
        };
        const VALUE: Catcher = Catcher {
            context: "label matching",
            expected: "string",
        };
        const NEXT: Catcher = Catcher {
            context: "label matching",
            expected: "\",\" or \"}\"",
        };
        self.bump();
        let mut out = Vec::new();
        if self.peek()?.kind == Kind::RBrace {
            self.bump();
            return Ok(out);
        }
        loop {
            let t = self.peek()?;
            match t.kind {
                Kind::Ident => {
                    let name = self.bump();
                    if !is_match_op(self.peek()?.kind) {
                        return Err(self.unexpected_in(Some(OP)));
                    }
                    let op = self.bump().kind;
                    if self.peek()?.kind != Kind::Str {
                        return Err(self.unexpected_in(Some(VALUE)));
                    }
                    let value = self.bump();
                    out.push(self.matcher(name.pos, name.text.clone(), op, value));
                }
                Kind::Str => {
                    let name = self.bump();
                    let unquoted = unquote(&name.text);
                    if is_match_op(self.peek()?.kind) {
                        let op = self.bump().kind;
                        if self.peek()?.kind != Kind::Str {
                            return Err(self.unexpected_in(Some(VALUE)));
                        }
                        let value = self.bump();
                        out.push(self.matcher(name.pos, unquoted, op, value));
                    } else {
                        out.push(LabelMatcher {
                            name: "__name__".into(),
                            op: Kind::Eql,
                            value: unquoted,
                        });
                    }
                }
                _ => return Err(self.unexpected_in(Some(FIRST))),
            }
            if self.list_item_end(Kind::RBrace, NEXT)? {
                return Ok(out);
            }
        }
    }

    fn matcher(&mut self, pos: usize, name: String, op: Kind, value: &Token) -> LabelMatcher {
        let value = unquote(&value.text);
        if matches!(op, Kind::EqlRegex | Kind::NeqRegex)
            && let Some(e) = go_regex_error(&value)
        {
            self.error(pos, e);
        }
        LabelMatcher { name, op, value }
    }

    // ---- modifiers ----

    /// `[range]` or `[range:step]` after `e`; the `[` is next.
    fn brackets(&mut self, e: Node) -> R<Node> {
        const RANGE: Catcher = Catcher {
            context: "subquery selector",
            expected: "number or duration",
        };
        const AFTER_RANGE: Catcher = Catcher {
            context: "subquery or range",
            expected: "\":\" or \"]\"",
        };
        const STEP: Catcher = Catcher {
            context: "subquery selector",
            expected: "number or duration or \"]\"",
        };
        const CLOSE: Catcher = Catcher {
            context: "subquery selector",
            expected: "\"]\"",
        };
        let open = self.bump();
        self.with_catcher(RANGE, |p| p.positive_duration())?;
        match self.peek()?.kind {
            Kind::RBracket => {
                let close = self.bump();
                let msg = match &e.n {
                    N::Vector(s) if s.offset_set => {
                        Some("no offset modifiers allowed before range")
                    }
                    N::Vector(s) if s.at_timestamp => Some("no @ modifiers allowed before range"),
                    N::Vector(_) => None,
                    _ => Some("ranges only allowed for vector selectors"),
                };
                if let Some(m) = msg {
                    self.error(open.pos, m);
                }
                if let N::Vector(Selector {
                    at_span: Some((from, to)),
                    ..
                }) = &e.n
                {
                    // `x @ start()[5m]` is `x[5m] @ start()`, which promql-parser accepts.
                    let modifier = format!(" {}", &self.input[*from..*to]);
                    self.rewrites.push((*from, *to, String::new()));
                    self.rewrites.push((close.end(), close.end(), modifier));
                }
                let start = e.start;
                Ok(Node::new(N::Matrix(Box::new(e)), start, close.end()))
            }
            Kind::Colon => {
                let colon = self.bump();
                if colon.text != ":" {
                    // Prometheus' lexer reads a letter after a range as the subquery colon.
                    self.rewrites.push((colon.pos, colon.end(), ":".into()));
                }
                if self.peek()?.kind != Kind::RBracket {
                    self.with_catcher(STEP, |p| p.positive_duration())?;
                    if self.peek()?.kind != Kind::RBracket {
                        return Err(self.unexpected_in(Some(CLOSE)));
                    }
                }
                let close = self.bump();
                let start = e.start;
                Ok(Node::new(
                    N::Subquery {
                        expr: Box::new(e),
                        offset_set: false,
                        at_set: false,
                    },
                    start,
                    close.end(),
                ))
            }
            _ => Err(self.unexpected_in(Some(AFTER_RANGE))),
        }
    }

    /// A range or subquery step: a duration expression that must be positive.
    fn positive_duration(&mut self) -> R<Dur> {
        let first = self.i;
        let d = self.duration_expr(0)?;
        if d.literal.is_some_and(|v| v <= 0.0) {
            self.error(d.start, "duration must be greater than 0");
        }
        if d.literal.is_none() && self.errors.is_empty() {
            // What Prometheus reports when it prepares the query for evaluation.
            let (s, e) = (d.start, d.end);
            if let Some(msg) = d.eval_error {
                self.error_unpositioned(format!("{s}:{e}: {msg}"));
            } else if d.value <= 0.0 {
                self.error_unpositioned(format!("{s}:{e}: duration must be greater than 0"));
            }
        }
        self.fold_duration(first, d);
        Ok(d)
    }

    /// Rewrites a duration written with several tokens (`--5m`, `(1m)`, `1h/2`) as plain
    /// milliseconds, which promql-parser accepts.
    fn fold_duration(&mut self, first: usize, d: Dur) {
        if self.i <= first + 1 || !self.errors.is_empty() || d.eval_error.is_some() {
            return;
        }
        let ms = if d.literal.is_some() {
            (d.value * 1000.0).round()
        } else {
            (d.value * 1000.0).trunc()
        };
        if !ms.is_finite() || ms.abs() >= 9.2e18 {
            return;
        }
        let from = self.toks[first].pos;
        // The leading space keeps `offset(1m)` from becoming one word.
        self.rewrites
            .push((from, self.prev_end(), format!(" {}ms", ms as i64)));
    }

    fn duration_literal(&mut self) -> Dur {
        let t = self.bump();
        let v = self.literal_value(t);
        if !(-MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&v) {
            self.error(t.pos, "duration out of range");
            return Dur::lit(0, 0, 0.0);
        }
        Dur::lit(t.pos, t.end(), v)
    }

    fn experimental_duration(&mut self, at: usize) {
        if !self.features.duration_expressions {
            self.error(at, "experimental duration expression is not enabled");
        }
    }

    fn duration_expr(&mut self, min_prec: u8) -> R<Dur> {
        let mut lhs = self.duration_unary()?;
        loop {
            let t = self.peek()?;
            let (prec, right) = match t.kind {
                Kind::Add | Kind::Sub => (4, false),
                Kind::Mul | Kind::Div | Kind::Mod => (5, false),
                Kind::Pow => (6, true),
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            let op = self.bump();
            let rhs = self.duration_expr(if right { prec } else { prec + 1 })?;
            self.experimental_duration(lhs.start);
            if matches!(op.kind, Kind::Div | Kind::Mod) && rhs.literal == Some(0.0) {
                let what = if op.kind == Kind::Div {
                    "division by zero"
                } else {
                    "modulo by zero"
                };
                self.error(op.pos, what);
                lhs = Dur::lit(0, 0, 0.0);
                continue;
            }
            let (a, b) = (lhs.value, rhs.value);
            let mut eval_error = lhs.eval_error.or(rhs.eval_error);
            let value = match op.kind {
                Kind::Add => a + b,
                Kind::Sub => a - b,
                Kind::Mul => a * b,
                Kind::Div | Kind::Mod if b == 0.0 => {
                    if eval_error.is_none() {
                        eval_error = Some(if op.kind == Kind::Div {
                            "division by zero"
                        } else {
                            "modulo by zero"
                        });
                    }
                    0.0
                }
                Kind::Div => a / b,
                Kind::Mod => a % b,
                _ => a.powf(b),
            };
            lhs = Dur {
                start: lhs.start,
                end: rhs.end,
                literal: None,
                value,
                eval_error,
            };
        }
        Ok(lhs)
    }

    fn duration_unary(&mut self) -> R<Dur> {
        let t = self.peek()?;
        match t.kind {
            Kind::Add | Kind::Sub => {
                let op = self.bump();
                let inner = self.duration_expr(UNARY_OPERAND)?;
                let neg = op.kind == Kind::Sub;
                match inner.literal {
                    Some(v) => {
                        let v = if neg { -v } else { v };
                        if !(-MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&v) {
                            self.error(op.pos, "duration out of range");
                            return Ok(Dur::lit(0, 0, 0.0));
                        }
                        Ok(Dur::lit(op.pos, inner.end, v))
                    }
                    None if neg => Ok(Dur {
                        start: op.pos,
                        value: -inner.value,
                        ..inner
                    }),
                    None => Ok(inner),
                }
            }
            Kind::Number | Kind::Duration => Ok(self.duration_literal()),
            Kind::LParen => {
                self.bump();
                let inner = self.duration_expr(0)?;
                if self.peek()?.kind != Kind::RParen {
                    return Err(self.unexpected());
                }
                self.bump();
                self.experimental_duration(inner.start);
                Ok(inner)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn offset(&mut self, mut e: Node) -> R<Node> {
        const OFFSET: Catcher = Catcher {
            context: "offset",
            expected: "number or duration",
        };
        let keyword = self.bump();
        let d = self.with_catcher(OFFSET, |p| {
            let t = p.peek()?;
            match t.kind {
                Kind::Number | Kind::Duration => Ok(p.duration_literal()),
                Kind::Add | Kind::Sub
                    if p.peek2()
                        .is_some_and(|n| matches!(n.kind, Kind::Number | Kind::Duration)) =>
                {
                    let op = p.bump();
                    let t = p.bump();
                    let v = p.literal_value(t);
                    let v = if op.kind == Kind::Sub { -v } else { v };
                    if !(-MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&v) {
                        p.error(op.pos, "duration out of range");
                        return Ok(Dur::lit(0, 0, 0.0));
                    }
                    Ok(Dur::lit(op.pos, t.end(), v))
                }
                Kind::Add | Kind::Sub | Kind::LParen => {
                    let first = p.i;
                    let d = p.duration_expr(0)?;
                    if d.literal.is_none()
                        && p.errors.is_empty()
                        && let Some(msg) = d.eval_error
                    {
                        p.error_unpositioned(format!("{}:{}: {msg}", d.start, d.end));
                    }
                    if d.value != 0.0 {
                        p.fold_duration(first, d);
                    }
                    Ok(d)
                }
                _ => Err(p.unexpected()),
            }
        })?;
        let nonzero = d.literal.is_none_or(|v| v != 0.0);
        if d.value == 0.0 && self.errors.is_empty() {
            // A zero offset is no offset; promql-parser refuses it.
            self.rewrites
                .push((keyword.pos, self.prev_end(), String::new()));
        }
        let flag = match &mut e.n {
            N::Vector(s) => Some(&mut s.offset_set),
            N::Matrix(inner) => match &mut inner.n {
                N::Vector(s) => Some(&mut s.offset_set),
                _ => None,
            },
            N::Subquery { offset_set, .. } => Some(offset_set),
            _ => None,
        };
        let already = flag.map(|f| {
            let old = *f;
            *f = old || nonzero;
            old
        });
        match already {
            None => self.error(
                e.start,
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            ),
            Some(true) => self.error(e.start, "offset may not be set multiple times"),
            Some(false) => {}
        }
        e.end = self.prev_end();
        Ok(e)
    }

    fn at(&mut self, mut e: Node) -> R<Node> {
        const AT: Catcher = Catcher {
            context: "@",
            expected: "timestamp",
        };
        let at_tok = self.bump();
        let ts = self.with_catcher(AT, |p| {
            let t = p.peek()?;
            match t.kind {
                Kind::Number | Kind::Duration => {
                    let t = p.bump();
                    Ok(Some(p.literal_value(t)))
                }
                Kind::Add | Kind::Sub => {
                    let op = p.bump();
                    if !matches!(p.peek()?.kind, Kind::Number | Kind::Duration) {
                        return Err(p.unexpected());
                    }
                    let t = p.bump();
                    let v = p.literal_value(t);
                    Ok(Some(if op.kind == Kind::Sub { -v } else { v }))
                }
                Kind::Start | Kind::End => {
                    p.bump();
                    if p.peek()?.kind != Kind::LParen {
                        return Err(p.unexpected());
                    }
                    p.bump();
                    if p.peek()?.kind != Kind::RParen {
                        return Err(p.unexpected());
                    }
                    p.bump();
                    Ok(None)
                }
                _ => Err(p.unexpected()),
            }
        })?;
        if let Some(ts) = ts
            && (!ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64)
        {
            self.error(
                e.start,
                format!("timestamp out of bounds for @ modifier: {}", go_f(ts)),
            );
        }
        let already = match &mut e.n {
            N::Vector(s) => {
                let old = std::mem::replace(&mut s.at_set, true);
                if !old && ts.is_some() {
                    s.at_timestamp = true;
                }
                if !old && ts.is_none() {
                    s.at_span = Some((at_tok.pos, self.prev_end()));
                }
                Some(old)
            }
            N::Matrix(inner) => match &mut inner.n {
                N::Vector(s) => Some(std::mem::replace(&mut s.at_set, true)),
                _ => {
                    self.error(e.start, "ranges only allowed for vector selectors");
                    return Ok(e);
                }
            },
            N::Subquery { at_set, .. } => Some(std::mem::replace(at_set, true)),
            _ => None,
        };
        match already {
            None => self.error(
                e.start,
                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
            ),
            Some(true) => self.error(e.start, "@ <timestamp> may not be set multiple times"),
            Some(false) => {}
        }
        e.end = self.prev_end();
        Ok(e)
    }

    // ---- type checking (Prometheus' checkAST) ----

    /// The start of a binary expression's operator: the first non-space after its left side.
    fn op_pos(&self, lhs: &Node) -> usize {
        let b = self.input.as_bytes();
        let mut p = lhs.end;
        while p < b.len() && is_space(b[p] as char) {
            p += 1;
        }
        p
    }

    fn expect_type(&mut self, node: &mut Node, want: Ty, context: &str) -> R<()> {
        let t = self.check(node)?;
        if t != want {
            self.error(
                node.start,
                format!(
                    "expected type {} in {context}, got {}",
                    want.documented(),
                    t.documented()
                ),
            );
        }
        Ok(())
    }

    fn check(&mut self, node: &mut Node) -> R<Ty> {
        let ty = node.ty();
        let start = node.start;
        match &mut node.n {
            N::Num | N::Str => {}
            N::Aggregate {
                op, param, expr, ..
            } => {
                if let Some(e) = expr {
                    self.expect_type(e, Ty::Vector, "aggregation expression")?;
                }
                if let Some(p) = param {
                    match op {
                        Aggr::CountValues => {
                            self.expect_type(p, Ty::Str, "aggregation parameter")?;
                        }
                        Aggr::Topk
                        | Aggr::Bottomk
                        | Aggr::Quantile
                        | Aggr::Limitk
                        | Aggr::LimitRatio => {
                            self.expect_type(p, Ty::Scalar, "aggregation parameter")?;
                        }
                        _ => {}
                    }
                }
            }
            N::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                card,
                on,
                matching,
                include,
            } => {
                let lt = self.check(lhs)?;
                let rt = self.check(rhs)?;
                let op = *op;
                if *return_bool && !is_comparison(op) {
                    let p = self.op_pos(lhs);
                    self.error(p, "bool modifier can only be used on comparison operators");
                }
                if is_comparison(op) && !*return_bool && lt == Ty::Scalar && rt == Ty::Scalar {
                    let p = self.op_pos(lhs);
                    self.error(p, "comparisons between scalars must use BOOL modifier");
                }
                if is_set_op(op) && *card == Card::OneToOne {
                    *card = Card::ManyToMany;
                }
                for l1 in matching.iter() {
                    for l2 in include.iter() {
                        if l1 == l2 && *on {
                            let p = self.op_pos(lhs);
                            self.error(
                                p,
                                format!(
                                    "label {} must not occur in ON and GROUP clause at once",
                                    go_quote(l1)
                                ),
                            );
                        }
                    }
                }
                let scalar_or_vector = |t: Ty| t == Ty::Scalar || t == Ty::Vector;
                if !scalar_or_vector(lt) {
                    self.error(
                        lhs.start,
                        "binary expression must contain only scalar and instant vector types",
                    );
                }
                if !scalar_or_vector(rt) {
                    self.error(
                        rhs.start,
                        "binary expression must contain only scalar and instant vector types",
                    );
                }
                if lt != Ty::Vector || rt != Ty::Vector {
                    if !matching.is_empty() {
                        self.error(
                            start,
                            "vector matching only allowed between instant vectors",
                        );
                    }
                } else if is_set_op(op) {
                    if matches!(card, Card::OneToMany | Card::ManyToOne) {
                        self.error(
                            start,
                            format!(
                                "no grouping allowed for {} operation",
                                go_quote(op_name(op))
                            ),
                        );
                    }
                    if *card != Card::ManyToMany {
                        self.error(start, "set operations must always be many-to-many");
                    }
                }
                if (lt == Ty::Scalar || rt == Ty::Scalar) && is_set_op(op) {
                    self.error(
                        start,
                        format!(
                            "set operator {} not allowed in binary scalar expression",
                            go_quote(op_name(op))
                        ),
                    );
                }
            }
            N::Call { func, args } => {
                let Some(f) = *func else {
                    return Ok(ty);
                };
                let nargs = f.args.len();
                if f.variadic == 0 {
                    if nargs != args.len() {
                        self.error(
                            start,
                            format!(
                                "expected {nargs} argument(s) in call to {}, got {}",
                                go_quote(f.name),
                                args.len()
                            ),
                        );
                    }
                } else {
                    let na = nargs - 1;
                    if na > args.len() {
                        self.error(
                            start,
                            format!(
                                "expected at least {na} argument(s) in call to {}, got {}",
                                go_quote(f.name),
                                args.len()
                            ),
                        );
                    } else if f.variadic > 0 && na + (f.variadic as usize) < args.len() {
                        self.error(
                            start,
                            format!(
                                "expected at most {} argument(s) in call to {}, got {}",
                                na + f.variadic as usize,
                                go_quote(f.name),
                                args.len()
                            ),
                        );
                    }
                }
                if f.name == "info" && args.len() > 1 {
                    let t = args[1].ty();
                    if t != Ty::Vector {
                        self.error(
                            start,
                            format!(
                                "expected type instant vector in call to function \"info\", got {}",
                                t.documented()
                            ),
                        );
                    }
                    let a1 = args[1].start;
                    let span = (args[0].end, args[1].end);
                    match &mut args[1].n {
                        N::Vector(s) => {
                            if s.name.is_none() && s.matchers.is_empty() {
                                // `info(v, {})` is `info(v)`; promql-parser refuses `{}`.
                                self.rewrites.push((span.0, span.1, String::new()));
                            }
                            if s.name.is_some() {
                                self.error(
                                    a1,
                                    "expected label selectors only, got vector selector instead",
                                );
                            }
                            s.bypass_empty_check = true;
                        }
                        // Prometheus' type assertion panics here.
                        _ => return Err(Stop::Panic),
                    }
                }
                let context = format!("call to function {}", go_quote(f.name));
                for (i, arg) in args.iter_mut().enumerate() {
                    let idx = if i >= nargs {
                        if f.variadic == 0 {
                            break;
                        }
                        nargs - 1
                    } else {
                        i
                    };
                    self.expect_type(arg, ty_of(f.args[idx]), &context)?;
                }
            }
            N::Paren(e) => {
                self.check(e)?;
            }
            N::Unary(e) => {
                let t = self.check(e)?;
                if t != Ty::Scalar && t != Ty::Vector {
                    self.error(
                        start,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            go_quote(t.documented())
                        ),
                    );
                }
            }
            N::Subquery { expr, .. } => {
                let t = self.check(expr)?;
                if t != Ty::Vector {
                    self.error(
                        start,
                        format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            t.internal()
                        ),
                    );
                }
            }
            N::Matrix(vs) => {
                self.check(vs)?;
            }
            N::Vector(s) => {
                if let Some(name) = &s.name {
                    for m in &s.matchers {
                        if m.name == "__name__" {
                            let msg = format!(
                                "metric name must not be set twice: {} or {}",
                                go_quote(name),
                                go_quote(&m.value)
                            );
                            self.error(start, msg);
                        }
                    }
                } else if !s.bypass_empty_check && s.matchers.iter().all(matches_empty) {
                    self.error(
                        start,
                        "vector selector must contain at least one non-empty matcher",
                    );
                }
            }
        }
        Ok(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_line_and_byte_column() {
        assert_eq!(format_error("abc", 0, "m"), "1:1: parse error: m");
        assert_eq!(format_error("a\nbc", 3, "m"), "2:2: parse error: m");
        // Columns count bytes, not characters.
        assert_eq!(format_error("é+", 2, "m"), "1:3: parse error: m");
        assert_eq!(format_error("", 0, "m"), "unknown position: parse error: m");
    }

    #[test]
    fn numbers_and_durations_as_go_parses_them() {
        assert_eq!(parse_number("0x1f"), Ok(31.0));
        assert_eq!(parse_number("010"), Ok(8.0));
        assert_eq!(parse_number("09"), Ok(9.0));
        assert_eq!(parse_number("1_000"), Ok(1000.0));
        assert_eq!(
            parse_number("1e400"),
            Err("strconv.ParseFloat: parsing \"1e400\": value out of range".into())
        );
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(
            parse_duration("1m1h"),
            Err("not a valid duration string: \"1m1h\"".into())
        );
        assert_eq!(
            parse_duration("1.5m"),
            Err("unknown unit \".\" in duration \"1.5m\"".into())
        );
    }

    #[test]
    fn unquotes_strings() {
        assert_eq!(unquote(r#""a\n\x41\u00e9""#), "a\nAé");
        assert_eq!(unquote(r"`a\n`"), r"a\n");
        assert_eq!(unquote(r"'\''"), "'");
    }

    #[test]
    fn reports_errors_in_context() {
        let f = Features {
            experimental_functions: true,
            duration_expressions: true,
        };
        let e = |q: &str| check_expr(q, f).err().unwrap_or_default();
        assert_eq!(
            e("sum(up up)"),
            "1:8: parse error: unexpected identifier \"up\" in aggregation"
        );
        assert_eq!(
            e("abs(up up)"),
            "1:8: parse error: unexpected identifier \"up\""
        );
        assert_eq!(
            e("up[5m+]"),
            "1:7: parse error: unexpected \"]\" in subquery selector, expected number or duration"
        );
        assert_eq!(
            e("1 == 1"),
            "1:3: parse error: comparisons between scalars must use BOOL modifier"
        );
        assert_eq!(e("info(up, \"a\")"), "unexpected error");
        assert!(check_expr("sum by (a) (rate(x{b=~\"c.*\"}[5m] offset 1m))", f).is_ok());
        let fix = |q: &str| apply_rewrites(q, &check_expr(q, f).unwrap());
        assert_eq!(
            fix("sum by (a:b) (rate(x[5 m]))"),
            "sum by (\"a:b\") (rate(x[5 :]))"
        );
        assert_eq!(fix("x offset 0s + info(y, {})"), "x  + info(y)");
    }
}
