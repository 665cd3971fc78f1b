//! Duration expressions (`foo[5m+1m]`, `[1h/2:10s]`, `offset (2*2)`), an experimental feature of
//! Prometheus 3.5 that `promql-parser` does not parse: they are evaluated here and replaced by
//! plain millisecond durations before parsing.

/// Evaluates an arithmetic expression over durations and numbers (seconds); returns seconds.
pub(crate) fn eval_duration_expr(s: &str) -> Option<f64> {
    let toks = tokenize(s)?;
    let mut p = P { toks, pos: 0 };
    let v = p.sum()?;
    if p.pos != p.toks.len() {
        return None;
    }
    Some(v)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Op(char),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/%^()".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
            let t: String = b[st..i].iter().collect();
            out.push(Tok::Num(token_seconds(&t)?));
        } else {
            return None;
        }
    }
    Some(out)
}

/// Returns the seconds of a number or a duration literal like `1h30m` or `500ms`.
fn token_seconds(t: &str) -> Option<f64> {
    if let Ok(f) = super::syntax::parse_number(t) {
        return Some(f);
    }
    let mut total = 0.0;
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return None;
        }
        let n: f64 = t[st..i].parse().ok()?;
        let us = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let mult = match &t[us..i] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 604_800.0,
            "y" => 31_536_000.0,
            _ => return None,
        };
        total += n * mult;
    }
    Some(total)
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn sum(&mut self) -> Option<f64> {
        let mut v = self.product()?;
        while let Some(Tok::Op(c @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let r = self.product()?;
            v = if c == '+' { v + r } else { v - r };
        }
        Some(v)
    }

    fn product(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(Tok::Op(c @ ('*' | '/' | '%'))) = self.peek().cloned() {
            self.pos += 1;
            let r = self.unary()?;
            v = match c {
                '*' => v * r,
                '/' => v / r,
                _ => v % r,
            };
        }
        Some(v)
    }

    fn unary(&mut self) -> Option<f64> {
        match self.peek() {
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Some(-self.unary()?)
            }
            Some(Tok::Op('+')) => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.atom()?;
        if let Some(Tok::Op('^')) = self.peek() {
            self.pos += 1;
            let e = self.unary()?;
            return Some(base.powf(e));
        }
        Some(base)
    }

    fn atom(&mut self) -> Option<f64> {
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Some(n)
            }
            Some(Tok::Op('(')) => {
                self.pos += 1;
                let v = self.sum()?;
                if self.peek() != Some(&Tok::Op(')')) {
                    return None;
                }
                self.pos += 1;
                Some(v)
            }
            _ => None,
        }
    }
}

/// Returns whether `s` is a plain duration or number that the parser accepts as is.
fn is_plain(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

fn fmt_ms(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as i64;
    if ms < 0 {
        format!("-{}ms", -ms)
    } else {
        format!("{ms}ms")
    }
}

/// Rewrites the duration expressions of a query into plain durations.
pub(crate) fn rewrite(q: &str) -> String {
    let c: Vec<char> = q.chars().collect();
    let mut out = String::with_capacity(q.len());
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            out.push(ch);
            i += 1;
            while i < c.len() {
                out.push(c[i]);
                if c[i] == '\\' && ch != '`' && i + 1 < c.len() {
                    out.push(c[i + 1]);
                    i += 2;
                    continue;
                }
                i += 1;
                if c[i - 1] == ch {
                    break;
                }
            }
            continue;
        }
        if ch == '['
            && let Some(end) = (i + 1..c.len()).find(|&j| c[j] == ']')
        {
            {
                let body: String = c[i + 1..end].iter().collect();
                let parts: Vec<String> = split_top_colon(&body)
                    .into_iter()
                    .map(|p| {
                        if is_plain(&p) {
                            p
                        } else {
                            eval_duration_expr(&p).map(fmt_ms).unwrap_or(p)
                        }
                    })
                    .collect();
                out.push('[');
                out.push_str(&parts.join(":"));
                out.push(']');
                i = end + 1;
                continue;
            }
        }
        if ch == 'o'
            && c[i..].iter().take(6).collect::<String>() == "offset"
            && (i == 0 || !(c[i - 1].is_ascii_alphanumeric() || c[i - 1] == '_'))
            && c.get(i + 6)
                .is_some_and(|n| !(n.is_ascii_alphanumeric() || *n == '_'))
        {
            let mut j = i + 6;
            while j < c.len() && c[j].is_whitespace() {
                j += 1;
            }
            let mut k = j;
            if k < c.len() && c[k] == '-' {
                k += 1;
                while k < c.len() && c[k].is_whitespace() {
                    k += 1;
                }
            }
            if k < c.len() && c[k] == '(' {
                let mut depth = 0;
                let mut e = k;
                while e < c.len() {
                    if c[e] == '(' {
                        depth += 1;
                    } else if c[e] == ')' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    e += 1;
                }
                let expr: String = c[j..(e + 1).min(c.len())].iter().collect();
                if let Some(v) = eval_duration_expr(&expr) {
                    out.push_str("offset ");
                    out.push_str(&fmt_ms(v));
                    i = e + 1;
                    continue;
                }
            }
        }
        out.push(ch);
        i += 1;
    }
    out
}

fn split_top_colon(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_duration_arithmetic() {
        assert_eq!(rewrite("x[26m+4m]"), "x[1800000ms]");
        assert_eq!(rewrite("x[29s+1s:5s+5s]"), "x[30000ms:10000ms]");
        assert_eq!(rewrite("x offset (100 + 2)"), "x offset 102000ms");
        assert_eq!(rewrite("x offset -(2 * 2)"), "x offset -4000ms");
        assert_eq!(rewrite(r#"x{a="[1+1]"}[5m]"#), r#"x{a="[1+1]"}[5m]"#);
        assert_eq!(eval_duration_expr("30m1s-30m1s % 1m"), Some(1800.0));
    }
}
