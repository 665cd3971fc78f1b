//! Real peers against the API: Prometheus scrapes itself, remote-writes and remote-reads;
//! vmagent scrapes itself and remote-writes.
//!
//! The binaries come from `$STRATA_PEERS_DIR/bin` (default `~/.cache/strata-peers/bin`); they are
//! fetched with `scripts/fetch-peers` when missing, never skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strata_model::{Matcher, Sample};

use crate::support::{TestServer, labels, start};

fn peer_binary(name: &str) -> PathBuf {
    let dir = std::env::var("STRATA_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/strata-peers")
        });
    let bin = dir.join("bin").join(name);
    if !bin.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-peers");
        let ok = Command::new(&script)
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok && bin.exists(),
            "scripts/fetch-peers could not provide {}",
            bin.display()
        );
    }
    bin
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until<F: FnMut() -> bool>(what: &str, timeout: Duration, mut cond: F) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn store_has(srv: &TestServer, name: &str) -> bool {
    let m = Matcher::equal("__name__", name);
    srv.store
        .series
        .lock()
        .unwrap()
        .keys()
        .any(|l| m.matches_labels(l))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_real_prometheus() {
    let bin = peer_binary("prometheus");
    let srv = start().await;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let seeded: Vec<Sample> = (0..20)
        .map(|i| Sample::new(now_ms - 300_000 + i * 15_000, 100.0 + i as f64))
        .collect();
    srv.store.insert(
        labels(&[("__name__", "strata_only"), ("job", "seed")]),
        seeded.clone(),
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: prom\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
         remote_write:\n  - url: http://{addr}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n\
         remote_read:\n  - url: http://{addr}/api/v1/read\n    read_recent: true\n",
        addr = srv.addr
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let _prom = KillOnDrop(
        Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    wait_until(
        "remote-written samples of up",
        Duration::from_secs(60),
        || store_has(&srv, "up") && store_has(&srv, "prometheus_build_info"),
    )
    .await;

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/query?query=strata_only");
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let body: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        if body["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            break body;
        }
        assert!(Instant::now() < deadline, "no remote read result: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let value = &body["data"]["result"][0]["value"][1];
    assert_eq!(value, "119", "{body}");

    let (_, metrics) = srv.get("/metrics").await;
    assert!(
        metrics.contains("strata_api_requests_total{handler=\"read\",code=\"200\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_with_real_vmagent() {
    let bin = peer_binary("vmagent");
    let srv = start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: vmagent\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    );
    let config_path = dir.path().join("scrape.yml");
    std::fs::write(&config_path, config).unwrap();
    // No protocol flag: vmagent tries its own protocol first and must fall back to Prometheus
    // remote write 1.0 on the 415 answer.
    let _agent = KillOnDrop(
        Command::new(bin)
            .arg(format!("-promscrape.config={}", config_path.display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-remoteWrite.url=http://{}/api/v1/write", srv.addr))
            .arg(format!(
                "-remoteWrite.tmpDataPath={}",
                dir.path().join("buf").display()
            ))
            .arg("-remoteWrite.flushInterval=200ms")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(
        "remote-written samples from vmagent",
        Duration::from_secs(60),
        || store_has(&srv, "up") && store_has(&srv, "vm_app_version"),
    )
    .await;
    let (_, metrics) = srv.get("/metrics").await;
    // vmagent's first request uses its own protocol (zstd); the 415 it gets is what makes it
    // fall back to Prometheus remote write, so at most that one request is refused.
    assert!(
        !metrics.contains("strata_api_requests_total{handler=\"write\",code=\"400\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("strata_api_requests_total{handler=\"write\",code=\"415\"} 2"),
        "{metrics}"
    );
}
