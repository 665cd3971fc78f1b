//! Byte compatibility with Prometheus' XOR chunks.
//!
//! `tests/data/prometheus_xor_chunks.txt` holds chunks written by Prometheus 3.x itself
//! (`promtool tsdb create-blocks-from openmetrics tests/data/prometheus_xor_input.om out`, chunk
//! payloads extracted from `out/*/chunks/000001`). The input mixes regular, jittered and huge
//! timestamp gaps with repeated values, decimals, random floats, subnormals, ±Inf, NaN and -0.
//! Strata must decode them to the input samples and re-encode them to the very same bytes.

use strata_codec::{Chunk, XorAppender};

const CHUNKS: &str = include_str!("data/prometheus_xor_chunks.txt");
const SAMPLES: &str = include_str!("data/prometheus_xor_samples.txt");

/// Go's `strconv.ParseFloat("NaN")` result, which Prometheus stores.
const GO_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn expected() -> Vec<(i64, u64)> {
    SAMPLES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (t, v) = l.split_once(" ").expect("two fields");
            let v = match v {
                "NaN" => f64::from_bits(GO_NAN_BITS),
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => other.parse::<f64>().expect("float"),
            };
            (t.parse().expect("timestamp"), v.to_bits())
        })
        .collect()
}

fn prometheus_chunks() -> Vec<Vec<u8>> {
    CHUNKS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(hex)
        .collect()
}

#[test]
fn decodes_chunks_written_by_prometheus() {
    let mut got = Vec::new();
    for bytes in prometheus_chunks() {
        let c = Chunk::from_xor(bytes).unwrap();
        let samples: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        assert_eq!(samples.len(), c.num_samples());
        assert_eq!(samples.first().unwrap().0, c.min_time());
        assert_eq!(samples.last().unwrap().0, c.max_time());
        got.extend(samples);
    }
    assert_eq!(got, expected());
}

#[test]
fn encodes_the_same_bytes_as_prometheus() {
    for bytes in prometheus_chunks() {
        let samples: Vec<(i64, f64)> = Chunk::from_xor(bytes.clone()).unwrap().iter().collect();
        let mut a = XorAppender::new();
        for &(t, v) in &samples {
            a.append(t, v);
        }
        assert_eq!(a.bytes(), &bytes[..]);
        // A closed chunk of any encoding streams back to Prometheus as the same bytes.
        assert_eq!(Chunk::encode(&samples).to_xor_bytes(), bytes);
    }
}
