//! The whole query API, differentially: the same requests (valid and malformed) to Strata and
//! to a real Prometheus 3.5 holding the same data. Statuses and error types must be equal, and
//! so must the data and warnings of successful answers; error message texts may differ where
//! promql-parser's wording differs from Prometheus' parser, and those differences are printed
//! (they are listed in docs/api.md), and so may warning and info texts (only their number is
//! compared). Instant vectors and series lists are compared in label order (see
//! `harness::api::normalize`).

use crate::harness::api::{
    Answer, Twin, count, dataset, json_diff, normalize, now_s_minus, url_encode,
};

#[test]
fn strata_answers_the_whole_api_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let twin = Twin::start(dir.path());
    let end = now_s_minus(120);
    twin.write_both(&dataset(end));
    let [strata, prom] = twin.bases();
    let t = end.to_string();
    let s = (end - 1500).to_string();
    let rfc = "2015-07-01T20:10:51.781Z";
    let q = |e: &str| url_encode(e);

    let gets: Vec<String> = vec![
        // Instant queries.
        format!("/api/v1/query?query=up&time={t}"),
        format!("/api/v1/query?query={}&time={t}", q("sum by (job) (up)")),
        format!(
            "/api/v1/query?query={}&time={t}",
            q("rate(http_requests_total[5m])")
        ),
        format!(
            "/api/v1/query?query={}&time={t}",
            q("histogram_quantile(0.9, rate(http_requests_total[5m]))")
        ),
        format!(
            "/api/v1/query?query={}&time={t}",
            q("http_requests_total offset 5m")
        ),
        format!(
            "/api/v1/query?query={}&time={t}",
            q("http_requests_total @ end()")
        ),
        format!(
            "/api/v1/query?query={}&time={t}",
            q("max_over_time(node_load1[10m:1m])")
        ),
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
        format!(
            "/api/v1/query?query={}&time={t}",
            q("{\"utf8_metric\", \"http.method\"=\"GET\"}")
        ),
        format!("/api/v1/query?query={}&time={t}", q("rate(up[5m])")),
        format!("/api/v1/query?query=nonexistent_metric&time={t}"),
        // Range queries.
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=60"),
        format!(
            "/api/v1/query_range?query={}&start={s}&end={t}&step=1m",
            q("rate(http_requests_total[2m])")
        ),
        format!(
            "/api/v1/query_range?query={}&start={s}&end={t}&step=37.5",
            q("sum(node_cpu_seconds_total)")
        ),
        format!("/api/v1/query_range?query=up&start={s}&end={t}&step=60&limit=1"),
        format!(
            "/api/v1/query_range?query={}&start={s}&end={t}&step=90",
            q("scalar(count(up))")
        ),
        format!("/api/v1/query_range?query=up&start={t}&end={t}&step=15"),
        // Series, labels, label values.
        "/api/v1/series?match[]=up".to_string(),
        format!(
            "/api/v1/series?match[]=up&match[]={}&start={s}&end={t}",
            q("{job=\"api\"}")
        ),
        format!(
            "/api/v1/series?match[]={}",
            q("{__name__=~\"node_.*\", mode!=\"idle\"}")
        ),
        "/api/v1/series?match[]=up&limit=2".to_string(),
        "/api/v1/series?match[]=up&start=10&end=5".to_string(),
        format!("/api/v1/series?match[]=up&start={rfc}&end=2015-07-01T21:10:51Z"),
        "/api/v1/labels".to_string(),
        "/api/v1/labels?limit=3".to_string(),
        format!("/api/v1/labels?match[]=up&start={s}&end={t}"),
        format!(
            "/api/v1/labels?match[]={}&match[]=node_load1",
            q("http_requests_total{code=\"500\"}")
        ),
        "/api/v1/label/job/values".to_string(),
        "/api/v1/label/__name__/values?limit=2".to_string(),
        format!(
            "/api/v1/label/mode/values?match[]={}",
            q("node_cpu_seconds_total{cpu=\"1\"}")
        ),
        "/api/v1/label/U__http_2e_method/values".to_string(),
        "/api/v1/label/U__bad_zz_/values".to_string(),
        "/api/v1/label/no_such_label/values".to_string(),
        // Metadata, exemplars, formatting, rules, alerts.
        "/api/v1/metadata".to_string(),
        "/api/v1/metadata?limit=1&metric=up".to_string(),
        format!("/api/v1/query_exemplars?query=up&start={s}.123&end={t}.456"),
        "/api/v1/query_exemplars?query=up".to_string(),
        format!(
            "/api/v1/format_query?query={}",
            q("sum(rate(foo[5m]))by(job)")
        ),
        format!("/api/v1/format_query?query={}", q("up{job=\"a\"}")),
        format!(
            "/api/v1/format_query?query={}",
            q(
                "sum by (job) (rate(http_requests_total{job=\"api\",code=~\"5..\"}[5m])) / sum by (job) (rate(http_requests_total{job=\"api\"}[5m])) > 0.01"
            )
        ),
        format!(
            "/api/v1/format_query?query={}",
            q("-foo offset 5m @ 100 + ignoring(a) group_left(b) bar[5m:1m]")
        ),
        format!("/api/v1/parse_query?query={}", q("up")),
        format!(
            "/api/v1/parse_query?query={}",
            q("sum without (instance) (rate(foo{a=~\"b.*\"}[5m] offset 1m))")
        ),
        format!(
            "/api/v1/parse_query?query={}",
            q("-(1 + 2) * on(job) group_left(x) bar @ 100")
        ),
        format!(
            "/api/v1/parse_query?query={}",
            q("max_over_time(foo[10m:1m])")
        ),
        format!(
            "/api/v1/parse_query?query={}",
            q("topk(3, foo) or label_replace(bar, \"a\", \"$1\", \"b\", \"(.*)\")")
        ),
        "/api/v1/rules".to_string(),
        "/api/v1/alerts".to_string(),
        // Malformed requests.
        format!("/api/v1/query?query={}&time={t}", q("sum(rate(up[5m])")),
        format!("/api/v1/query?query={}&time={t}", q("up{job~\"a\"}")),
        format!("/api/v1/query?query={}&time={t}", q("up{job==\"a\"}")),
        format!("/api/v1/query?query={}&time={t}", q("foo{a=~\"(\"}")),
        format!("/api/v1/query?query={}&time={t}", q("rate(up)")),
        format!("/api/v1/query?query={}&time={t}", q("1 + \"a\"")),
        format!(
            "/api/v1/query?query={}&time={t}",
            q("up + on(job) group_left node_cpu_seconds_total")
        ),
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
            failures.push(format!(
                "{what}: status {} vs {}\n  strata: {}\n  prometheus: {}",
                a.status, b.status, a.body, b.body
            ));
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
                v.as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default()
            };
            if b.status == 200 && (ja["data"].is_object() != jb["data"].is_object()) {
                failures.push(format!("{what}: data shape {} vs {}", a.body, b.body));
            }
            if what.contains("/status/tsdb") && keys(&ja["data"]) != keys(&jb["data"]) {
                failures.push(format!(
                    "{what}: keys {:?} vs {:?}",
                    keys(&ja["data"]),
                    keys(&jb["data"])
                ));
            }
            return;
        }
        if let Some(d) = json_diff(&ja["data"], &jb["data"], "data") {
            failures.push(format!(
                "{what}: {d}\n  strata: {}\n  prometheus: {}",
                a.body, b.body
            ));
        } else if count(&ja, "warnings") != count(&jb, "warnings")
            || count(&ja, "infos") != count(&jb, "infos")
        {
            failures.push(format!("{what}: annotations {} vs {}", a.body, b.body));
        } else if b.status < 300 && a.body.is_empty() != b.body.is_empty() {
            failures.push(format!("{what}: body {:?} vs {:?}", a.body, b.body));
        }
    };

    for path in &gets {
        check(
            format!("GET {path}"),
            twin.get(&strata, path),
            twin.get(&prom, path),
            false,
        );
    }
    for path in shape_only {
        check(
            format!("GET {path}"),
            twin.get(&strata, path),
            twin.get(&prom, path),
            true,
        );
    }
    // The same queries as form-encoded POSTs where Prometheus accepts them.
    let posts: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "/api/v1/query",
            vec![
                ("query", "sum(rate(http_requests_total[5m]))".into()),
                ("time", t.clone()),
            ],
        ),
        (
            "/api/v1/query",
            vec![("query", "sum(".into()), ("time", t.clone())],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up".into()),
                ("start", s.clone()),
                ("end", t.clone()),
                ("step", "1m".into()),
            ],
        ),
        (
            "/api/v1/query_range",
            vec![
                ("query", "up".into()),
                ("start", t.clone()),
                ("end", s.clone()),
                ("step", "1m".into()),
            ],
        ),
        (
            "/api/v1/series",
            vec![("match[]", "up".into()), ("match[]", "node_load1".into())],
        ),
        ("/api/v1/series", vec![("start", s.clone())]),
        (
            "/api/v1/labels",
            vec![("match[]", "http_requests_total".into())],
        ),
        (
            "/api/v1/query_exemplars",
            vec![
                ("query", "up".into()),
                ("start", s.clone()),
                ("end", t.clone()),
            ],
        ),
        (
            "/api/v1/format_query",
            vec![("query", "sum(up)by(job)".into())],
        ),
        ("/api/v1/label/job/values", vec![]),
        ("/api/v1/metadata", vec![]),
    ];
    for (path, form) in &posts {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(
            format!("POST {path} {form:?}"),
            twin.post_form(&strata, path, &pairs),
            twin.post_form(&prom, path, &pairs),
            false,
        );
    }
    // Compression: both honour Accept-Encoding: gzip on API answers.
    for base in [&strata, &prom] {
        let http = reqwest::blocking::Client::builder().build().unwrap();
        let r = http
            .get(format!("{base}/api/v1/series?match[]=up"))
            .header("Accept-Encoding", "gzip")
            .send()
            .unwrap();
        assert_eq!(
            r.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap_or("")),
            Some("gzip"),
            "{base}"
        );
    }

    for d in &message_diffs {
        eprintln!("message differs: {d}");
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
