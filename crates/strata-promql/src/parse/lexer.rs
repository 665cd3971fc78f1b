//! A PromQL lexer that tokenises as Prometheus 3.5 does, so that syntax errors name the same
//! tokens, at the same byte offsets, with the same texts.
//!
//! Prometheus' lexer is a state machine with a few modes: plain expression text, the inside of
//! `{…}` (where keywords are plain identifiers), and the start of `[…]` (a duration
//! expression). After the first number or duration inside brackets it goes back to plain mode
//! (with "bracket open" remembered), which is why `up[5m foo]` complains about a colon: in that
//! mode a letter is read as the subquery colon. Those quirks are reproduced on purpose.
//!
//! The lexer stops at its first error. Comments are dropped.

use super::quote::{go_quote, go_quote_rune, go_rune_u};

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Eof,
    Ident,
    MetricIdent,
    Number,
    Duration,
    Str,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    /// `=` (label matching and label sets).
    Eql,
    Colon,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    EqlC,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    EqlRegex,
    NeqRegex,
    At,
    Atan2,
    And,
    Or,
    Unless,
    /// An aggregation operator; the token text names it.
    Aggr(Aggr),
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Ignoring,
    Offset,
    On,
    Without,
    Start,
    End,
}

/// The aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggr {
    Avg,
    Bottomk,
    Count,
    CountValues,
    Group,
    Max,
    Min,
    Quantile,
    Stddev,
    Stdvar,
    Sum,
    Topk,
    Limitk,
    LimitRatio,
}

impl Aggr {
    /// The operator's name, lower case.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Aggr::Avg => "avg",
            Aggr::Bottomk => "bottomk",
            Aggr::Count => "count",
            Aggr::CountValues => "count_values",
            Aggr::Group => "group",
            Aggr::Max => "max",
            Aggr::Min => "min",
            Aggr::Quantile => "quantile",
            Aggr::Stddev => "stddev",
            Aggr::Stdvar => "stdvar",
            Aggr::Sum => "sum",
            Aggr::Topk => "topk",
            Aggr::Limitk => "limitk",
            Aggr::LimitRatio => "limit_ratio",
        }
    }

    /// Whether the operator takes a parameter before the vector.
    pub(crate) fn has_param(self) -> bool {
        matches!(
            self,
            Aggr::Topk
                | Aggr::Bottomk
                | Aggr::CountValues
                | Aggr::Quantile
                | Aggr::Limitk
                | Aggr::LimitRatio
        )
    }
}

/// Looks a word up among the keywords, ignoring case as Prometheus does.
fn keyword(word: &str) -> Option<Kind> {
    let lower = word.to_ascii_lowercase();
    Some(match lower.as_str() {
        "and" => Kind::And,
        "or" => Kind::Or,
        "unless" => Kind::Unless,
        "atan2" => Kind::Atan2,
        "sum" => Kind::Aggr(Aggr::Sum),
        "avg" => Kind::Aggr(Aggr::Avg),
        "count" => Kind::Aggr(Aggr::Count),
        "min" => Kind::Aggr(Aggr::Min),
        "max" => Kind::Aggr(Aggr::Max),
        "group" => Kind::Aggr(Aggr::Group),
        "stddev" => Kind::Aggr(Aggr::Stddev),
        "stdvar" => Kind::Aggr(Aggr::Stdvar),
        "topk" => Kind::Aggr(Aggr::Topk),
        "bottomk" => Kind::Aggr(Aggr::Bottomk),
        "count_values" => Kind::Aggr(Aggr::CountValues),
        "quantile" => Kind::Aggr(Aggr::Quantile),
        "limitk" => Kind::Aggr(Aggr::Limitk),
        "limit_ratio" => Kind::Aggr(Aggr::LimitRatio),
        "offset" => Kind::Offset,
        "by" => Kind::By,
        "without" => Kind::Without,
        "on" => Kind::On,
        "ignoring" => Kind::Ignoring,
        "group_left" => Kind::GroupLeft,
        "group_right" => Kind::GroupRight,
        "bool" => Kind::Bool,
        "start" => Kind::Start,
        "end" => Kind::End,
        "inf" | "nan" => Kind::Number,
        _ => return None,
    })
}

/// A token: its kind, its byte offset in the query and its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) pos: usize,
    pub(crate) text: String,
}

impl Token {
    /// The byte offset just past the token.
    pub(crate) fn end(&self) -> usize {
        self.pos + self.text.len()
    }

