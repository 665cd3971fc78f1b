//! Runs the generator against a real HTTP receiver on 127.0.0.1 that decodes every body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Parser;
use strata_proto::{WriteRequest, decode_snappy};

use super::*;

/// What the test receiver saw.
#[derive(Debug, Default)]
struct Seen {
    requests: u64,
    samples: u64,
    last_ts: HashMap<Vec<u8>, i64>,
    out_of_order: u64,
    bad_headers: u64,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Seen>>,
    /// Status answered to the first `fail_first` requests.
    fail_status: StatusCode,
    fail_first: u64,
}

async fn write(State(rx): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut guard = rx.seen.lock().unwrap();
    let seen = &mut *guard;
    seen.requests += 1;
    if seen.requests <= rx.fail_first {
        return rx.fail_status;
    }
    let ok_headers = headers
        .get("content-encoding")
        .is_some_and(|v| v == "snappy")
        && headers
            .get("content-type")
            .is_some_and(|v| v == "application/x-protobuf")
        && headers
            .get("x-prometheus-remote-write-version")
            .is_some_and(|v| v == "0.1.0");
    if !ok_headers {
        seen.bad_headers += 1;
        return StatusCode::BAD_REQUEST;
    }
    let Ok(req) = decode_snappy::<WriteRequest>(&body, 64 << 20) else {
        return StatusCode::BAD_REQUEST;
    };
    for ts in &req.timeseries {
        let mut key = Vec::new();
        for l in &ts.labels {
            key.extend_from_slice(&l.name);
            key.push(0);
            key.extend_from_slice(&l.value);
            key.push(0);
        }
        for s in &ts.samples {
            seen.samples += 1;
            let last = seen.last_ts.entry(key.clone()).or_insert(i64::MIN);
            if s.timestamp <= *last {
                seen.out_of_order += 1;
            }
            *last = s.timestamp;
        }
    }
    StatusCode::NO_CONTENT
}

/// Starts a receiver on 127.0.0.1 and returns its write URL and what it sees.
async fn start_receiver(fail_status: StatusCode, fail_first: u64) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = Receiver {
        seen: seen.clone(),
        fail_status,
        fail_first,
    };
    let app = Router::new()
        .route("/api/v1/write", post(write))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/v1/write"), seen)
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: WriteBenchArgs,
}

fn args(url: &str, extra: &[&str]) -> WriteBenchArgs {
    let mut argv = vec!["bench", "--url", url];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).unwrap().args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_sample_once_in_order_and_retries_503() {
    let (url, seen) = start_receiver(StatusCode::SERVICE_UNAVAILABLE, 3).await;
    let a = args(
        &url,
        &[
            "--series",
            "300",
            "--seconds",
            "20",
            "--batch-samples",
            "700",
            "--concurrency",
            "3",
        ],
    );
    let report = run_write_bench(a).await.unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.samples_sent, 6000);
    assert_eq!(report.retries, 3);
    assert_eq!(report.errors_by_status.get(&503), Some(&3));
    assert_eq!(report.requests_ok, 3 * 3);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.bad_headers, 0);
    assert_eq!(seen.samples, 6000);
    assert_eq!(seen.last_ts.len(), 300);
    assert_eq!(seen.out_of_order, 0);
}

#[tokio::test]
async fn does_not_retry_a_400_and_reports_it_by_status() {
    let (url, seen) = start_receiver(StatusCode::BAD_REQUEST, u64::MAX).await;
    let a = args(
        &url,
        &[
            "--series",
            "10",
            "--seconds",
            "10",
            "--batch-samples",
            "25",
            "--concurrency",
            "2",
        ],
    );
    let report = run_write_bench(a).await.unwrap();
    assert_eq!(report.samples_sent, 0);
    assert_eq!(report.samples_failed, 100);
    assert_eq!(report.retries, 0);
    assert_eq!(report.errors_by_status.get(&400), Some(&4));
    assert!(!report.is_complete());
    assert_eq!(seen.lock().unwrap().requests, 4);
}

#[tokio::test]
async fn stops_after_max_requests_and_gives_up_after_max_retries() {
    let (url, seen) = start_receiver(StatusCode::OK, 0).await;
    let a = args(
        &url,
        &[
            "--series",
            "50",
            "--seconds",
            "40",
            "--batch-samples",
            "100",
            "--max-requests",
            "3",
        ],
    );
    let report = run_write_bench(a).await.unwrap();
    assert_eq!(report.requests_ok, 3);
    assert_eq!(report.samples_sent, 300);
    assert!(report.is_complete());
    assert_eq!(seen.lock().unwrap().samples, 300);

    let (url, _) = start_receiver(StatusCode::TOO_MANY_REQUESTS, u64::MAX).await;
    let a = args(
        &url,
        &[
            "--series",
            "1",
            "--seconds",
            "1",
            "--concurrency",
            "1",
            "--max-retries",
            "2",
        ],
    );
    let report = run_write_bench(a).await.unwrap();
    assert_eq!(report.retries, 2);
    assert_eq!(report.requests_failed, 1);
    assert_eq!(report.errors_by_status.get(&429), Some(&3));
}

#[tokio::test]
async fn counts_transport_errors_when_nothing_listens() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/api/v1/write");
    let a = args(
        &url,
        &[
            "--series",
            "1",
            "--seconds",
            "1",
            "--max-retries",
            "1",
            "--concurrency",
            "1",
        ],
    );
    let report = run_write_bench(a).await.unwrap();
    assert_eq!(report.transport_errors, 2);
    assert_eq!(report.requests_failed, 1);
    assert!(report.first_error.is_some());
}

#[tokio::test]
async fn measures_a_process_and_a_data_dir() {
    let (url, _) = start_receiver(StatusCode::OK, 0).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chunk"), vec![0u8; 4096]).unwrap();
    let pid = std::process::id().to_string();
    let path = dir.path().to_str().unwrap();
    let a = args(
        &url,
        &[
            "--series",
            "20",
            "--seconds",
            "5",
            "--pid",
            &pid,
            "--data-dir",
            path,
            "--json",
        ],
    );
    let report = run_write_bench(a).await.unwrap();
    let server = report.server.as_ref().unwrap();
    assert!(server.rss_after_bytes > 0 && server.rss_bytes_per_series > 0.0);
    let disk = report.disk.as_ref().unwrap();
    assert_eq!(disk.apparent_bytes, 4096);
    assert!(disk.bytes_per_sample > 0.0);
    // `--json` makes the printed form one JSON object.
    let json: serde_json::Value = serde_json::from_str(&report.to_string()).unwrap();
    assert_eq!(json["samples_sent"], 100);
    assert!(json["server"]["cpu_seconds_per_million_samples"].is_number());
}
