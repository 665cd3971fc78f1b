//! Parsing of promqltest scripts into commands.

use regex::Regex;
use strata_model::Labels;

use super::parse_duration_ms;
use super::values::{SeqValue, parse_float, parse_labels, parse_values, split_series};

/// An `expect` qualifier with an optional exact message or pattern.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Any annotation (or error) of the kind.
    Any,
    /// Exactly this text.
    Msg(String),
    /// Text matching this pattern.
    Regex(Regex),
}

impl Expect {
    /// Returns whether `s` satisfies the expectation.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Expect::Any => true,
            Expect::Msg(m) => m == s,
            Expect::Regex(r) => r.is_match(s),
        }
    }
}

/// One `eval` command.
#[derive(Debug, Clone, Default)]
pub struct EvalCmd {
    /// Line number (1-based) of the command.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// Instant time, or the start of a range, in ms.
    pub start: i64,
    /// End of the range (== start for instant queries), in ms.
    pub end: i64,
    /// Step of a range query in ms; `None` for instant queries.
    pub step: Option<i64>,
    /// Expected failure, with an optional message or pattern.
    pub fail: Option<Expect>,
    /// Whether result order matters.
    pub ordered: bool,
    /// Expected warnings (`Any` = at least one).
    pub warn: Vec<Expect>,
    /// Expected infos (`Any` = at least one).
    pub info: Vec<Expect>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// Whether any `expect` line was given (otherwise the legacy rules apply).
    pub has_expect_lines: bool,
    /// Expected series with their values (labels `None` = a scalar).
    pub expected: Vec<(Option<Labels>, Vec<SeqValue>)>,
    /// Expected string result.
    pub expected_string: Option<String>,
}

/// A script command.
#[derive(Debug, Clone)]
pub enum Command {
    /// Adds series.
    Load {
        /// Interval between samples in ms.
        interval_ms: i64,
        /// Whether classic histograms are also loaded as native histograms with custom buckets.
        with_nhcb: bool,
        /// The series and their values.
        series: Vec<(Labels, Vec<SeqValue>)>,
    },
    /// Removes all data.
    Clear,
    /// Evaluates a query and checks the result.
    Eval(Box<EvalCmd>),
    /// An eval that could not be parsed (counts as a failed eval).
    Invalid {
        /// Line number.
        line: usize,
        /// Why.
        error: String,
    },
}

fn parse_expect(rest: &str) -> Result<(String, Expect), String> {
    let rest = rest.trim();
    let (kind, tail) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let e = if tail.is_empty() {
        Expect::Any
    } else if let Some(m) = tail.strip_prefix("msg:") {
        Expect::Msg(m.trim().to_string())
    } else if let Some(r) = tail.strip_prefix("regex:") {
        Expect::Regex(Regex::new(r.trim()).map_err(|e| e.to_string())?)
    } else {
        return Err(format!("bad expect line {rest:?}"));
    };
    Ok((kind.to_string(), e))
}

fn parse_eval_header(l: &str) -> Result<EvalCmd, String> {
    let inst =
        Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
            .map_err(|e| e.to_string())?;
    let range = Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .map_err(|e| e.to_string())?;
    let mut ev = EvalCmd::default();
    let modifier;
    if let Some(c) = inst.captures(l) {
        modifier = c.get(1).map(|m| m.as_str().to_string());
        let at = c.get(2).map(|m| m.as_str()).unwrap_or("0");
        ev.start = parse_duration_ms(at).ok_or_else(|| format!("bad time {at:?}"))?;
        ev.end = ev.start;
        ev.expr = c.get(3).map(|m| m.as_str().to_string()).unwrap_or_default();
    } else if let Some(c) = range.captures(l) {
        modifier = c.get(1).map(|m| m.as_str().to_string());
        let g = |i| c.get(i).map(|m| m.as_str()).unwrap_or("");
        ev.start = parse_duration_ms(g(2)).ok_or_else(|| format!("bad time {:?}", g(2)))?;
        ev.end = parse_duration_ms(g(3)).ok_or_else(|| format!("bad time {:?}", g(3)))?;
        ev.step = Some(parse_duration_ms(g(4)).ok_or_else(|| format!("bad step {:?}", g(4)))?);
        ev.expr = g(5).to_string();
    } else {
        return Err(format!("invalid eval command {l:?}"));
    }
    match modifier.as_deref() {
        Some("fail") => ev.fail = Some(Expect::Any),
        Some("warn") => ev.warn.push(Expect::Any),
        Some("info") => ev.info.push(Expect::Any),
        Some("ordered") => ev.ordered = true,
        _ => {}
    }
    Ok(ev)
}

