//! Request parameters of the query API, parsed as Prometheus does: form values from the URL
//! query and, for `POST`, from an `application/x-www-form-urlencoded` body (body values first,
//! as Go's `Request.FormValue`), times as float Unix seconds or RFC 3339, durations as float
//! seconds or Prometheus durations (`1h30m`), and `match[]` series selectors.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Uri, header};
use strata_model::Matcher;

use crate::body::read_body_limited;
use crate::error::{Error, Result};
use crate::state::ApiState;

/// Prometheus' earliest representable time (`MinTime` in `web/api/v1`), in milliseconds.
pub(crate) const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// Prometheus' latest representable time (`MaxTime`), in milliseconds.
pub(crate) const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;
/// `MinTime` as RFC 3339, which clients send for "no lower bound".
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
/// `MaxTime` as RFC 3339, which clients send for "no upper bound".
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// The form values of one request, in order: body values first, then URL query values.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Reads the parameters of a request: the URL query, plus the form body of a `POST`
    /// (at most `max_body` bytes).
    pub(crate) async fn read(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
        max_body: usize,
    ) -> Result<Params> {
        let mut pairs = Vec::new();
        if *method == Method::POST && is_form(headers) {
            let bytes = read_body_limited(body, max_body).await?.ok_or_else(|| {
                Error::BadData("error parsing form values: http: POST too large".into())
            })?;
            pairs.extend(form_urlencoded::parse(&bytes).into_owned());
        }
        if let Some(q) = uri.query() {
            pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        Ok(Params { pairs })
    }

    /// Reads the parameters of a query API request, with the server's form size limit.
    pub(crate) async fn read_query(
        state: &ApiState,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Params> {
        let max = state.limits.max_query_form_bytes.as_usize();
        Params::read(method, uri, headers, body, max).await
    }

    /// Returns parameters from a list of pairs (tests).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params {
            pairs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// Returns the first value of `name`, or `""` (Go's `FormValue`).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Returns every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Parses optional time parameter `name`, defaulting to `default_ms`, with Prometheus'
    /// `parseTimeParam` messages.
    pub(crate) fn time_or(&self, name: &str, default_ms: i64) -> Result<i64> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(default_ms);
        }
        parse_time(v)
            .map_err(|e| invalid_param(name, &format!("invalid time value for '{name}': {e}")))
    }

    /// Parses required time parameter `name` (Prometheus' `parseTime`).
    pub(crate) fn time(&self, name: &str) -> Result<i64> {
        parse_time(self.get(name)).map_err(|e| invalid_param(name, &e))
    }

    /// Parses the `limit` parameter: 0 (no limit) when absent.
    pub(crate) fn limit(&self) -> Result<u64> {
        let v = self.get("limit");
        if v.is_empty() {
            return Ok(0);
        }
        match v.parse::<i64>() {
            Ok(n) if n < 0 => Err(invalid_param("limit", "limit must be non-negative")),
            Ok(n) => Ok(n.unsigned_abs()),
            Err(_) => Err(invalid_param(
                "limit",
                &format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(v)),
            )),
        }
    }

    /// Parses every `match[]` selector into matcher sets (one per selector and `or`
    /// alternative); each set must have a matcher that does not match the empty string.
    /// Errors carry the bare message (the label endpoints answer it as is; `/series` wraps it
    /// in `invalid parameter "match[]"`).
    pub(crate) fn match_sets(&self) -> std::result::Result<Vec<Vec<Matcher>>, String> {
        parse_match_sets(&self.all("match[]"))
    }
}

/// Returns Prometheus' `invalid parameter "name": message` error.
pub(crate) fn invalid_param(name: &str, message: &str) -> Error {
    Error::BadData(format!("invalid parameter {}: {message}", go_quote(name)))
}

/// Quotes like Go's `%q` for the ASCII strings of error messages.
pub(crate) fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Parses a time as Prometheus' `parseTime` does: float Unix seconds (rounded to the
/// millisecond), RFC 3339 with optional fraction, or the formatted `MinTime`/`MaxTime`.
pub(crate) fn parse_time(s: &str) -> std::result::Result<i64, String> {
    let err = || format!("cannot parse {} to a valid timestamp", go_quote(s));
    if let Some(f) = parse_go_float(s) {
        if !f.is_finite() {
            return Err(err());
        }
        let secs = f.trunc();
        let ms = ((f - secs) * 1000.0).round();
        let total = secs * 1000.0 + ms;
        if total >= i64::MAX as f64 || total <= i64::MIN as f64 {
            return Err(err());
        }
        return Ok(total as i64);
    }
    match s {
        MIN_TIME_FORMATTED => return Ok(MIN_TIME_MS),
        MAX_TIME_FORMATTED => return Ok(MAX_TIME_MS),
        _ => {}
    }
    parse_rfc3339_ms(s).ok_or_else(err)
}

