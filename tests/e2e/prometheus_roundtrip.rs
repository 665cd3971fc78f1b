//! Prometheus 3.5 scrapes node_exporter every second and remote_writes to Strata; a second
//! Prometheus reads back through remote_read and must see exactly the samples the first stored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::prometheus::{Prometheus, start_node_exporter};
use crate::harness::{Strata, wait_until};

/// Series compared between the two Prometheus servers.
const SELECTIONS: &[&str] = &[
    "up",
    "scrape_samples_scraped",
    "node_cpu_seconds_total",
    "node_memory_MemAvailable_bytes",
    "node_load1",
    "{__name__=~\"node_network_(receive|transmit)_bytes_total\"}",
    "{__name__=~\"node_filesystem_.+_bytes\", fstype!=\"tmpfs\"}",
    "go_goroutines",
];

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// Canonical form of a matrix result: sorted series with exact value bits.
fn samples(resp: &serde_json::Value) -> Vec<(String, Vec<(String, u64)>)> {
    assert_eq!(resp["status"], "success", "query failed: {resp}");
    let mut out: Vec<(String, Vec<(String, u64)>)> = resp["data"]["result"]
        .as_array()
        .expect("result array")
        .iter()
        .map(|s| {
            let labels = s["metric"].to_string();
            let values = s["values"]
                .as_array()
                .expect("matrix values")
                .iter()
                .map(|p| {
                    let t = p[0].to_string();
                    let v: f64 = p[1].as_str().expect("value string").parse().expect("float");
                    (t, v.to_bits())
                })
                .collect();
            (labels, values)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn prometheus_reads_back_exactly_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let strata = Strata::start(&dir.path().join("strata"), &[]);
    let (_node_exporter, ne_addr) = start_node_exporter(&dir.path().join("ne"));
    let writer_cfg = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['{ne_addr}']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n",
        strata.addr
    );
    let writer = Prometheus::start(&dir.path().join("p1"), &writer_cfg, &[]);
    let reader_cfg = format!(
        "global:\n  scrape_interval: 1m\n\
         remote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
        strata.addr
    );
    let reader = Prometheus::start(&dir.path().join("p2"), &reader_cfg, &[]);

    // Let the writer collect at least 15 scrapes.
    let scraped = wait_until(Duration::from_secs(90), || {
        let r = writer.query("count_over_time(up[1m])", now_s());
        r["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|n| n >= 15.0)
    });
    assert!(
        scraped,
        "prometheus did not scrape\n{}",
        writer.process.log_tail(30)
    );

    // A window that lies fully in the past: the writer has stored it locally; remote_write
    // delivers it within a few seconds, so poll until the reader agrees or time runs out.
    let at = now_s() - 3.0;
    let mut compared = 0;
    for sel in SELECTIONS {
        let q = format!("{sel}[12s]");
        let want = samples(&writer.query(&q, at));
        assert!(!want.is_empty(), "writer has no samples for {q}");
        let mut last = Vec::new();
        let same = wait_until(Duration::from_secs(60), || {
            last = samples(&reader.query(&q, at));
            last == want
        });
        assert!(
            same,
            "remote_read of {q} differs:\nwant {want:?}\ngot  {last:?}\n{}",
            strata.process.log_tail(20)
        );
        compared += want.iter().map(|(_, v)| v.len()).sum::<usize>();
    }
    eprintln!(
        "prometheus round trip: {compared} samples identical across {} selections",
        SELECTIONS.len()
    );
}