    /// How Prometheus names the token in "unexpected …" messages.
    pub(crate) fn describe(&self) -> String {
        use Kind::*;
        match self.kind {
            Eof => "end of input".into(),
            Ident => format!("identifier {}", go_quote(&self.text)),
            MetricIdent => format!("metric identifier {}", go_quote(&self.text)),
            Number | Duration | Str => {
                let what = match self.kind {
                    Number => "number",
                    Duration => "duration",
                    _ => "string",
                };
                format!("{what} {}", short_quote(&self.text))
            }
            Bool | By | GroupLeft | GroupRight | Ignoring | Offset | On | Without => {
                format!("<{}>", self.text)
            }
            // Prometheus has no display name for `@`: it prints the token type's number.
            At => format!("\"<Item 57400>\" <op:{}>", self.text),
            Add | Div | EqlC | EqlRegex | Gte | Gtr | And | Or | Lss | Lte | Unless | Mod | Mul
            | Neq | NeqRegex | Pow | Sub | Atan2 => format!("<op:{}>", self.text),
            Aggr(_) => format!("<aggr:{}>", self.text),
            _ => short_quote(&self.text),
        }
    }
}

/// Quotes a token text as Go's `%q`, or its first ten characters followed by `...` when it is
/// longer than ten bytes.
fn short_quote(s: &str) -> String {
    if s.len() > 10 {
        let head: String = s.chars().take(10).collect();
        format!("{}...", go_quote(&head))
    } else {
        go_quote(s)
    }
}

/// The result of lexing: the tokens, ending with `Eof` unless lexing failed, in which case
/// `error` holds the message and the byte offset Prometheus reports for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lexed {
    pub(crate) tokens: Vec<Token>,
    pub(crate) error: Option<(usize, String)>,
}

/// Lexing modes, as the states Prometheus' lexer returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Statements,
    Braces,
    DurationExpr,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    mode: Mode,
    out: Lexed,
}

