//! The Prometheus query API over real HTTP: result formats, the label endpoints, metadata from
//! remote write, status endpoints and compression.

use std::io::Read;

use serde_json::{Value, json};
use strata_proto::{MetricMetadata, WriteRequest};

use crate::support::{TestServer, series, start, write_body};

/// Writes `up{job="a"}`, `up{job="b"}` and `http_requests_total{job="a",method="GET"}`
/// with samples every 15s from t=1000s to t=1060s.
async fn seeded() -> TestServer {
    let srv = start().await;
    let pts: Vec<(i64, f64)> = (0..5).map(|i| (1_000_000 + i * 15_000, i as f64)).collect();
    let body = write_body(vec![
        series(&[("__name__", "up"), ("job", "a")], &pts),
        series(&[("__name__", "up"), ("job", "b")], &pts),
        series(
            &[
                ("__name__", "http_requests_total"),
                ("job", "a"),
                ("method", "GET"),
            ],
            &pts,
        ),
        series(
            &[("__name__", "odd"), ("http.method", "POST")],
            &[(1_000_000, 0.1)],
        ),
    ]);
    let (status, text) = srv.write(body).await;
    assert_eq!(status, 204, "{text}");
    srv
}

async fn get_json(srv: &TestServer, path: &str) -> (u16, Value) {
    let (status, text) = srv.get(path).await;
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text:?}"));
    (status, v)
}

async fn post_form(srv: &TestServer, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let resp = srv
        .client
        .post(srv.url(path))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn instant_query_answers_in_prometheus_format() {
    let srv = seeded().await;
    let (status, v) = get_json(&srv, "/api/v1/query?query=up&time=1060.5").await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"a"},"value":[1060.5,"4"]},
            {"metric":{"__name__":"up","job":"b"},"value":[1060.5,"4"]}]}})
    );
    let (_, text) = srv
        .get("/api/v1/query?query=1%2F0&time=1435781451.781")
        .await;
    assert_eq!(
        text,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"+Inf"]}}"#
    );
    let (_, text) = srv
        .get("/api/v1/query?query=-1e300*0.5&time=2015-07-01T20:10:51.1Z")
        .await;
    assert!(
        text.contains("[1435781451.1,\"-500000000000000000000000000000000000"),
        "{text}"
    );
    let (_, v) = get_json(&srv, "/api/v1/query?query=%22s%22&time=5").await;
    assert_eq!(v["data"], json!({"resultType":"string","result":[5,"s"]}));
}

