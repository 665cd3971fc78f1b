//! Twin servers for the query API tests: a `strata server` and a real Prometheus 3.5 (with its
//! remote write receiver) fed the same remote_write bodies, plus a raw HTTP client and a JSON
//! comparison that tolerates only last-digit float differences.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::client::{Strata, encode_write};
use super::prometheus::Prometheus;

/// An owned series: labels and `(timestamp_ms, value)` samples.
pub type OwnedSeries = (Vec<(String, String)>, Vec<(i64, f64)>);

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// Returns the body parsed as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Strata and Prometheus holding the same data.
#[derive(Debug)]
pub struct Twin {
    /// The Strata server.
    pub strata: Strata,
    /// The reference Prometheus.
    pub prom: Prometheus,
    http: reqwest::blocking::Client,
}

impl Twin {
    /// Starts both servers under `dir`.
    pub fn start(dir: &Path) -> Twin {
        let strata = Strata::start(&dir.join("strata"), &[]);
        let prom = Prometheus::start(
            &dir.join("prom"),
            "global:\n  scrape_interval: 1h\n",
            &["--web.enable-remote-write-receiver"],
        );
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Twin { strata, prom, http }
    }

    /// Returns the base URLs `[strata, prometheus]`.
    pub fn bases(&self) -> [String; 2] {
        [
            format!("http://{}", self.strata.addr),
            format!("http://{}", self.prom.addr),
        ]
    }

    /// Sends the same remote_write body to both; both must store everything (2xx).
    pub fn write_both(&self, series: &[OwnedSeries]) {
        let borrowed: Vec<(Vec<(&str, &str)>, Vec<(i64, f64)>)> = series
            .iter()
            .map(|(l, s)| {
                (
                    l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
                    s.clone(),
                )
            })
            .collect();
        let body = encode_write(&borrowed);
        for base in self.bases() {
            let resp = self
                .http
                .post(format!("{base}/api/v1/write"))
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body.clone())
                .send()
                .expect("remote write");
            let status = resp.status();
            let text = resp.text().unwrap_or_default();
            assert!(status.is_success(), "write to {base}: {status}: {text}");
        }
    }

    /// Sends `GET base+path`.
    pub fn get(&self, base: &str, path: &str) -> Answer {
        answer(self.http.get(format!("{base}{path}")).send())
    }

    /// Sends `POST base+path` with a form-encoded body.
    pub fn post_form(&self, base: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        answer(
            self.http
                .post(format!("{base}{path}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send(),
        )
    }
}

fn answer(r: reqwest::Result<reqwest::blocking::Response>) -> Answer {
    let r = r.expect("http request");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    Answer {
        status,
        content_type,
        body: r.text().unwrap_or_default(),
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Returns now in whole seconds, minus `back` seconds.
pub fn now_s_minus(back: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    now - back
}

/// Returns the data set both servers get: scrape-like series every 15s over the 30 minutes
/// ending at `end_s`, with counters, gauges, ±Inf, a fraction-rich gauge and a UTF-8 label name.
pub fn dataset(end_s: i64) -> Vec<OwnedSeries> {
    let start_ms = (end_s - 1800) * 1000;
    let times: Vec<i64> = (0..=120).map(|i| start_ms + i * 15_000).collect();
    let own = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    let mut out: Vec<OwnedSeries> = Vec::new();
    for (inst, v) in [("a:9100", 1.0), ("b:9100", 0.0), ("c:9100", 1.0)] {
        out.push((
            own(&[("__name__", "up"), ("instance", inst), ("job", "node")]),
            times.iter().map(|&t| (t, v)).collect(),
        ));
    }
    for (method, code, rate) in [
        ("GET", "200", 3.0),
        ("GET", "500", 0.25),
        ("POST", "200", 1.5),
    ] {
        out.push((
            own(&[
                ("__name__", "http_requests_total"),
                ("code", code),
                ("job", "api"),
                ("method", method),
            ]),
            times
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, (i as f64) * 15.0 * rate + (i % 7) as f64))
                .collect(),
        ));
    }
    for cpu in 0..2 {
        for mode in ["idle", "user", "system"] {
            let cpu_s = cpu.to_string();
            out.push((
                own(&[
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", &cpu_s),
                    ("instance", "a:9100"),
                    ("job", "node"),
                    ("mode", mode),
                ]),
                times
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| (t, i as f64 * 0.37 * (cpu + 1) as f64 + 0.01))
                    .collect(),
            ));
        }
    }
    out.push((
        own(&[
            ("__name__", "node_load1"),
            ("instance", "a:9100"),
            ("job", "node"),
        ]),
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, ((i as f64) / 10.0).sin() + 1.0 / 3.0))
            .collect(),
    ));
    out.push((
        own(&[("__name__", "weird_values"), ("job", "edge")]),
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let v = match i % 4 {
                    0 => f64::INFINITY,
                    1 => f64::NEG_INFINITY,
                    2 => 1e-7,
                    _ => 1e21,
                };
                (t, v)
            })
            .collect(),
    ));
    out.push((
        own(&[
            ("__name__", "utf8_metric"),
            ("http.method", "GET"),
            ("job", "otel"),
        ]),
        times.iter().map(|&t| (t, 2.5)).collect(),
    ));
    out
}

/// Compares two JSON values; number-like strings (sample values) may differ in the last
/// digits (relative 1e-12), everything else must be equal. Returns the first difference.
pub fn json_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Object(x), V::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = json_diff(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{path}.{k}: present on one side only")),
                }
            }
            None
        }
        (V::Array(x), V::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: {} vs {} elements", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| json_diff(p, q, &format!("{path}[{i}]")))
        }
        (V::String(x), V::String(y)) if x != y => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) if p.is_finite() && q.is_finite() => {
                let tol = 1e-12 * p.abs().max(q.abs());
                ((p - q).abs() > tol).then(|| format!("{path}: {x:?} vs {y:?}"))
            }
            _ => Some(format!("{path}: {x:?} vs {y:?}")),
        },
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

/// Puts an answer's data in a canonical order where Prometheus leaves it unspecified: the
/// series of an instant vector and of `/api/v1/series` (Prometheus returns head series in
/// creation order, Strata in label order; neither order is part of the API).
pub fn normalize(v: &mut serde_json::Value) {
    let key = |x: &serde_json::Value| x.to_string();
    if v["data"]["resultType"] == "vector" {
        if let Some(r) = v["data"]["result"].as_array_mut() {
            r.sort_by_key(key);
        }
    } else if let Some(list) = v["data"].as_array_mut()
        && list.iter().all(|x| x.is_object())
    {
        list.sort_by_key(key);
    }
}

/// Returns the number of entries of `v[field]` (warnings, infos).
pub fn count(v: &serde_json::Value, field: &str) -> usize {
    v[field].as_array().map_or(0, Vec::len)
}
