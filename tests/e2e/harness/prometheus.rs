//! Real Prometheus 3.5 and node_exporter processes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::peers::program;
use super::process::{ChildProcess, free_port, wait_until};

/// A running Prometheus on 127.0.0.1.
#[derive(Debug)]
pub struct Prometheus {
    /// The process.
    pub process: ChildProcess,
    /// `127.0.0.1:port`.
    pub addr: String,
    http: reqwest::blocking::Client,
}

impl Prometheus {
    /// Starts Prometheus with the YAML `config` and storage under `dir`; waits until ready.
    pub fn start(dir: &Path, config: &str, extra: &[&str]) -> Prometheus {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).expect("write config");
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(program("prometheus"));
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(extra);
        let process = ChildProcess::spawn("prometheus", cmd, &dir.join("prometheus.log"));
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let p = Prometheus {
            process,
            addr,
            http,
        };
        let url = format!("http://{}/-/ready", p.addr);
        let ok = wait_until(Duration::from_secs(60), || {
            p.http
                .get(&url)
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        });
        assert!(ok, "prometheus not ready\n{}", p.process.log_tail(30));
        p
    }

    /// Runs an instant query and returns the parsed JSON response.
    pub fn query(&self, query: &str, time_s: f64) -> serde_json::Value {
        let resp = self
            .http
            .get(format!("http://{}/api/v1/query", self.addr))
            .query(&[("query", query), ("time", &format!("{time_s:.3}"))])
            .send()
            .expect("query prometheus");
        resp.json().expect("json")
    }
}

/// Starts node_exporter on a free loopback port; returns it with its address.
pub fn start_node_exporter(dir: &Path) -> (ChildProcess, String) {
    std::fs::create_dir_all(dir).expect("dir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(program("prometheus-node-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"));
    let p = ChildProcess::spawn("node_exporter", cmd, &dir.join("node_exporter.log"));
    let url = format!("http://{addr}/metrics");
    let ok = wait_until(Duration::from_secs(30), || {
        reqwest::blocking::get(&url)
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    });
    assert!(ok, "node_exporter not up\n{}", p.log_tail(30));
    (p, addr)
}