/// Parses a script into commands.
pub fn parse_script(content: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<String> = content
        .split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if word == "load" || word == "load_with_nhcb" {
            let interval = l.split_whitespace().nth(1).unwrap_or("");
            let interval_ms = parse_duration_ms(interval)
                .ok_or_else(|| format!("line {}: bad interval", i + 1))?;
            let mut series = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let (lp, vp) = split_series(&lines[i]);
                let labels = parse_labels(&lp).map_err(|e| format!("line {}: {e}", i + 1))?;
                let vals = parse_values(&vp).map_err(|e| format!("line {}: {e}", i + 1))?;
                series.push((labels, vals));
                i += 1;
            }
            cmds.push(Command::Load {
                interval_ms,
                with_nhcb: word == "load_with_nhcb",
                series,
            });
        } else if word.starts_with("eval") {
            let line_no = i + 1;
            let mut ev = match parse_eval_header(l) {
                Ok(ev) => ev,
                Err(e) => {
                    cmds.push(Command::Invalid {
                        line: line_no,
                        error: e,
                    });
                    i += 1;
                    while i < lines.len() && !lines[i].is_empty() {
                        i += 1;
                    }
                    continue;
                }
            };
            ev.line = line_no;
            i += 1;
            let mut err = None;
            while i < lines.len() && !lines[i].is_empty() {
                let d = &lines[i];
                i += 1;
                if let Some(m) = d.strip_prefix("expected_fail_message") {
                    ev.fail = Some(Expect::Msg(m.trim().to_string()));
                    continue;
                }
                if let Some(m) = d.strip_prefix("expected_fail_regexp") {
                    match Regex::new(m.trim()) {
                        Ok(r) => ev.fail = Some(Expect::Regex(r)),
                        Err(e) => err = Some(e.to_string()),
                    }
                    continue;
                }
                if d.split(' ').next() == Some("expect") {
                    ev.has_expect_lines = true;
                    match parse_expect(&d["expect".len()..]) {
                        Ok((kind, e)) => match kind.as_str() {
                            "fail" => ev.fail = Some(e),
                            "ordered" => ev.ordered = true,
                            "warn" => ev.warn.push(e),
                            "info" => ev.info.push(e),
                            "no_warn" => ev.no_warn = true,
                            "no_info" => ev.no_info = true,
                            other => err = Some(format!("unknown expect {other:?}")),
                        },
                        Err(e) => err = Some(e),
                    }
                    continue;
                }
                if let Some(f) = parse_float(d) {
                    ev.expected.push((None, vec![SeqValue::Float(f)]));
                    continue;
                }
                if d.starts_with('"') {
                    ev.expected_string = Some(unquote(d));
                    continue;
                }
                let (lp, vp) = split_series(d);
                match (parse_labels(&lp), parse_values(&vp)) {
                    (Ok(l), Ok(v)) => ev.expected.push((Some(l), v)),
                    (Err(e), _) | (_, Err(e)) => err = Some(e),
                }
            }
            match err {
                Some(e) => cmds.push(Command::Invalid {
                    line: line_no,
                    error: e,
                }),
                None => cmds.push(Command::Eval(Box::new(ev))),
            }
        } else {
            return Err(format!("line {}: unknown command {l:?}", i + 1));
        }
    }
    Ok(cmds)
}

fn unquote(s: &str) -> String {
    let inner = s.trim().trim_start_matches('"').trim_end_matches('"');
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}
