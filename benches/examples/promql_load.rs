//! Loads the PromQL bench data set into a remote_write 1.0 receiver (Prometheus with
//! `--web.enable-remote-write-receiver`, `strata server`, …), for `scripts/bench-promql`.
//!
//! Usage: `promql_load --url http://127.0.0.1:9090/api/v1/write --start-ms MS
//! [--slice-secs 30] [--batch-series 2000] [--deadline-secs 900]`
//!
//! The data are those of `benches/promql.rs` (see `benches/promql/data.rs`) with the first sample
//! at `--start-ms`. They are sent in time order, `--slice-secs` seconds of every series at a time
//! (so a receiver with Prometheus' head appendable window accepts all of them), `--batch-series`
//! series per request, one request in flight on one HTTP/1.1 connection per request while the next
//! one is encoded. Prints one line: `loaded <samples> samples in <s> s (<rate> samples/s)`.
//! Exits non-zero on a rejected request, after the retries of a 5xx/429, or at the deadline.

#[path = "../benches/promql/data.rs"]
mod data;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use strata_proto::codec::labels_to_proto;
use strata_proto::{Label, Sample as ProtoSample, TimeSeries, WriteRequest};

/// Command-line settings.
#[derive(Debug)]
struct Args {
    host_port: String,
    path: String,
    start_ms: i64,
    slice_secs: usize,
    batch_series: usize,
    deadline: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut start_ms = None;
    let mut slice_secs = 30usize;
    let mut batch_series = 2000usize;
    let mut deadline_secs = 900u64;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--url" => url = Some(val),
            "--start-ms" => start_ms = Some(num(&val)? as i64),
            "--slice-secs" => slice_secs = num(&val)? as usize,
            "--batch-series" => batch_series = num(&val)? as usize,
            "--deadline-secs" => deadline_secs = num(&val)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must start with http://")?;
    let (host_port, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    };
    if slice_secs == 0 || batch_series == 0 || deadline_secs == 0 {
        return Err("--slice-secs, --batch-series and --deadline-secs must be positive".into());
    }
    Ok(Args {
        host_port,
        path,
        start_ms: start_ms.ok_or("--start-ms is required")?,
        slice_secs,
        batch_series,
        deadline: Duration::from_secs(deadline_secs),
    })
}

/// Produces the request bodies in time order; returns false if the consumer hung up.
fn produce(args: &Args, tx: &std::sync::mpsc::SyncSender<(usize, Vec<u8>)>) -> bool {
    let mut node = data::node_series(args.start_ms);
    let mut hists = data::hist_groups(args.start_ms);
    let node_labels: Vec<Vec<Label>> = node.iter().map(|s| labels_to_proto(&s.labels)).collect();
    let hist_labels: Vec<Vec<Label>> = hists
        .iter()
        .flat_map(|g| g.labels.iter().map(labels_to_proto))
        .collect();
    let mut done = 0;
    while done < data::SECONDS {
        let n = args.slice_secs.min(data::SECONDS - done);
        let mut series: Vec<TimeSeries> = Vec::with_capacity(node.len() + hist_labels.len());
        for (s, labels) in node.iter_mut().zip(&node_labels) {
            let samples = (0..n)
                .map(|_| {
                    let (t, v) = s.next_sample();
                    ProtoSample {
                        value: v,
                        timestamp: t,
                    }
                })
                .collect();
            series.push(TimeSeries {
                labels: labels.clone(),
                samples,
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
        }
        let first_hist = series.len();
        for labels in &hist_labels {
            series.push(TimeSeries {
                labels: labels.clone(),
                samples: Vec::with_capacity(n),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
        }
        for (gi, g) in hists.iter_mut().enumerate() {
            for _ in 0..n {
                let (t, vs) = g.next_step();
                for (b, v) in vs.into_iter().enumerate() {
                    series[first_hist + gi * data::BUCKETS.len() + b]
                        .samples
                        .push(ProtoSample {
                            value: v,
                            timestamp: t,
                        });
                }
            }
        }
        let mut series = series.into_iter().peekable();
        while series.peek().is_some() {
            let req = WriteRequest {
                timeseries: series.by_ref().take(args.batch_series).collect(),
                metadata: Vec::new(),
            };
            let count = req.sample_count();
            let body = match req.to_snappy_body() {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("promql_load: encoding: {e}");
                    return false;
                }
            };
            if tx.send((count, body)).is_err() {
                return false;
            }
        }
        done += n;
    }
    true
}

/// Sends one body; returns the HTTP status and the start of the response body.
fn post(args: &Args, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(&args.host_port)?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: strata-promql-load\r\n\
         Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
         X-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        args.path,
        args.host_port,
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    let mut resp = Vec::new();
    conn.take(1 << 20).read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |x| x.1)
        .chars()
        .take(300)
        .collect();
    Ok((status, body))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("promql_load: {e}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let (tx, rx) = sync_channel::<(usize, Vec<u8>)>(4);
    let code = std::thread::scope(|s| {
        let args = &args;
        // The producer owns the sender, so the channel closes when it is done.
        let producer = s.spawn(move || produce(args, &tx));
        let mut sent = 0usize;
        let mut code = 0;
        'bodies: for (count, body) in rx.iter() {
            let mut backoff = Duration::from_millis(50);
            for attempt in 0..=8 {
                if t0.elapsed() > args.deadline {
                    eprintln!("promql_load: deadline reached after {sent} samples");
                    code = 1;
                    break 'bodies;
                }
                match post(args, &body) {
                    Ok((200..=299, _)) => break,
                    Ok((st, msg)) if st != 429 && st < 500 => {
                        eprintln!("promql_load: rejected with {st}: {msg}");
                        code = 1;
                        break 'bodies;
                    }
                    other if attempt == 8 => {
                        eprintln!("promql_load: giving up: {other:?}");
                        code = 1;
                        break 'bodies;
                    }
                    _ => {
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                }
            }
            sent += count;
        }
        drop(rx);
        let produced = producer.join().unwrap_or(false);
        if code == 0 && !produced {
            code = 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "loaded {sent} samples in {secs:.1} s ({:.0} samples/s)",
            sent as f64 / secs
        );
        code
    });
    std::process::exit(code);
}
