//! Bad remote_write input gets a clear 4xx; the server keeps serving and earlier data stays intact.

use prost::Message;
use strata_proto::{Label, Sample, TimeSeries, WriteRequest};

use crate::harness::Strata;
use crate::harness::client::encode_write;

const PB: Option<&str> = Some("application/x-protobuf");
const SNAPPY: Option<&str> = Some("snappy");

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap()
}

/// A one-series request with raw label bytes.
fn raw_series(labels: &[(&[u8], &[u8])]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: labels
                .iter()
                .map(|(n, v)| Label::new(n.to_vec(), v.to_vec()))
                .collect(),
            samples: vec![Sample {
                value: 1.0,
                timestamp: 1_700_000_100_000,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    snappy(&req.encode_to_vec())
}

#[test]
fn bad_remote_write_input_is_rejected_with_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let server = Strata::start(
        &dir.path().join("data"),
        &["--max-write-decompressed-bytes", "1MiB"],
    );
    let good = vec![(
        vec![("__name__", "kept"), ("job", "a")],
        vec![(1_700_000_000_000, 1.5), (1_700_000_001_000, f64::NAN)],
    )];
    assert_eq!(server.write(&good).0, 204);

    let valid = encode_write(&[(vec![("__name__", "x")], vec![(1_700_000_000_000, 1.0)])]);
    let proto = WriteRequest::default().encode_to_vec();
    let mut corrupt_snappy = valid.clone();
    corrupt_snappy[0] = 0xff;
    corrupt_snappy[1] = 0xff;
    let huge_labels: Vec<(String, String)> = (0..40_000)
        .map(|i| (format!("label_{i:06}"), "v".repeat(40)))
        .collect();
    let mut huge: Vec<(&[u8], &[u8])> = vec![(b"__name__", b"huge")];
    huge.extend(
        huge_labels
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    );

    let cases: Vec<(&str, Vec<u8>, Option<&str>, Option<&str>, &[u16], &str)> = vec![
        (
            "truncated snappy",
            valid[..valid.len() / 2].to_vec(),
            PB,
            SNAPPY,
            &[400],
            "snappy",
        ),
        (
            "corrupt snappy",
            corrupt_snappy,
            PB,
            SNAPPY,
            &[400],
            "snappy",
        ),
        (
            "corrupt protobuf",
            snappy(b"\xff\xff\xff\xff garbage"),
            PB,
            SNAPPY,
            &[400],
            "protobuf",
        ),
        ("empty body", Vec::new(), PB, SNAPPY, &[400], ""),
        (
            "wrong content type",
            valid.clone(),
            Some("text/plain"),
            SNAPPY,
            &[415],
            "content",
        ),
        (
            "wrong encoding",
            valid.clone(),
            PB,
            Some("gzip"),
            &[415],
            "encoding",
        ),
        (
            "uncompressed body",
            proto.clone(),
            PB,
            None,
            &[400, 415],
            "",
        ),
        (
            "empty label name",
            raw_series(&[(b"__name__", b"m"), (b"", b"v")]),
            PB,
            SNAPPY,
            &[400],
            "label",
        ),
        (
            "duplicate label name",
            raw_series(&[(b"__name__", b"m"), (b"a", b"1"), (b"a", b"2")]),
            PB,
            SNAPPY,
            &[400],
            "duplicate",
        ),
        (
            "invalid utf-8 value",
            raw_series(&[(b"__name__", b"m"), (b"a", b"\xff\xfe")]),
            PB,
            SNAPPY,
            &[400],
            "utf",
        ),
        (
            "invalid utf-8 name",
            raw_series(&[(b"__name__", b"m"), (b"\xc3\x28", b"v")]),
            PB,
            SNAPPY,
            &[400],
            "utf",
        ),
        (
            "missing metric name",
            raw_series(&[(b"job", b"a")]),
            PB,
            SNAPPY,
            &[400],
            "__name__",
        ),
        (
            "over the size limit",
            raw_series(&huge),
            PB,
            SNAPPY,
            &[413],
            "limit",
        ),
    ];
    for (what, body, ct, enc, want, needle) in cases {
        let (status, msg) = server.post_write(body, ct, enc);
        assert!(
            want.contains(&status),
            "{what}: got {status} {msg:?}, want one of {want:?}"
        );
        assert!(
            msg.to_lowercase().contains(needle),
            "{what}: message {msg:?} should mention {needle:?}"
        );
        // The server keeps serving.
        let (ok, _) =
            server.write(&[(vec![("__name__", "alive")], vec![(1_700_000_000_000, 1.0)])]);
        assert_eq!(ok, 204, "{what}: server stopped accepting good writes");
    }

    // UTF-8 metric and label names are valid, as in Prometheus 3.
    let (st, msg) = server.write(&[(
        vec![("__name__", "métrique.total"), ("étiquette", "valeur ✓")],
        vec![(1_700_000_000_000, 2.0)],
    )]);
    assert_eq!(st, 204, "utf-8 names rejected: {msg}");

    // Earlier data is intact, NaN bits included.
    let got = server.read(&[(0, "__name__", "kept")], 0, i64::MAX / 2);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].samples,
        vec![
            (1_700_000_000_000, 1.5f64.to_bits()),
            (1_700_000_001_000, f64::NAN.to_bits())
        ]
    );
    let utf = server.read(&[(0, "__name__", "métrique.total")], 0, i64::MAX / 2);
    assert_eq!(utf.len(), 1);
}

#[test]
fn out_of_order_sample_is_rejected_with_400_naming_the_series() {
    let dir = tempfile::tempdir().unwrap();
    let server = Strata::start(&dir.path().join("data"), &[]);
    let s = |t: i64, v: f64| vec![(vec![("__name__", "ooo"), ("job", "j")], vec![(t, v)])];
    assert_eq!(server.write(&s(1_700_000_010_000, 1.0)).0, 204);
    // The same sample again is a duplicate and is ignored.
    assert_eq!(server.write(&s(1_700_000_010_000, 1.0)).0, 204);
    let (st, msg) = server.write(&s(1_700_000_000_000, 2.0));
    assert_eq!(st, 400, "{msg}");
    assert!(msg.contains("ooo"), "message should name the series: {msg}");
    let got = server.read(&[(0, "__name__", "ooo")], 0, i64::MAX / 2);
    assert_eq!(got[0].samples, vec![(1_700_000_010_000, 1.0f64.to_bits())]);
}
