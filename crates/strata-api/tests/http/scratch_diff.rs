//! SCRATCH: temporary differential run against a Prometheus on 127.0.0.1:19090 (deleted later).
#![allow(dead_code, unreachable_pub, missing_docs, clippy::all)]
use std::time::{SystemTime, UNIX_EPOCH};
use crate::support::start;

type OwnedSeries = (Vec<(String, String)>, Vec<(i64, f64)>);
#[derive(Debug, Clone)]
pub struct Answer { pub status: u16, pub content_type: String, pub body: String }
impl Answer { pub fn json(&self) -> serde_json::Value { serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null) } }
struct Twin { c: reqwest::Client }
impl Twin {
    async fn get(&self, base: &str, path: &str) -> Answer { ans(self.c.get(format!("{base}{path}")).send().await.unwrap()).await }
    async fn post_form(&self, base: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form.iter().map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v))).collect::<Vec<_>>().join("&");
        ans(self.c.post(format!("{base}{path}")).header("Content-Type", "application/x-www-form-urlencoded").body(body).send().await.unwrap()).await
    }
}
async fn ans(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    Answer { status, content_type, body: r.text().await.unwrap_or_default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn scratch_diff() {
    let srv = start().await;
    let end = now_s_minus(120);
    let data = dataset(end);
    let ts: Vec<strata_proto::TimeSeries> = data.iter().map(|(l, s)| {
        let l: Vec<(&str, &str)> = l.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        crate::support::series(&l, s)
    }).collect();
    let body = crate::support::write_body(ts);
    assert_eq!(srv.write(body.clone()).await.0, 204);
    let c = reqwest::Client::new();
    let r = c.post("http://127.0.0.1:19090/api/v1/write").header("Content-Type","application/x-protobuf").header("Content-Encoding","snappy").header("X-Prometheus-Remote-Write-Version","0.1.0").body(body).send().await.unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let twin = Twin { c };
    let strata = srv.url("");
    let prom = "http://127.0.0.1:19090".to_string();
    let t = end.to_string();
    let s = (end - 1500).to_string();
    let rfc = "2015-07-01T20:10:51.781Z";
    let q = |e: &str| url_encode(e);

    let gets: Vec<String> = vec![
        // Instant queries.
        format!("/api/v1/query?query=up&time={t}"),
        format!("/api/v1/query?query={}&time={t}", q("sum by (job) (up)")),
        format!("/api/v1/query?query={}&time={t}", q("rate(http_requests_total[5m])")),
        format!("/api/v1/query?query={}&time={t}", q("histogram_quantile(0.9, rate(http_requests_total[5m]))")),
        format!("/api/v1/query?query={}&time={t}", q("http_requests_total offset 5m")),
        format!("/api/v1/query?query={}&time={t}", q("http_requests_total @ end()")),
        format!("/api/v1/query?query={}&time={t}", q("max_over_time(node_load1[10m:1m])")),
        format!("/api/v1/query?query={}&time={t}", q("node_load1[2m]")),
        format!("/api/v1/query?query={}&time={t}", q("weird_values")),
        format!("/api/v1/query?query={}&time={t}", q("1/3")),
        format!("/api/v1/query?query={}&time={t}", q("\"a string\"")),
        format!("/api/v1/query?query={}&time={t}.5", q("time()")),
        format!("/api/v1/query?query={}&time={rfc}", q("vector(1)")),
        format!("/api/v1/query?query=up&time={t}&limit=2"),
        format!("/api/v1/query?query=up&time={t}&limit=0"),
        format!("/api/v1/query?query=up&time={t}&lookback_delta=1s"),
        format!("/api/v1/query?query=up&time={t}&lookback_delta=10m"),
        format!("/api/v1/query?query=up&time={t}&timeout=30s"),
        format!("/api/v1/query?query={}&time={t}", q("{\"utf8_metric\", \"http.method\"=\"GET\"}")),
        format!("/api/v1/query?query={}&time={t}", q("rate(up[5m])")),
        format!("/api/v1/query?query=nonexistent_metric&time={t}"),
        // Range queries.
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=60"),
        format!("/api/v1/query_range?query={}&start={s}&end={t}&step=1m", q("rate(http_requests_total[2m])")),
        format!("/api/v1/query_range?query={}&start={s}&end={t}&step=37.5", q("sum(node_cpu_seconds_total)")),
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=60&limit=1"),
        format!("/api/v1/query_range?query={}&start={s}&end={t}&step=90", q("scalar(count(up))")),
        format!("/api/v1/query_range?query=up&start={t}&end={t}&step=15"),
        // Series, labels, label values.
        "/api/v1/series?match[]=up".to_string(),
        format!("/api/v1/series?match[]=up&match[]={}&start={s}&end={t}", q("{job=\"api\"}")),
        format!("/api/v1/series?match[]={}", q("{__name__=~\"node_.*\", mode!=\"idle\"}")),
        "/api/v1/series?match[]=up&limit=2".to_string(),
        "/api/v1/series?match[]=up&start=10&end=5".to_string(),
        format!("/api/v1/series?match[]=up&start={rfc}&end=2015-07-01T21:10:51Z"),
        "/api/v1/labels".to_string(),
        "/api/v1/labels?limit=3".to_string(),
        format!("/api/v1/labels?match[]=up&start={s}&end={t}"),
        format!("/api/v1/labels?match[]={}&match[]=node_load1", q("http_requests_total{code=\"500\"}")),
        "/api/v1/label/job/values".to_string(),
        "/api/v1/label/__name__/values?limit=2".to_string(),
        format!("/api/v1/label/mode/values?match[]={}", q("node_cpu_seconds_total{cpu=\"1\"}")),
        "/api/v1/label/U__http_2e_method/values".to_string(),
        "/api/v1/label/U__bad_zz_/values".to_string(),
        "/api/v1/label/no_such_label/values".to_string(),
        // Metadata, exemplars, formatting, rules, alerts.
        "/api/v1/metadata".to_string(),
        "/api/v1/metadata?limit=1&metric=up".to_string(),
        format!("/api/v1/query_exemplars?query=up&start={s}.123&end={t}.456"),
        "/api/v1/query_exemplars?query=up".to_string(),
        format!("/api/v1/format_query?query={}", q("sum(rate(foo[5m]))by(job)")),
        format!("/api/v1/format_query?query={}", q("up{job=\"a\"}")),
        format!("/api/v1/format_query?query={}", q("sum by (job) (rate(http_requests_total{job=\"api\",code=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total{job=\"api\"}[5m])) > 0.01")),
        format!("/api/v1/format_query?query={}", q("-foo offset 5m @ 100 + ignoring(a) group_left(b) bar[5m:1m]")),
        format!("/api/v1/parse_query?query={}", q("up")),
        format!("/api/v1/parse_query?query={}", q("sum without (instance) (rate(foo{a=~\"b.*\"}[5m] offset 1m))")),
        format!("/api/v1/parse_query?query={}", q("-(1 + 2) * on(job) group_left(x) bar @ 100")),
        format!("/api/v1/parse_query?query={}", q("max_over_time(foo[10m:1m])")),
        format!("/api/v1/parse_query?query={}", q("topk(3, foo) or label_replace(bar, \"a\", \"$1\", \"b\", \"(.*)\")")),
        "/api/v1/rules".to_string(),
        "/api/v1/alerts".to_string(),
        // Malformed requests.
        format!("/api/v1/query?query={}&time={t}", q("sum(rate(up[5m])")),
        format!("/api/v1/query?query={}&time={t}", q("up{job~\"a\"}")),
        format!("/api/v1/query?query={}&time={t}", q("up{job==\"a\"}")),
        format!("/api/v1/query?query={}&time={t}", q("foo{a=~\"(\"}")),
        format!("/api/v1/query?query={}&time={t}", q("rate(up)")),
        format!("/api/v1/query?query={}&time={t}", q("1 + \"a\"")),
        format!("/api/v1/query?query={}&time={t}", q("up + on(job) group_left node_cpu_seconds_total")),
        "/api/v1/query?query=up&time=yesterday".to_string(),
        "/api/v1/query?query=up&time=2015-13-01T00:00:00Z".to_string(),
        "/api/v1/query?query=up&limit=-1".to_string(),
        "/api/v1/query?query=up&limit=ten".to_string(),
        "/api/v1/query?query=up&timeout=soon".to_string(),
        "/api/v1/query?query=up&lookback_delta=x".to_string(),
        "/api/v1/query".to_string(),
        format!("/api/v1/query_range?query=up&start={t}&end={s}&step=60"),
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=0"),
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=-15"),
        format!("/api/v1/query_range?query=up&start={s}&end={t}"),
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=banana"),
        format!("/api/v1/query_range?query=up&start=0&end={t}&step=1"),
        format!("/api/v1/query_range?query=up&start=noon&end={t}&step=60"),
        format!("/api/v1/query_range?query=up&end={t}&step=60"),
        format!("/api/v1/query_range?query=up&start={s}&end=later&step=60"),
        "/api/v1/series".to_string(),
        format!("/api/v1/series?match[]={}", q("{job=~\".*\"}")),
        format!("/api/v1/series?match[]={}", q("up{")),
        format!("/api/v1/series?match[]={}", q("up[5m]")),
        format!("/api/v1/series?match[]={}", q("sum(up)")),
        "/api/v1/series?match[]=up&start=x".to_string(),
        "/api/v1/series?match[]=up&limit=x".to_string(),
        "/api/v1/labels?start=x".to_string(),
        "/api/v1/labels?end=x".to_string(),
        format!("/api/v1/labels?match[]={}", q("up{")),
        format!("/api/v1/labels?match[]={}", q("{job=~\".*\"}")),
        "/api/v1/label/job/values?start=x".to_string(),
        "/api/v1/label/job/values?limit=x".to_string(),
        format!("/api/v1/label/job/values?match[]={}", q("up{")),
        "/api/v1/metadata?limit=x".to_string(),
        "/api/v1/metadata?limit_per_metric=x".to_string(),
        format!("/api/v1/query_exemplars?query=up&start={t}&end={s}"),
        format!("/api/v1/query_exemplars?query={}", q("up(")),
        "/api/v1/query_exemplars?query=up&start=x".to_string(),
        format!("/api/v1/format_query?query={}", q("foo(")),
        "/api/v1/status/tsdb?limit=0".to_string(),
        "/api/v1/status/tsdb?limit=x".to_string(),
    ];
    // Endpoints whose data describes the server itself: only status and shape are compared.
    let shape_only = [
        "/api/v1/status/buildinfo",
        "/api/v1/status/flags",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/tsdb",
        "/api/v1/status/tsdb?limit=3",
    ];

    let mut failures = Vec::new();
    let mut message_diffs = Vec::new();
    let mut check = |what: String, a: Answer, b: Answer, shape: bool| {
        if a.status != b.status {
            failures.push(format!("{what}: status {} vs {}\n  strata: {}\n  prometheus: {}", a.status, b.status, a.body, b.body));
            return;
        }
        let (mut ja, mut jb) = (a.json(), b.json());
        normalize(&mut ja);
        normalize(&mut jb);
        if ja["status"] != jb["status"] || ja["errorType"] != jb["errorType"] {
            failures.push(format!("{what}: {} vs {}", a.body, b.body));
            return;
        }
        for field in ["error", "warnings", "infos"] {
            if ja[field] != jb[field] {
                message_diffs.push(format!(
                    "{what}\n  strata:     {}\n  prometheus: {}",
                    ja[field], jb[field]
                ));
            }
        }
        if shape {
            let keys = |v: &serde_json::Value| -> Vec<String> {
                v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
            };
            if b.status == 200 && (ja["data"].is_object() != jb["data"].is_object()) {
                failures.push(format!("{what}: data shape {} vs {}", a.body, b.body));
            }
            if what.contains("/status/tsdb") && keys(&ja["data"]) != keys(&jb["data"]) {
                failures.push(format!("{what}: keys {:?} vs {:?}", keys(&ja["data"]), keys(&jb["data"])));
            }
            return;
        }
        if let Some(d) = json_diff(&ja["data"], &jb["data"], "data") {
            failures.push(format!("{what}: {d}\n  strata: {}\n  prometheus: {}", a.body, b.body));
        } else if count(&ja, "warnings") != count(&jb, "warnings")
            || count(&ja, "infos") != count(&jb, "infos")
        {
            failures.push(format!("{what}: annotations {} vs {}", a.body, b.body));
        } else if b.status < 300 && a.body.is_empty() != b.body.is_empty() {
            failures.push(format!("{what}: body {:?} vs {:?}", a.body, b.body));
        }
    };

    for path in &gets {
        check(format!("GET {path}"), twin.get(&strata, path).await, twin.get(&prom, path).await, false);
    }
    for path in shape_only {
        check(format!("GET {path}"), twin.get(&strata, path).await, twin.get(&prom, path).await, true);
    }
    // The same queries as form-encoded POSTs where Prometheus accepts them.
    let posts: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("/api/v1/query", vec![("query", "sum(rate(http_requests_total[5m]))".into()), ("time", t.clone())]),
        ("/api/v1/query", vec![("query", "sum(".into()), ("time", t.clone())]),
        ("/api/v1/query_range", vec![("query", "up".into()), ("start", s.clone()), ("end", t.clone()), ("step", "1m".into())]),
        ("/api/v1/query_range", vec![("query", "up".into()), ("start", t.clone()), ("end", s.clone()), ("step", "1m".into())]),
        ("/api/v1/series", vec![("match[]", "up".into()), ("match[]", "node_load1".into())]),
        ("/api/v1/series", vec![("start", s.clone())]),
        ("/api/v1/labels", vec![("match[]", "http_requests_total".into())]),
        ("/api/v1/query_exemplars", vec![("query", "up".into()), ("start", s.clone()), ("end", t.clone())]),
        ("/api/v1/format_query", vec![("query", "sum(up)by(job)".into())]),
        ("/api/v1/label/job/values", vec![]),
        ("/api/v1/metadata", vec![]),
    ];
    for (path, form) in &posts {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(
            format!("POST {path} {form:?}"),
            twin.post_form(&strata, path, &pairs).await,
            twin.post_form(&prom, path, &pairs).await,
            false,
        );
    }

    let (t, start) = (end.to_string(), (end - 1200).to_string());

    let commands: Vec<Vec<String>> = [
        vec!["instant", "--time", &t, "SERVER", "up"],
        vec!["instant", "--time", &t, "SERVER", "sum by (job, code) (rate(http_requests_total[5m]))"],
        vec!["instant", "--time", &t, "SERVER", "weird_values"],
        vec!["instant", "--time", &t, "SERVER", "node_load1[1m]"],
        vec!["instant", "--time", &t, "SERVER", "scalar(sum(up))"],
        vec!["instant", "--time", &t, "SERVER", "{\"utf8_metric\", \"http.method\"=\"GET\"}"],
        vec!["instant", "--time", &t, "-o", "json", "SERVER", "rate(node_cpu_seconds_total[2m])"],
        vec!["range", "--start", &start, "--end", &t, "--step", "60s", "SERVER", "rate(http_requests_total[5m])"],
        vec!["range", "--start", &start, "--end", &t, "--step", "45s", "SERVER", "avg_over_time(node_load1[3m])"],
        vec!["range", "--start", &start, "--end", &t, "--step", "1m", "-o", "json", "SERVER", "up == 1"],
        vec!["series", "--match", "up", "--match", "node_load1", "--start", &start, "--end", &t, "SERVER"],
        vec!["series", "--match", "{job=~\"a.*|node\"}", "SERVER"],
        vec!["labels", "--start", &start, "--end", &t, "SERVER", "job"],
        vec!["labels", "--match", "up", "SERVER", "instance"],
        vec!["labels", "SERVER", "__name__"],
        // Errors: both must fail the same way.
        vec!["instant", "--time", &t, "SERVER", "sum(rate(foo[5m])"],
        vec!["range", "--start", &t, "--end", &start, "--step", "60s", "SERVER", "up"],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();

    for cmd in commands {
        let outs: Vec<(bool, String, String)> = [strata.clone(), prom.clone()].iter()
            .map(|base| {
                let mut args = vec!["query".to_string()];
                args.extend(cmd.iter().map(|a| if a == "SERVER" { base.clone() } else { a.clone() }));
                promtool_run(&args)
            })
            .collect();
        let (s, p) = (&outs[0], &outs[1]);
        assert_eq!(s.0, p.0, "promtool {cmd:?}: exit status differs\nstrata: {}\nprometheus: {}", s.2, p.2);
        if p.0 {
            assert!(!p.1.trim().is_empty(), "promtool {cmd:?}: empty reference output");
            assert_eq!(canonical(&cmd, &s.1), canonical(&cmd, &p.1), "promtool {cmd:?}: output differs\nstrata:\n{}\nprometheus:\n{}", s.1, p.1);
        }
    }
    for d in &message_diffs { eprintln!("message differs: {d}"); }
    eprintln!("{} differences:\n{}", failures.len(), failures.join("\n"));
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
    for (method, code, rate) in [("GET", "200", 3.0), ("GET", "500", 0.25), ("POST", "200", 1.5)] {
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
        own(&[("__name__", "node_load1"), ("instance", "a:9100"), ("job", "node")]),
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
        own(&[("__name__", "utf8_metric"), ("http.method", "GET"), ("job", "otel")]),
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
        (V::String(x), V::String(y)) if x != y => {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(p), Ok(q)) if p.is_finite() && q.is_finite() => {
                    let tol = 1e-12 * p.abs().max(q.abs());
                    ((p - q).abs() > tol).then(|| format!("{path}: {x:?} vs {y:?}"))
                }
                _ => Some(format!("{path}: {x:?} vs {y:?}")),
            }
        }
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
    } else if let Some(list) = v["data"].as_array_mut() {
        if list.iter().all(|x| x.is_object()) {
            list.sort_by_key(key);
        }
    }
}

/// Returns the number of entries of `v[field]` (warnings, infos).
pub fn count(v: &serde_json::Value, field: &str) -> usize {
    v[field].as_array().map_or(0, Vec::len)
}
fn canonical(cmd: &[String], out: &str) -> String {
    if cmd.iter().any(|a| a == "json") {
        let mut v: serde_json::Value = serde_json::from_str(out).unwrap_or(serde_json::Value::Null);
        if let Some(a) = v.as_array_mut() {
            a.sort_by_key(|x| x.to_string());
        }
        return v.to_string();
    }
    if cmd[0] == "instant" || cmd[0] == "series" {
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort_unstable();
        return lines.join("\n");
    }
    out.to_owned()
}


fn promtool_run(args: &[String]) -> (bool, String, String) {
    let out = std::process::Command::new(format!("{}/.cache/strata-peers/bin/promtool", std::env::var("HOME").unwrap())).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
