//! Shared by the tests that compare Strata with a real Prometheus 3.5: the peer binaries
//! (fetched by `scripts/fetch-peers` when missing, never skipped), a Prometheus server on
//! loopback, TSDB blocks built by promtool, and a minimal HTTP client.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Returns the path of a binary fetched by `scripts/fetch-peers`, fetching it when missing.
pub(crate) fn peer_binary(name: &str) -> PathBuf {
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
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok && bin.exists(),
            "scripts/fetch-peers could not provide {}",
            bin.display()
        );
    }
    bin
}

/// Returns a fresh, empty directory for one server, named after the test and `tag`.
pub(crate) fn work_dir(test: &str, tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-{test}-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Builds TSDB blocks in `dir/tsdb` from OpenMetrics text with `promtool`.
pub(crate) fn build_blocks(dir: &Path, openmetrics: &str) {
    std::fs::write(dir.join("data.om"), openmetrics).unwrap();
    let ok = Command::new(peer_binary("promtool"))
        .args(["tsdb", "create-blocks-from", "openmetrics", "-q"])
        .arg(dir.join("data.om"))
        .arg(dir.join("tsdb"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "promtool could not build blocks");
}

/// A Prometheus server on loopback over `dir/tsdb`; killed (and its directory removed) on drop.
pub(crate) struct PrometheusServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) addr: String,
    dir: PathBuf,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts Prometheus on a free loopback port over `dir/tsdb` with no scrape jobs and the extra
/// flags `args`, without waiting for it (see [`wait_ready`]).
pub(crate) fn spawn_prometheus(dir: PathBuf, args: &[&str]) -> PrometheusServer {
    std::fs::write(dir.join("prometheus.yml"), "global: {}\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(peer_binary("prometheus"))
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    PrometheusServer { child, addr, dir }
}

/// Waits (at most 60 s; not a timing assertion, a slow start only fails here) until the server
/// answers `/-/ready` with 200.
pub(crate) fn wait_ready(p: &PrometheusServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&p.addr, "/-/ready").is_none_or(|(code, _)| code != 200) {
        assert!(Instant::now() < deadline, "Prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`spawn_prometheus`], then [`wait_ready`].
pub(crate) fn start_prometheus(dir: PathBuf, args: &[&str]) -> PrometheusServer {
    let server = spawn_prometheus(dir, args);
    wait_ready(&server);
    server
}

/// A minimal HTTP/1.0 GET on loopback; returns the status code and body.
pub(crate) fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(c, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = String::new();
    c.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
