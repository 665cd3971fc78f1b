//! `promtool query instant|range|series|labels` (Prometheus 3.5's promtool) against Strata and
//! against a real Prometheus 3.5 that ingested the same remote_write bodies: the printed
//! outputs (text and JSON formats) and exit statuses must be identical (up to the order of
//! series where Prometheus leaves it unspecified, see `canonical`).

use std::process::Command;

use crate::harness::api::{Twin, dataset, now_s_minus};
use crate::harness::peers::program;

/// Runs promtool; returns (success, stdout, stderr).
fn promtool(args: &[String]) -> (bool, String, String) {
    let out = Command::new(program("promtool"))
        .args(args)
        .output()
        .expect("run promtool");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Returns promtool's output in a canonical order where Prometheus leaves the order of series
/// unspecified (instant vectors and series lists: Prometheus prints head series in creation
/// order, Strata in label order). Range results and label values are compared as printed.
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

#[test]
fn promtool_prints_the_same_for_strata_and_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let twin = Twin::start(dir.path());
    let end = now_s_minus(120);
    twin.write_both(&dataset(end));
    let (t, start) = (end.to_string(), (end - 1200).to_string());

    let commands: Vec<Vec<String>> = [
        vec!["instant", "--time", &t, "SERVER", "up"],
        vec![
            "instant",
            "--time",
            &t,
            "SERVER",
            "sum by (job, code) (rate(http_requests_total[5m]))",
        ],
        vec!["instant", "--time", &t, "SERVER", "weird_values"],
        vec!["instant", "--time", &t, "SERVER", "node_load1[1m]"],
        vec!["instant", "--time", &t, "SERVER", "scalar(sum(up))"],
        vec![
            "instant",
            "--time",
            &t,
            "SERVER",
            "{\"utf8_metric\", \"http.method\"=\"GET\"}",
        ],
        vec![
            "instant",
            "--time",
            &t,
            "-o",
            "json",
            "SERVER",
            "rate(node_cpu_seconds_total[2m])",
        ],
        vec![
            "range",
            "--start",
            &start,
            "--end",
            &t,
            "--step",
            "60s",
            "SERVER",
            "rate(http_requests_total[5m])",
        ],
        vec![
            "range",
            "--start",
            &start,
            "--end",
            &t,
            "--step",
            "45s",
            "SERVER",
            "avg_over_time(node_load1[3m])",
        ],
        vec![
            "range", "--start", &start, "--end", &t, "--step", "1m", "-o", "json", "SERVER",
            "up == 1",
        ],
        vec![
            "series",
            "--match",
            "up",
            "--match",
            "node_load1",
            "--start",
            &start,
            "--end",
            &t,
            "SERVER",
        ],
        vec!["series", "--match", "{job=~\"a.*|node\"}", "SERVER"],
        vec!["labels", "--start", &start, "--end", &t, "SERVER", "job"],
        vec!["labels", "--match", "up", "SERVER", "instance"],
        vec!["labels", "SERVER", "__name__"],
        // Errors: both must fail the same way.
        vec!["instant", "--time", &t, "SERVER", "sum(rate(foo[5m])"],
        vec![
            "range", "--start", &t, "--end", &start, "--step", "60s", "SERVER", "up",
        ],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();

    for cmd in commands {
        let outs: Vec<(bool, String, String)> = twin
            .bases()
            .iter()
            .map(|base| {
                let mut args = vec!["query".to_string()];
                args.extend(cmd.iter().map(|a| {
                    if a == "SERVER" {
                        base.clone()
                    } else {
                        a.clone()
                    }
                }));
                promtool(&args)
            })
            .collect();
        let (s, p) = (&outs[0], &outs[1]);
        assert_eq!(
            s.0, p.0,
            "promtool {cmd:?}: exit status differs\nstrata: {}\nprometheus: {}",
            s.2, p.2
        );
        if p.0 {
            assert!(
                !p.1.trim().is_empty(),
                "promtool {cmd:?}: empty reference output"
            );
            assert_eq!(
                canonical(&cmd, &s.1),
                canonical(&cmd, &p.1),
                "promtool {cmd:?}: output differs\nstrata:\n{}\nprometheus:\n{}",
                s.1,
                p.1
            );
        }
    }
}
