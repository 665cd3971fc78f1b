//! Starts `strata server` and talks to it with remote_write and remote_read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use prost::Message;
use strata_proto::{
    Label, LabelMatcher, Query, ReadRequest, ReadResponse, Sample, TimeSeries, WriteRequest,
};

use super::process::{ChildProcess, free_port, wait_until};

/// One series read back: labels and samples with their exact value bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSeries {
    /// Sorted label pairs.
    pub labels: Vec<(String, String)>,
    /// `(timestamp_ms, value bits)`.
    pub samples: Vec<(i64, u64)>,
}

/// A running `strata server` on 127.0.0.1.
#[derive(Debug)]
pub struct Strata {
    /// The process.
    pub process: ChildProcess,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    extra: Vec<String>,
    http: reqwest::blocking::Client,
}

impl Strata {
    /// Starts a server on a free port with `data_dir`, passing `extra` flags; waits until ready.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Strata {
        let addr = format!("127.0.0.1:{}", free_port());
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let mut s = Strata {
            process: spawn(&addr, data_dir, extra),
            addr,
            data_dir: data_dir.to_owned(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            http,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&mut self) {
        let url = self.url("/-/ready");
        let http = self.http.clone();
        let process = &mut self.process;
        let ok = wait_until(Duration::from_secs(120), || {
            assert!(
                process.is_running(),
                "strata exited\n{}",
                process.log_tail(40)
            );
            http.get(&url)
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        });
        assert!(
            ok,
            "strata did not become ready\n{}",
            self.process.log_tail(40)
        );
    }

    /// Kills the server with SIGKILL and starts it again on the same port and data.
    pub fn kill_9_and_restart(&mut self) {
        self.process.kill_9();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.process = spawn(&self.addr, &self.data_dir, &extra);
        self.wait_ready();
    }

    /// Returns the URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server with SIGTERM (a clean shutdown) and starts it again; returns whether
    /// the clean shutdown exited with status 0.
    pub fn terminate_and_restart(&mut self) -> bool {
        let clean = self.process.terminate(Duration::from_secs(60));
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.process = spawn(&self.addr, &self.data_dir, &extra);
        self.wait_ready();
        clean
    }

    /// Posts a raw remote_write body with the given content type and encoding headers.
    pub fn post_write(
        &self,
        body: Vec<u8>,
        content_type: Option<&str>,
        encoding: Option<&str>,
    ) -> (u16, String) {
        let mut req = self.http.post(self.url("/api/v1/write")).body(body);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(enc) = encoding {
            req = req.header("Content-Encoding", enc);
        }
        req = req.header("X-Prometheus-Remote-Write-Version", "0.1.0");
        match req.send() {
            Ok(r) => {
                let st = r.status().as_u16();
                (st, r.text().unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// Sends series with remote_write 1.0 and returns the status and body.
    pub fn write(&self, series: &[(Vec<(&str, &str)>, Vec<(i64, f64)>)]) -> (u16, String) {
        self.post_write(
            encode_write(series),
            Some("application/x-protobuf"),
            Some("snappy"),
        )
    }

    /// Reads series with remote_read (sampled response) for matchers `(type, name, value)`,
    /// type 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
    pub fn read(
        &self,
        matchers: &[(i32, &str, &str)],
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<ReadSeries> {
        let req = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: start_ms,
                end_timestamp_ms: end_ms,
                matchers: matchers
                    .iter()
                    .map(|(t, n, v)| LabelMatcher {
                        r#type: *t,
                        name: (*n).to_owned(),
                        value: (*v).to_owned(),
                    })
                    .collect(),
                hints: None,
            }],
            accepted_response_types: vec![],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .expect("snappy");
        let resp = self
            .http
            .post(self.url("/api/v1/read"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .body(body)
            .send()
            .expect("remote read request");
        let status = resp.status();
        let bytes = resp.bytes().expect("remote read body");
        assert!(
            status.is_success(),
            "remote read: {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&bytes)
            .expect("snappy response");
        let rr = ReadResponse::decode(raw.as_slice()).expect("ReadResponse");
        let mut out = Vec::new();
        for r in rr.results {
            for ts in r.timeseries {
                let mut labels: Vec<(String, String)> = ts
                    .labels
                    .iter()
                    .map(|l| {
                        (
                            String::from_utf8_lossy(&l.name).into_owned(),
                            String::from_utf8_lossy(&l.value).into_owned(),
                        )
                    })
                    .collect();
                labels.sort();
                let samples = ts
                    .samples
                    .iter()
                    .map(|s| (s.timestamp, s.value.to_bits()))
                    .collect();
                out.push(ReadSeries { labels, samples });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

fn spawn(addr: &str, data_dir: &Path, extra: &[&str]) -> ChildProcess {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("server")
        .arg("--listen")
        .arg(addr)
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info");
    ChildProcess::spawn("strata", cmd, &data_dir.with_extension("log"))
}

/// Encodes series as a snappy-compressed remote_write 1.0 body.
pub fn encode_write(series: &[(Vec<(&str, &str)>, Vec<(i64, f64)>)]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|(labels, samples)| TimeSeries {
                labels: labels
                    .iter()
                    .map(|(n, v)| Label::new(n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                    .collect(),
                samples: samples
                    .iter()
                    .map(|&(t, v)| Sample {
                        value: v,
                        timestamp: t,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}
