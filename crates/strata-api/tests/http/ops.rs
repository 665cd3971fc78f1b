//! `/-/healthy`, `/-/ready` and `/metrics`.

use std::sync::atomic::Ordering;

use crate::support::{series, start, write_body};

#[tokio::test]
async fn healthy_and_ready_follow_the_probe() {
    let srv = start().await;
    assert_eq!(
        srv.get("/-/healthy").await,
        (200, "Strata is Healthy.\n".into())
    );
    assert_eq!(srv.get("/-/ready").await.0, 200);
    srv.ready.store(false, Ordering::SeqCst);
    assert_eq!(srv.get("/-/ready").await.0, 503);
    assert_eq!(srv.get("/-/healthy").await.0, 200);
    srv.ready.store(true, Ordering::SeqCst);
    assert_eq!(srv.get("/-/ready").await.0, 200);
}

#[tokio::test]
async fn metrics_expose_api_counters() {
    let srv = start().await;
    let body = write_body(vec![series(&[("__name__", "m")], &[(1, 1.0), (2, 2.0)])]);
    assert_eq!(srv.write(body).await.0, 204);
    let bad = write_body(vec![series(&[("job", "x")], &[(1, 1.0)])]);
    assert_eq!(srv.write(bad).await.0, 400);
    let resp = srv.client.get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = resp.text().await.unwrap();
    for needle in [
        "strata_api_ingested_samples_total 2",
        "strata_api_rejected_samples_total{reason=\"missing_metric_name\"} 1",
        "strata_api_requests_total{handler=\"write\",code=\"204\"} 1",
        "strata_api_requests_total{handler=\"write\",code=\"400\"} 1",
        "strata_api_request_duration_seconds_count{handler=\"write\"} 2",
        "strata_api_request_body_bytes_count{handler=\"write\"} 2",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}