/// Parses like Go's `strconv.ParseFloat(s, 64)` for the forms clients send: decimal with
/// optional exponent, `Inf`/`Infinity`/`NaN` in any case, optional sign.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Parses RFC 3339 (`2015-07-01T20:10:51.781Z`, `2015-07-01T22:10:51+02:00`) into milliseconds,
/// truncating below the millisecond as Prometheus' `timestamp.FromTime` does.
fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st || i - st > 9 {
            return None;
        }
        let digits = &s[st..i];
        let mut padded = format!("{digits:0<3}");
        padded.truncate(3);
        frac_ms = padded.parse().ok()?;
    }
    let offset_s = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            if h > 23 || m > 59 {
                return None;
            }
            let o = h * 3600 + m * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_s;
    Some(secs * 1000 + frac_ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Returns days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a duration as Prometheus' `parseDuration`: float seconds, or a Prometheus duration
/// (`1h30m`, `15s`, `100ms`). Returns nanoseconds.
pub(crate) fn parse_duration_ns(s: &str) -> std::result::Result<i128, String> {
    if let Some(f) = parse_go_float(s) {
        let ns = f * 1e9;
        if ns.is_nan() || ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(s)
            ));
        }
        return Ok(ns as i128);
    }
    strata_promql::parse::parse_prometheus_duration_ms(s)
        .map(|ms| i128::from(ms) * 1_000_000)
        .map_err(|_| format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// Prometheus' error for a `match[]` selector that would select every series.
const EMPTY_MATCHERS: &str = "match[] must contain at least one non-empty matcher";

/// Parses `match[]` selectors as Prometheus' `parseMatchersParam`.
pub(crate) fn parse_match_sets(
    selectors: &[&str],
) -> std::result::Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::with_capacity(selectors.len());
    for sel in selectors {
        let set = strata_promql::parse::parse_metric_selector(sel).map_err(|e| e.to_string())?;
        // Prometheus checks this after parsing a `match[]`.
        if !set.iter().any(|m| !m.matches_empty()) {
            return Err(EMPTY_MATCHERS.into());
        }
        sets.push(set);
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_prometheus() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1435781451"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("-1.5"), Ok(-1_500));
        assert_eq!(parse_time("1e3"), Ok(1_000_000));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("2015-07-01T22:10:51.781+02:00"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(parse_time("2015-07-01T20:10:51Z"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("1970-01-01T00:00:00.123456789Z"), Ok(123));
        assert_eq!(parse_time(MAX_TIME_FORMATTED), Ok(MAX_TIME_MS));
        assert_eq!(
            parse_time("abc"),
            Err("cannot parse \"abc\" to a valid timestamp".into())
        );
        assert!(parse_time("").is_err());
        assert!(parse_time("2015-02-30T00:00:00Z").is_err());
        assert!(parse_time("2015-07-01 20:10:51Z").is_err());
    }

    #[test]
    fn durations_parse_as_prometheus() {
        assert_eq!(parse_duration_ns("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration_ns("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration_ns("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration_ns("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_ns("1d"), Ok(86_400_000_000_000));
        assert!(parse_duration_ns("30s1m").is_err());
        assert!(parse_duration_ns("1x").is_err());
        assert_eq!(
            parse_duration_ns(""),
            Err("cannot parse \"\" to a valid duration".into())
        );
    }

    #[test]
    fn limit_and_match_parameters() {
        let p = Params::from_pairs(&[("limit", "x"), ("match[]", "up"), ("match[]", "{a=\"b\"}")]);
        assert_eq!(
            p.limit().unwrap_err().to_string(),
            "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(p.match_sets().unwrap().len(), 2);
        let p = Params::from_pairs(&[("match[]", "{job=~\".*\"}")]);
        assert!(p.match_sets().is_err());
        let p = Params::from_pairs(&[("match[]", "up[5m]")]);
        assert!(p.match_sets().is_err());
    }
}
