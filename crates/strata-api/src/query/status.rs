//! `/api/v1/status/{buildinfo,flags,runtimeinfo,tsdb}`, `/api/v1/rules` and `/api/v1/alerts`.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use strata_model::{METRIC_NAME, MatchOp, Matcher};
use strata_promql::SelectHints;

use super::eval::now_ms;
use super::json::JsonBuf;
use super::params::Params;
use super::respond::{finish, success};
use crate::error::{Error, Result};
use crate::state::ApiState;

/// The Prometheus version Strata's API follows, reported by buildinfo so that clients
/// (Grafana) enable the features of that version.
pub(crate) const PROMETHEUS_API_VERSION: &str = "3.5.0";

/// Handles `GET /api/v1/status/buildinfo`.
///
/// There is deliberately no `features` object: Grafana takes its presence for Mimir or Cortex
/// and would then use their APIs. Without it, Grafana treats Strata as plain Prometheus.
pub(crate) async fn buildinfo(State(state): State<ApiState>) -> Response {
    let start = Instant::now();
    let data = |b: &mut JsonBuf| {
        b.raw("{\"version\":");
        b.string(PROMETHEUS_API_VERSION);
        b.raw(",\"revision\":");
        b.string(concat!("strata-", env!("CARGO_PKG_VERSION")));
        b.raw(",\"branch\":\"strata\",\"buildUser\":\"strata\",\"buildDate\":\"\",\"goVersion\":\"none (strata is written in rust)\"}");
    };
    finish(&state, "buildinfo", start, Ok(success(256, data, &[], &[])))
}

/// Handles `GET /api/v1/status/flags`: the query settings under Prometheus' flag names.
pub(crate) async fn flags(State(state): State<ApiState>) -> Response {
    let start = Instant::now();
    let l = &state.limits;
    let cfg = state.engine.config();
    let pairs: Vec<(&str, String)> = vec![
        ("query.lookback-delta", prom_duration(cfg.lookback_delta)),
        (
            "query.max-concurrency",
            l.max_concurrent_queries.to_string(),
        ),
        ("query.max-samples", cfg.max_samples.to_string()),
        ("query.timeout", prom_duration(cfg.timeout)),
        (
            "storage.remote.read-concurrent-limit",
            l.max_concurrent_reads.to_string(),
        ),
        (
            "storage.remote.read-max-bytes-in-frame",
            l.max_read_frame_bytes.0.to_string(),
        ),
        (
            "storage.remote.read-sample-limit",
            l.max_read_samples_per_query.to_string(),
        ),
        ("web.enable-remote-write-receiver", "true".into()),
    ];
    let data = |b: &mut JsonBuf| {
        b.raw("{");
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                b.raw(",");
            }
            b.key(k);
            b.string(v);
        }
        b.raw("}");
    };
    finish(&state, "flags", start, Ok(success(1024, data, &[], &[])))
}

/// Handles `GET /api/v1/status/runtimeinfo`.
pub(crate) async fn runtimeinfo(State(state): State<ApiState>) -> Response {
    let start = Instant::now();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = format_rfc3339(state.started_at);
    let data = |b: &mut JsonBuf| {
        b.raw("{\"startTime\":");
        b.string(&started);
        b.raw(",\"CWD\":");
        b.string(&cwd);
        b.raw(",\"hostname\":");
        b.string(&hostname);
        b.raw(",\"serverTime\":");
        b.string(&format_rfc3339(SystemTime::now()));
        b.raw(",\"reloadConfigSuccess\":true,\"lastConfigTime\":");
        b.string(&started);
        b.raw(",\"corruptionCount\":0,\"goroutineCount\":0,\"GOMAXPROCS\":");
        b.uint(cpus as u64);
        b.raw(",\"GOMEMLIMIT\":");
        b.int(i64::MAX);
        b.raw(",\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":\"\"}");
    };
    finish(
        &state,
        "runtimeinfo",
        start,
        Ok(success(512, data, &[], &[])),
    )
}

/// Handles `GET /api/v1/rules`: Strata evaluates no rules.
pub(crate) async fn rules(State(state): State<ApiState>) -> Response {
    let start = Instant::now();
    let data = |b: &mut JsonBuf| b.raw("{\"groups\":[]}");
    finish(&state, "rules", start, Ok(success(64, data, &[], &[])))
}

/// Handles `GET /api/v1/alerts`: Strata evaluates no alerting rules.
pub(crate) async fn alerts(State(state): State<ApiState>) -> Response {
    let start = Instant::now();
    let data = |b: &mut JsonBuf| b.raw("{\"alerts\":[]}");
    finish(&state, "alerts", start, Ok(success(64, data, &[], &[])))
}

