//! Chunk codec benchmarks on node_exporter-like 1-second data (`strata_model::synth`).
//!
//! Reports samples/s for encoding and decoding with Prometheus' XOR encoding and with the
//! closed-chunk encoder (`Chunk::encode`, which picks the smallest exact encoding), and prints
//! bytes/sample per metric kind for several chunk lengths before the timings.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use strata_codec::{Chunk, Encoding, XorAppender};
use strata_model::synth::{self, Kind};

/// Hosts generated for the timing benches (≈ 165 series each).
const HOSTS: usize = 2;
/// Samples per chunk in the timing benches (the storage engine's default cut: 30 min at 1 s).
const CHUNK: usize = 1800;

/// One chunk's worth of samples of one series.
struct Piece {
    kind: Kind,
    samples: Vec<(i64, f64)>,
}

/// Returns `per_series` consecutive chunks of `len` samples for every series of `hosts` hosts.
fn dataset(hosts: usize, len: usize, per_series: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    for mut s in synth::node_exporter_hosts(hosts) {
        for _ in 0..per_series {
            out.push(Piece {
                kind: s.kind,
                samples: s.take_samples(len),
            });
        }
    }
    out
}

/// Prints bytes/sample per kind for XOR and for the closed-chunk encoder.
fn report_sizes() {
    eprintln!(
        "\nbytes/sample on synthetic node_exporter data (4 hosts, 4 cpus each; to_bytes sizes)"
    );
    for len in [120usize, 1800, 7200] {
        let per_series = (7200 / len).max(1);
        let data = dataset(4, len, per_series);
        let mut by_kind: BTreeMap<Kind, (usize, usize, usize, usize, usize)> = BTreeMap::new();
        for p in &data {
            let xor = Chunk::encode_xor(&p.samples).expect("chunk size within limit");
            let best = Chunk::encode(&p.samples);
            let e = by_kind.entry(p.kind).or_default();
            e.0 += p.samples.len();
            e.1 += xor.payload().len();
            e.2 += best.size_bytes();
            e.3 += usize::from(best.encoding() == Encoding::Packed);
            e.4 += 1;
        }
        eprintln!("chunk length {len} samples:");
        eprintln!(
            "  {:<16} {:>9} {:>11} {:>13} {:>8}",
            "kind", "samples", "xor B/smp", "closed B/smp", "packed%"
        );
        let mut tot = (0usize, 0usize, 0usize);
        for (k, (n, x, b, packed, chunks)) in &by_kind {
            eprintln!(
                "  {:<16} {:>9} {:>11.3} {:>13.3} {:>7.0}%",
                k.name(),
                n,
                *x as f64 / *n as f64,
                *b as f64 / *n as f64,
                100.0 * *packed as f64 / *chunks as f64
            );
            tot.0 += n;
            tot.1 += x;
            tot.2 += b;
        }
        eprintln!(
            "  {:<16} {:>9} {:>11.3} {:>13.3}",
            "ALL",
            tot.0,
            tot.1 as f64 / tot.0 as f64,
            tot.2 as f64 / tot.0 as f64
        );
    }
}

fn bench_codec(c: &mut Criterion) {
    report_sizes();
    let data = dataset(HOSTS, CHUNK, 1);
    let total: usize = data.iter().map(|p| p.samples.len()).sum();
    let xor: Vec<Chunk> = data
        .iter()
        .map(|p| Chunk::encode_xor(&p.samples).expect("chunk size within limit"))
        .collect();
    let closed: Vec<Chunk> = data.iter().map(|p| Chunk::encode(&p.samples)).collect();
    report_cpu_throughput("closed/decode", &closed, total);
    report_cpu_throughput("xor/decode", &xor, total);

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(total as u64));
    g.bench_function("xor/encode", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for p in &data {
                let mut a = XorAppender::new();
                for &(t, v) in &p.samples {
                    a.append(t, v);
                }
                bytes += a.size_bytes();
            }
            black_box(bytes)
        })
    });
    g.bench_function("xor/decode", |b| b.iter(|| black_box(decode_all(&xor))));
    g.bench_function("closed/encode", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for p in &data {
                bytes += Chunk::encode(&p.samples).payload().len();
            }
            black_box(bytes)
        })
    });
    g.bench_function("closed/decode", |b| {
        b.iter(|| black_box(decode_all(&closed)))
    });
    g.finish();

    let mut g = c.benchmark_group("codec-seek");
    g.throughput(Throughput::Elements(closed.len() as u64));
    g.bench_function("closed/seek_last_minute", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for ch in &closed {
                if let Some((t, v)) = ch.iter().seek(ch.max_time() - 60_000) {
                    acc ^= t as u64 ^ v.to_bits();
                }
            }
            black_box(acc)
        })
    });
    g.finish();
}

/// Returns the CPU time this thread has used, in nanoseconds (Linux), or `None`.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Prints decoded samples per CPU-second of this thread: on a shared machine this is a steadier
/// "per core" figure than wall-clock time.
fn report_cpu_throughput(name: &str, chunks: &[Chunk], samples: usize) {
    let mut runs = Vec::new();
    for _ in 0..15 {
        let Some(c0) = thread_cpu_ns() else {
            return;
        };
        for _ in 0..5 {
            black_box(decode_all(chunks));
        }
        let Some(c1) = thread_cpu_ns() else {
            return;
        };
        runs.push((samples * 5) as f64 / (c1.saturating_sub(c0).max(1) as f64) * 1e3);
    }
    runs.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "{name}: {:.0} M samples per CPU-second (median of 15 runs, best {:.0})",
        runs[runs.len() / 2],
        runs[runs.len() - 1]
    );
}

/// Iterates every sample of every chunk and folds them into a checksum.
fn decode_all(chunks: &[Chunk]) -> u64 {
    let mut acc = 0u64;
    for ch in chunks {
        for (t, v) in ch.iter() {
            acc = acc.wrapping_add(t as u64) ^ v.to_bits();
        }
    }
    acc
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