/// Whether `c` is whitespace for PromQL.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Tokenises a whole query.
pub(crate) fn lex(input: &str) -> Lexed {
    let mut l = Lexer {
        input,
        pos: 0,
        start: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        got_colon: false,
        got_duration: false,
        mode: Mode::Statements,
        out: Lexed::default(),
    };
    l.run();
    l.out
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn accept(&mut self, set: &str) -> bool {
        match self.peek() {
            Some(c) if set.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn emit(&mut self, kind: Kind) {
        self.out.tokens.push(Token {
            kind,
            pos: self.start,
            text: self.input[self.start..self.pos].to_string(),
        });
        self.start = self.pos;
    }

    fn skip(&mut self) {
        self.start = self.pos;
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.next();
        }
        self.skip();
    }

    /// Runs until the end of input or the first error.
    fn run(&mut self) {
        loop {
            let emitted = self.out.tokens.len();
            let step = match self.mode {
                Mode::Statements => self.statements(),
                Mode::Braces => self.braces(),
                Mode::DurationExpr => self.duration_expr(),
            };
            match step {
                Ok(true) => {}
                Ok(false) => return,
                Err(msg) => {
                    // Prometheus' error item replaces a token emitted in the same step.
                    self.out.tokens.truncate(emitted);
                    self.out.error = Some((self.start, msg));
                    return;
                }
            }
        }
    }

    /// Skips a `#` comment to the end of the line.
    fn comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.next();
        }
        self.skip();
    }

    /// One step of plain-expression lexing; `Ok(false)` at the end of input.
    fn statements(&mut self) -> Result<bool, String> {
        if self.input[self.pos..].starts_with('#') {
            self.comment();
            return Ok(true);
        }
        let Some(c) = self.next() else {
            if self.paren_depth != 0 {
                return Err("unclosed left parenthesis".into());
            }
            if self.bracket_open {
                return Err("unclosed left bracket".into());
            }
            self.emit(Kind::Eof);
            return Ok(false);
        };
        match c {
            ',' => self.emit(Kind::Comma),
            c if is_space(c) => self.skip_spaces(),
            '*' => self.emit(Kind::Mul),
            '/' => self.emit(Kind::Div),
            '%' => self.emit(Kind::Mod),
            '+' => self.emit(Kind::Add),
            '-' => self.emit(Kind::Sub),
            '^' => self.emit(Kind::Pow),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Kind::EqlC);
                }
                Some('~') => {
                    return Err(format!(
                        "unexpected character after '=': {}",
                        go_quote_rune('~')
                    ));
                }
                _ => self.emit(Kind::Eql),
            },
            '!' => match self.next() {
                Some('=') => self.emit(Kind::Neq),
                other => {
                    return Err(format!(
                        "unexpected character after '!': {}",
                        go_quote_rune(other.unwrap_or('\u{fffd}'))
                    ));
                }
            },
            '<' => {
                if self.accept("=") {
                    self.emit(Kind::Lte);
                } else {
                    self.emit(Kind::Lss);
                }
            }
            '>' => {
                if self.accept("=") {
                    self.emit(Kind::Gte);
                } else {
                    self.emit(Kind::Gtr);
                }
            }
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.pos = self.start;
                self.number_or_duration()?;
            }
            '"' | '\'' => self.string(c)?,
            '`' => self.raw_string()?,
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.pos = self.start;
                    self.keyword_or_identifier();
                } else {
                    if self.got_colon {
                        return Err(format!("unexpected colon {}", go_quote_rune(c)));
                    }
                    self.emit(Kind::Colon);
                    self.got_colon = true;
                }
            }
            '(' => {
                self.emit(Kind::LParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return Err(format!(
                        "unexpected right parenthesis {}",
                        go_quote_rune(')')
                    ));
                }
            }
            '{' => {
                self.emit(Kind::LBrace);
                self.brace_open = true;
                self.mode = Mode::Braces;
            }
            '[' => {
                if self.bracket_open {
                    return Err(format!("unexpected left bracket {}", go_quote_rune('[')));
                }
                self.got_colon = false;
                self.emit(Kind::LBracket);
                if self.peek().is_some_and(is_space) {
                    self.skip_spaces();
                }
                self.bracket_open = true;
                self.mode = Mode::DurationExpr;
            }
            ']' => {
                if !self.bracket_open {
                    return Err(format!("unexpected right bracket {}", go_quote_rune(']')));
                }
                self.emit(Kind::RBracket);
                self.bracket_open = false;
            }
            '@' => self.emit(Kind::At),
            other => return Err(format!("unexpected character: {}", go_quote_rune(other))),
        }
        Ok(true)
    }

    /// One step inside `{…}`.
    fn braces(&mut self) -> Result<bool, String> {
        if self.input[self.pos..].starts_with('#') {
            self.comment();
            return Ok(true);
        }
        let Some(c) = self.next() else {
            return Err("unexpected end of input inside braces".into());
        };
        match c {
            c if is_space(c) => self.skip_spaces(),
            c if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.next();
                }
                self.emit(Kind::Ident);
            }
            ',' => self.emit(Kind::Comma),
            '"' | '\'' => self.string(c)?,
            '`' => self.raw_string()?,
            '=' => {
                if self.accept("~") {
                    self.emit(Kind::EqlRegex);
                } else {
                    self.emit(Kind::Eql);
                }
            }
            '!' => match self.next() {
                Some('~') => self.emit(Kind::NeqRegex),
                Some('=') => self.emit(Kind::Neq),
                other => {
                    return Err(format!(
                        "unexpected character after '!' inside braces: {}",
                        go_quote_rune(other.unwrap_or('\u{fffd}'))
                    ));
                }
            },
            '{' => return Err(format!("unexpected left brace {}", go_quote_rune('{'))),
            '}' => {
                self.emit(Kind::RBrace);
                self.brace_open = false;
                self.mode = Mode::Statements;
            }
            other => {
                return Err(format!(
                    "unexpected character inside braces: {}",
                    go_quote_rune(other)
                ));
            }
        }
        Ok(true)
    }

    /// One step at the start of `[…]`, until the first number or duration.
    fn duration_expr(&mut self) -> Result<bool, String> {
        let Some(c) = self.next() else {
            return Err("unexpected end of input in duration expression".into());
        };
        match c {
            ']' => {
                self.emit(Kind::RBracket);
                self.bracket_open = false;
                self.got_colon = false;
                self.mode = Mode::Statements;
            }
            ':' => {
                self.emit(Kind::Colon);
                if !self.got_duration {
                    // Prometheus reports this just past the colon.
                    return Err("unexpected colon before duration in duration expression".into());
                }
                if self.got_colon {
                    return Err("unexpected repeated colon in duration expression".into());
                }
                self.got_colon = true;
            }
            '(' => {
                self.emit(Kind::LParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return Err(format!(
                        "unexpected right parenthesis {}",
                        go_quote_rune(')')
                    ));
                }
            }
            c if is_space(c) => self.skip_spaces(),
            '+' => self.emit(Kind::Add),
            '-' => self.emit(Kind::Sub),
            '*' => self.emit(Kind::Mul),
            '/' => self.emit(Kind::Div),
            '%' => self.emit(Kind::Mod),
            '^' => self.emit(Kind::Pow),
            c if c.is_ascii_digit()
                || (c == '.' && self.peek().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.pos = self.start;
                self.got_duration = true;
                self.mode = Mode::Statements;
                self.number_or_duration()?;
            }
            other => {
                return Err(format!(
                    "unexpected character in duration expression: {}",
                    go_quote_rune(other)
                ));
            }
        }
        Ok(true)
    }

    /// Scans a number or a duration starting at `self.start`.
    fn number_or_duration(&mut self) -> Result<(), String> {
        if self.scan_number() {
            self.emit(Kind::Number);
            return Ok(());
        }
        if let Some(width) = self.rest_of_duration() {
            // The character that ended the duration was read; give it back.
            self.pos -= width;
            self.emit(Kind::Duration);
            return Ok(());
        }
        Err(format!(
            "bad number or duration syntax: {}",
            go_quote(&self.input[self.start..self.pos])
        ))
    }

    /// Continues a duration after its leading number: a unit, optionally more number-unit
    /// pairs, then a character that is not alphanumeric (which is read: `Some(its width)`).
    fn rest_of_duration(&mut self) -> Option<usize> {
        if !self.accept("smhdwy") {
            return None;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return None;
            }
            self.accept("s");
        }
        match self.next() {
            None => Some(0),
            Some(c) if is_alnum(c) => None,
            Some(c) => Some(c.len_utf8()),
        }
    }

    /// Scans a number (decimal, hexadecimal, float, with `_` separators) from `self.pos`; the
    /// text read may be invalid, which the parser then reports. `false` when the text cannot
    /// be a number (the scan stops where Prometheus' does, for the error text).
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        let hex = digits.len() > 10;
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exp = false;
        while let Some(c) = self.peek() {
            if !(digits.contains(c) || "._eE".contains(c)) {
                break;
            }
            if c == '.' && dot {
                self.accept(".");
                return false;
            }
            if (c == 'e' || c == 'E') && exp {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") || hex {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exp = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    /// Scans an identifier, metric identifier (with `:`) or keyword from `self.start`.
    fn keyword_or_identifier(&mut self) {
        while self.peek().is_some_and(|c| is_alnum(c) || c == ':') {
            self.next();
        }
        let word = &self.input[self.start..self.pos];
        let kind = match keyword(word) {
            Some(k) => k,
            None if word.contains(':') => Kind::MetricIdent,
            None => Kind::Ident,
        };
        self.emit(kind);
    }

    /// Scans a quoted string; the opening quote `q` has been read.
    fn string(&mut self, q: char) -> Result<(), String> {
        loop {
            match self.next() {
                Some('\\') => self.escape(q)?,
                None | Some('\n') => return Err("unterminated quoted string".into()),
                Some('\u{fffd}') => return Err("invalid UTF-8 rune".into()),
                Some(c) if c == q => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::Str);
        Ok(())
    }

    /// Checks an escape sequence in a quoted string; the backslash has been read.
    fn escape(&mut self, q: char) -> Result<(), String> {
        let Some(mut c) = self.next() else {
            return Err("escape sequence not terminated".into());
        };
        let (mut n, base, max): (u32, u32, u32) = match c {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
            c if c == q => return Ok(()),
            '0'..='7' => (3, 8, 255),
            'x' | 'u' | 'U' => {
                let spec = match c {
                    'x' => (2, 16, 255),
                    'u' => (4, 16, 0x10_FFFF),
                    _ => (8, 16, 0x10_FFFF),
                };
                match self.next() {
                    Some(d) => c = d,
                    None => return Err("escape sequence not terminated".into()),
                }
                spec
            }
            other => return Err(format!("unknown escape sequence {}", go_rune_u(other))),
        };
        let mut x: u32 = 0;
        loop {
            let d = c.to_digit(16).unwrap_or(16);
            if d >= base {
                return Err(format!(
                    "illegal character {} in escape sequence",
                    go_rune_u(c)
                ));
            }
            x = x.saturating_mul(base).saturating_add(d);
            n -= 1;
            if n == 0 {
                break;
            }
            match self.next() {
                Some(d) => c = d,
                None => return Err("escape sequence not terminated".into()),
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Err("escape sequence is an invalid Unicode code point".into());
        }
        Ok(())
    }

    /// Scans a raw string; the opening backquote has been read.
    fn raw_string(&mut self) -> Result<(), String> {
        loop {
            match self.next() {
                None => return Err("unterminated raw string".into()),
                Some('\u{fffd}') => return Err("invalid UTF-8 rune".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::Str);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<(Kind, usize, String)> {
        lex(q)
            .tokens
            .into_iter()
            .map(|t| (t.kind, t.pos, t.text))
            .collect()
    }

    fn error(q: &str) -> Option<(usize, String)> {
        lex(q).error
    }

    #[test]
    fn tokenises_with_byte_offsets() {
        let t = kinds("sum by (a) (rate(x{b=~\"é\"}[5m]))");
        assert_eq!(t[0], (Kind::Aggr(Aggr::Sum), 0, "sum".into()));
        assert_eq!(t[1], (Kind::By, 4, "by".into()));
        let s = t.iter().find(|k| k.0 == Kind::Str).unwrap();
        assert_eq!((s.1, s.2.as_str()), (22, "\"é\""));
        let d = t.iter().find(|k| k.0 == Kind::Duration).unwrap();
        assert_eq!((d.1, d.2.as_str()), (28, "5m"));
        assert_eq!(t.last().unwrap().0, Kind::Eof);
        assert_eq!(t.last().unwrap().1, 33);
    }

    #[test]
    fn keywords_are_identifiers_inside_braces_and_case_insensitive_outside() {
        let t = kinds("SUM{by=\"x\"}");
        assert_eq!(t[0].0, Kind::Aggr(Aggr::Sum));
        assert_eq!(t[2], (Kind::Ident, 4, "by".into()));
        assert_eq!(kinds("Inf")[0].0, Kind::Number);
        assert_eq!(kinds("a:b")[0].0, Kind::MetricIdent);
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(kinds("1_000")[0].0, Kind::Number);
        assert_eq!(kinds("0x1f")[0].0, Kind::Number);
        assert_eq!(kinds("1h30m")[0], (Kind::Duration, 0, "1h30m".into()));
        assert_eq!(kinds("1.5m")[0], (Kind::Duration, 0, "1.5m".into()));
        assert_eq!(
            error("1.2.3"),
            Some((0, "bad number or duration syntax: \"1.2.\"".into()))
        );
        assert_eq!(
            error("5mx"),
            Some((0, "bad number or duration syntax: \"5mx\"".into()))
        );
        assert_eq!(
            error("x offset 1x"),
            Some((9, "bad number or duration syntax: \"1\"".into()))
        );
    }

    #[test]
    fn errors_where_prometheus_reports_them() {
        assert_eq!(
            error("sum(x"),
            Some((5, "unclosed left parenthesis".into()))
        );
        // The `)` is replaced by the error, reported just past it.
        let l = lex(")");
        assert!(l.tokens.is_empty());
        assert_eq!(
            l.error,
            Some((1, "unexpected right parenthesis ')'".into()))
        );
        assert_eq!(
            error("x{a~\"b\"}"),
            Some((3, "unexpected character inside braces: '~'".into()))
        );
        assert_eq!(
            error("x[:5m]"),
            Some((
                3,
                "unexpected colon before duration in duration expression".into()
            ))
        );
        assert_eq!(error("x[5m foo]"), Some((6, "unexpected colon 'o'".into())));
        assert_eq!(
            error("\"a\\qb\""),
            Some((0, "unknown escape sequence U+0071 'q'".into()))
        );
        assert_eq!(error("'ab"), Some((0, "unterminated quoted string".into())));
        assert_eq!(
            error("x @ $"),
            Some((4, "unexpected character: '$'".into()))
        );
        assert_eq!(
            error("x{"),
            Some((2, "unexpected end of input inside braces".into()))
        );
    }

    #[test]
    fn describes_tokens_as_prometheus() {
        let t = lex("by foo \"a long string\" 1 + sum").tokens;
        let d: Vec<String> = t.iter().map(Token::describe).collect();
        assert_eq!(
            d,
            [
                "<by>",
                "identifier \"foo\"",
                "string \"\\\"a long st\"...",
                "number \"1\"",
                "<op:+>",
                "<aggr:sum>",
                "end of input"
            ]
        );
    }
}