#[tokio::test]
async fn range_query_by_post_form_with_limit() {
    let srv = seeded().await;
    let (status, v) = post_form(
        &srv,
        "/api/v1/query_range",
        &[
            ("query", "up"),
            ("start", "1000"),
            ("end", "1030"),
            ("step", "15s"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(
        v["data"]["result"][0],
        json!({"metric":{"__name__":"up","job":"a"},"values":[[1000,"0"],[1015,"1"],[1030,"2"]]})
    );
    let (_, v) = get_json(
        &srv,
        "/api/v1/query_range?query=up&start=1000&end=1030&step=15&limit=1",
    )
    .await;
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (_, v) = get_json(&srv, "/api/v1/query?query=time()&time=10&stats=all").await;
    assert!(
        v["data"]["stats"]["timings"]["execTotalTime"].is_number(),
        "{v}"
    );
}

#[tokio::test]
async fn series_labels_and_values() {
    let srv = seeded().await;
    let (status, v) = get_json(
        &srv,
        "/api/v1/series?match[]=up&match[]=http_requests_total",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v["data"],
        json!([
            {"__name__":"http_requests_total","job":"a","method":"GET"},
            {"__name__":"up","job":"a"},
            {"__name__":"up","job":"b"}
        ])
    );
    let (_, v) = post_form(&srv, "/api/v1/series", &[("match[]", "up"), ("limit", "1")]).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (_, v) = get_json(&srv, "/api/v1/labels").await;
    assert_eq!(
        v["data"],
        json!(["__name__", "http.method", "job", "method"])
    );
    let (_, v) = get_json(&srv, "/api/v1/labels?match[]=up&start=0&end=2000").await;
    assert_eq!(v["data"], json!(["__name__", "job"]));
    let (_, v) = get_json(&srv, "/api/v1/label/__name__/values").await;
    assert_eq!(v["data"], json!(["http_requests_total", "odd", "up"]));
    let (_, v) = get_json(&srv, "/api/v1/label/job/values?match[]=up&limit=1").await;
    assert_eq!(v["data"], json!(["a"]));
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (_, v) = get_json(&srv, "/api/v1/label/U__http_2e_method/values").await;
    assert_eq!(v["data"], json!(["POST"]));
    // Out of the time range: nothing.
    let (_, v) = get_json(&srv, "/api/v1/series?match[]=up&start=0&end=10").await;
    assert_eq!(v["data"], json!([]));
}

#[tokio::test]
async fn series_limit_guards_huge_answers() {
    let limits = strata_api::ApiLimits {
        max_series_per_request: 1,
        ..strata_api::ApiLimits::default()
    };
    let srv = crate::support::start_with(limits).await;
    let body = write_body(vec![
        series(&[("__name__", "up"), ("job", "a")], &[(1, 1.0)]),
        series(&[("__name__", "up"), ("job", "b")], &[(1, 1.0)]),
    ]);
    assert_eq!(srv.write(body).await.0, 204);
    let (status, v) = get_json(&srv, "/api/v1/series?match[]=up").await;
    assert_eq!(status, 422);
    assert_eq!(v["errorType"], "execution");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("max-series-per-request")
    );
}

#[tokio::test]
async fn metadata_comes_from_remote_write() {
    let srv = start().await;
    let body = WriteRequest {
        timeseries: Vec::new(),
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "http_requests_total".into(),
            help: "Total requests.".into(),
            unit: String::new(),
        }],
    }
    .to_snappy_body()
    .unwrap();
    let (status, text) = srv.write(body).await;
    assert_eq!(status, 204, "{text}");
    let (status, v) = get_json(&srv, "/api/v1/metadata").await;
    assert_eq!(status, 200);
    assert_eq!(
        v["data"],
        json!({"http_requests_total":[{"type":"counter","help":"Total requests.","unit":""}]})
    );
    let (_, v) = get_json(&srv, "/api/v1/metadata?metric=nope").await;
    assert_eq!(v["data"], json!({}));
    let (_, v) = get_json(&srv, "/api/v1/metadata?limit=0").await;
    assert_eq!(v["data"], json!({}));
}

#[tokio::test]
async fn status_endpoints_and_probes() {
    let srv = start().await;
    let (_, v) = get_json(&srv, "/api/v1/status/buildinfo").await;
    assert_eq!(v["data"]["version"], "3.5.0");
    assert!(v["data"].get("features").is_none());
    let (_, v) = get_json(&srv, "/api/v1/status/flags").await;
    assert_eq!(v["data"]["query.lookback-delta"], "5m");
    assert_eq!(v["data"]["query.timeout"], "2m");
    let (_, v) = get_json(&srv, "/api/v1/status/runtimeinfo").await;
    assert!(v["data"]["startTime"].as_str().unwrap().ends_with('Z'));
    let (_, v) = get_json(&srv, "/api/v1/rules").await;
    assert_eq!(v["data"], json!({"groups": []}));
    let (_, v) = get_json(&srv, "/api/v1/alerts").await;
    assert_eq!(v["data"], json!({"alerts": []}));
    let (status, text) = srv
        .get("/api/v1/query_exemplars?query=1&start=1.5&end=3")
        .await;
    assert_eq!((status, text.as_str()), (204, ""));
    let (status, v) = get_json(
        &srv,
        "/api/v1/query_exemplars?query=up&start=1700000000.123&end=1700000060.456",
    )
    .await;
    assert_eq!((status, v), (200, json!({"status":"success","data":[]})));
    let (_, v) = get_json(
        &srv,
        "/api/v1/format_query?query=sum(rate(foo%5B5m%5D))by(job)",
    )
    .await;
    assert_eq!(v["data"], "sum by (job) (rate(foo[5m]))");
    let (_, v) = get_json(&srv, "/api/v1/parse_query?query=up").await;
    assert_eq!(v["data"]["type"], "vectorSelector");
}