/// Handles `GET /api/v1/status/tsdb`: cardinality statistics of the series with samples in
/// the last `tsdb-status-window`, at most `max-tsdb-status-series` of them.
pub(crate) async fn tsdb(
    State(state): State<ApiState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let result = async {
        let p = Params::read(&method, &uri, &headers, body, 0).await?;
        let mut limit = 10usize;
        let l = p.get("limit");
        if !l.is_empty() {
            limit = l
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| Error::BadData("limit must be a positive number".into()))?;
        }
        let maxt = now_ms();
        let window = i64::try_from(state.limits.tsdb_status_window.as_millis()).unwrap_or(i64::MAX);
        let mint = maxt.saturating_sub(window);
        let max_series = usize::try_from(state.limits.max_tsdb_status_series).unwrap_or(usize::MAX);
        let queryable = state.queryable.clone();
        let stats = tokio::task::spawn_blocking(move || -> Result<Cardinality> {
            let all = Matcher::new(MatchOp::Regex, METRIC_NAME, ".+")
                .map_err(|e| Error::Internal(e.to_string()))?;
            let hints = SelectHints {
                mint,
                maxt,
                func: Some("series".into()),
                ..SelectHints::default()
            };
            let series = queryable.select(&hints, &[all])?;
            Ok(Cardinality::compute(series, mint, maxt, max_series))
        })
        .await
        .map_err(|e| Error::Internal(format!("tsdb status task failed: {e}")))??;
        let mut warnings = Vec::new();
        if stats.truncated {
            warnings.push(format!(
                "statistics cover only the first {max_series} series (max-tsdb-status-series)"
            ));
        }
        let data = |b: &mut JsonBuf| stats.write(b, limit);
        Ok(success(4096, data, &warnings, &[]))
    }
    .await;
    finish(&state, "tsdb", start, result)
}

/// Cardinality counts over a set of series.
#[derive(Debug, Default)]
struct Cardinality {
    num_series: u64,
    min_time: i64,
    max_time: i64,
    truncated: bool,
    by_metric: HashMap<String, u64>,
    by_pair: HashMap<(String, String), u64>,
}

impl Cardinality {
    fn compute(series: Vec<strata_promql::Series>, mint: i64, maxt: i64, max: usize) -> Self {
        let mut c = Cardinality {
            min_time: i64::MAX,
            max_time: i64::MIN,
            truncated: series.len() > max,
            ..Cardinality::default()
        };
        for mut s in series.into_iter().take(max) {
            c.num_series += 1;
            if let Some(p) = s.samples.seek(mint)
                && p.t <= maxt
            {
                c.min_time = c.min_time.min(p.t);
                c.max_time = maxt;
            }
            if let Some(name) = s.labels.metric_name() {
                *c.by_metric.entry(name.to_owned()).or_default() += 1;
            }
            for l in s.labels.iter() {
                *c.by_pair
                    .entry((l.name.clone(), l.value.clone()))
                    .or_default() += 1;
            }
        }
        c
    }

    fn write(&self, b: &mut JsonBuf, limit: usize) {
        let mut values_by_name: HashMap<&str, u64> = HashMap::new();
        let mut bytes_by_name: HashMap<&str, u64> = HashMap::new();
        for (name, value) in self.by_pair.keys() {
            *values_by_name.entry(name).or_default() += 1;
            *bytes_by_name.entry(name).or_default() += value.len() as u64;
        }
        b.raw("{\"headStats\":{\"numSeries\":");
        b.uint(self.num_series);
        b.raw(",\"numLabelPairs\":");
        b.uint(self.by_pair.len() as u64);
        b.raw(",\"chunkCount\":0,\"minTime\":");
        b.int(self.min_time);
        b.raw(",\"maxTime\":");
        b.int(self.max_time);
        b.raw("},\"seriesCountByMetricName\":");
        write_top(
            b,
            self.by_metric.iter().map(|(k, v)| (k.clone(), *v)),
            limit,
        );
        b.raw(",\"labelValueCountByLabelName\":");
        write_top(
            b,
            values_by_name.iter().map(|(k, v)| ((*k).to_owned(), *v)),
            limit,
        );
        b.raw(",\"memoryInBytesByLabelName\":");
        write_top(
            b,
            bytes_by_name.iter().map(|(k, v)| ((*k).to_owned(), *v)),
            limit,
        );
        b.raw(",\"seriesCountByLabelValuePair\":");
        write_top(
            b,
            self.by_pair
                .iter()
                .map(|((n, v), c)| (format!("{n}={v}"), *c)),
            limit,
        );
        b.raw("}");
    }
}

/// Writes the `limit` largest `(name, value)` entries, largest first (ties by name), as
/// `[{"name":…,"value":…}]`.
fn write_top(b: &mut JsonBuf, entries: impl Iterator<Item = (String, u64)>, limit: usize) {
    let mut all: Vec<(String, u64)> = entries.collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(limit);
    b.raw("[");
    for (i, (name, value)) in all.iter().enumerate() {
        if i > 0 {
            b.raw(",");
        }
        b.raw("{\"name\":");
        b.string(name);
        b.raw(",\"value\":");
        b.uint(*value);
        b.raw("}");
    }
    b.raw("]");
}

/// Formats a duration as Prometheus' `model.Duration` (`5m`, `1h30m`, `0s`).
pub(crate) fn prom_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Formats a time as RFC 3339 in UTC with nanoseconds, trailing zeros dropped (Go's
/// `time.RFC3339Nano`).
pub(crate) fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, dd) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let mut frac = format!("{nanos:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
        out.push('.');
        out.push_str(&frac);
    }
    out.push('Z');
    out
}

/// Returns the proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_and_times_as_prometheus() {
        assert_eq!(prom_duration(Duration::from_secs(300)), "5m");
        assert_eq!(prom_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(prom_duration(Duration::ZERO), "0s");
        let t = UNIX_EPOCH + Duration::from_millis(1_435_781_451_781);
        assert_eq!(format_rfc3339(t), "2015-07-01T20:10:51.781Z");
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