#[tokio::test]
async fn tsdb_status_counts_recent_series() {
    let srv = start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = write_body(vec![
        series(&[("__name__", "up"), ("job", "a")], &[(now - 1000, 1.0)]),
        series(&[("__name__", "up"), ("job", "b")], &[(now - 1000, 1.0)]),
        series(&[("__name__", "x"), ("job", "a")], &[(now - 1000, 1.0)]),
    ]);
    assert_eq!(srv.write(body).await.0, 204);
    let (status, v) = get_json(&srv, "/api/v1/status/tsdb?limit=1").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["headStats"]["numSeries"], 3);
    assert_eq!(
        v["data"]["seriesCountByMetricName"],
        json!([{"name":"up","value":2}])
    );
    assert_eq!(
        v["data"]["seriesCountByLabelValuePair"],
        json!([{"name":"__name__=up","value":2}])
    );
    let (status, v) = get_json(&srv, "/api/v1/status/tsdb?limit=0").await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("limit must be a positive number"))
    );
}

#[tokio::test]
async fn answers_are_gzipped_when_asked() {
    let srv = seeded().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/series?match[]=up"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    // Remote read and write are never touched by the layer.
    let (_, text) = srv.get("/api/v1/query?query=up&time=1060").await;
    assert!(text.starts_with("{\"status\":\"success\""));
}

#[tokio::test]
async fn large_answers_are_streamed_whole() {
    let srv = start().await;
    let names: Vec<String> = (0..4000)
        .map(|i| format!("instance-{i:05}.example.org:9100"))
        .collect();
    let pts: Vec<(i64, f64)> = (0..40)
        .map(|i| (1_000_000 + i * 15_000, i as f64 / 7.0))
        .collect();
    let body = write_body(
        names
            .iter()
            .map(|n| series(&[("__name__", "big"), ("instance", n)], &pts))
            .collect(),
    );
    assert_eq!(srv.write(body).await.0, 204);
    let (status, v) = get_json(&srv, "/api/v1/series?match[]=big").await;
    assert_eq!(status, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 4000);
    assert_eq!(v["data"][3999]["instance"], names[3999]);
    let (status, v) = get_json(&srv, "/api/v1/label/instance/values").await;
    assert_eq!(status, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 4000);
    let (status, v) = get_json(
        &srv,
        "/api/v1/query_range?query=big&start=1000&end=1585&step=15",
    )
    .await;
    assert_eq!(status, 200);
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 4000);
    assert_eq!(result[17]["values"].as_array().unwrap().len(), 40);
    assert_eq!(result[17]["values"][39], json!([1585, "5.571428571428571"]));
    // Streamed and compressed together.
    let resp = srv
        .client
        .get(srv.url("/api/v1/query?query=big&time=1585"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let bytes = resp.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 4000);
}

#[tokio::test]
async fn cors_headers_as_prometheus_sets_them() {
    let srv = start().await;
    let resp = srv
        .client
        .get(srv.url("/api/v1/labels"))
        .header("Origin", "http://grafana.local")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://grafana.local"
    );
    assert_eq!(
        resp.headers()["access-control-allow-methods"],
        "GET, POST, OPTIONS"
    );
    let resp = srv
        .client
        .request(reqwest::Method::OPTIONS, srv.url("/api/v1/query"))
        .header("Origin", "http://grafana.local")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://grafana.local"
    );
}

#[tokio::test]
async fn timeout_parameter_bounds_the_query() {
    let srv = seeded().await;
    let (status, v) = get_json(
        &srv,
        "/api/v1/query_range?query=sum(rate(up%5B1m%5D))&start=0&end=10999&step=1&timeout=0.000001",
    )
    .await;
    assert_eq!(
        (status, v["errorType"].as_str()),
        (503, Some("timeout")),
        "{v}"
    );
}
