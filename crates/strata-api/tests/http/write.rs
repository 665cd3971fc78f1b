//! `POST /api/v1/write` over real HTTP.

use strata_model::{ErrorKind, STALE_NAN_BITS, Sample};
use strata_proto::{Histogram, Label, TimeSeries, compress_snappy};

use crate::support::{labels, series, start, start_with, write_body};
use strata_api::{ApiLimits, ByteSize};

#[tokio::test]
async fn good_write_returns_204_and_stores_exact_samples() {
    let srv = start().await;
    let odd_nan = f64::from_bits(0x7ff8_0000_0000_0123);
    let values = [
        (1000, 1.5),
        (2000, f64::from_bits(STALE_NAN_BITS)),
        (3000, odd_nan),
        (4000, f64::MIN_POSITIVE / 2.0),
        (5000, f64::INFINITY),
    ];
    let body = write_body(vec![
        series(
            &[("job", "node"), ("__name__", "up"), ("empty", "")],
            &values,
        ),
        series(&[("__name__", "other")], &[(1, 2.0)]),
    ]);
    let (status, text) = srv.write(body).await;
    assert_eq!(status, 204, "{text}");
    let got = srv
        .store
        .samples_of(&labels(&[("__name__", "up"), ("job", "node")]));
    let want: Vec<Sample> = values.iter().map(|&(t, v)| Sample::new(t, v)).collect();
    assert_eq!(got, want, "values must be bit-exact");
    assert_eq!(got[1].v.to_bits(), STALE_NAN_BITS);
    assert_eq!(got[2].v.to_bits(), 0x7ff8_0000_0000_0123);
    // (-0.0 cannot be tested end to end: proto3 senders, prost and Go's gogo alike, skip a
    // double equal to 0.0, so it arrives as +0.0.)
    assert_eq!(
        srv.store
            .samples_of(&labels(&[("__name__", "other")]))
            .len(),
        1
    );
}

#[tokio::test]
async fn missing_headers_default_to_snappy_protobuf() {
    let srv = start().await;
    let body = write_body(vec![series(&[("__name__", "a")], &[(1, 1.0)])]);
    let (status, text) = srv.write_with(body, None, None).await;
    assert_eq!(status, 204, "{text}");
}

#[tokio::test]
async fn corrupt_bodies_are_400_and_the_server_keeps_serving() {
    let srv = start().await;
    let good = write_body(vec![series(&[("__name__", "m"), ("a", "b")], &[(1, 1.0)])]);
    let not_protobuf = compress_snappy(b"\xff\xff\xff\xff\xff\xff not a protobuf").unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated snappy",
            good[..good.len() - 4].to_vec(),
            "snappy",
        ),
        ("garbage snappy", b"\x05\xff\xfe\xfd".to_vec(), "snappy"),
        ("corrupt protobuf", not_protobuf, "protobuf"),
        ("empty body", Vec::new(), "empty request body"),
    ];
    for (what, body, needle) in cases {
        let (status, text) = srv.write(body).await;
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains(needle), "{what}: {text}");
        srv.assert_still_serving().await;
    }
}

#[tokio::test]
async fn wrong_media_type_or_encoding_is_415() {
    let srv = start().await;
    let body = write_body(vec![series(&[("__name__", "m")], &[(1, 1.0)])]);
    let cases = [
        (Some("application/json"), Some("snappy")),
        (
            Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
            Some("snappy"),
        ),
        (Some("application/x-protobuf;proto=foo.Bar"), Some("snappy")),
        (Some("application/x-protobuf"), Some("gzip")),
    ];
    for (ct, enc) in cases {
        let (status, text) = srv.write_with(body.clone(), ct, enc).await;
        assert_eq!(status, 415, "{ct:?} {enc:?}: {text}");
        srv.assert_still_serving().await;
    }
}

#[tokio::test]
async fn invalid_series_are_400_naming_the_series_and_the_rest_is_stored() {
    let srv = start().await;
    let raw_label = |n: &'static [u8], v: &'static [u8]| {
        Label::new(bytes::Bytes::from_static(n), bytes::Bytes::from_static(v))
    };
    let bad_utf8 = TimeSeries {
        labels: vec![
            raw_label(b"__name__", b"bad"),
            raw_label(b"job", b"\xff\xfe"),
        ],
        samples: vec![strata_proto::Sample {
            value: 1.0,
            timestamp: 1,
        }],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    };
    let cases: Vec<(TimeSeries, &str)> = vec![
        (
            series(&[("__name__", "e"), ("", "v")], &[(1, 1.0)]),
            "empty label name",
        ),
        (
            series(
                &[("__name__", "d"), ("job", "a"), ("job", "b")],
                &[(1, 1.0)],
            ),
            "duplicate label name \"job\"",
        ),
        (bad_utf8, "not valid UTF-8"),
        (
            series(&[("job", "x")], &[(1, 1.0)]),
            "missing or empty __name__",
        ),
        (
            series(&[("__name__", ""), ("job", "y")], &[(1, 1.0)]),
            "missing or empty __name__",
        ),
    ];
    for (i, (bad, needle)) in cases.into_iter().enumerate() {
        let ok_name = format!("kept_{i}");
        let body = write_body(vec![series(&[("__name__", &ok_name)], &[(5, 5.0)]), bad]);
        let (status, text) = srv.write(body).await;
        assert_eq!(status, 400, "{needle}: {text}");
        assert!(text.contains(needle), "{needle}: {text}");
        assert!(text.contains("invalid series {"), "{text}");
        assert_eq!(
            srv.store.samples_of(&labels(&[("__name__", &ok_name)])),
            vec![Sample::new(5, 5.0)],
            "valid series of the same request must be stored"
        );
        srv.assert_still_serving().await;
    }
}

#[tokio::test]
async fn native_histograms_are_refused_with_400_after_floats_are_stored() {
    let srv = start().await;
    let mut s = series(&[("__name__", "h")], &[(1, 1.0)]);
    s.histograms.push(Histogram {
        timestamp: 2,
        ..Histogram::default()
    });
    let (status, text) = srv.write(write_body(vec![s])).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("native histogram"), "{text}");
    assert_eq!(srv.store.samples_of(&labels(&[("__name__", "h")])).len(), 1);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let limits = ApiLimits {
        max_write_compressed_bytes: ByteSize::kib(8),
        max_write_decompressed_bytes: ByteSize::kib(64),
        max_series_per_write: 100,
        max_samples_per_write: 1000,
        ..ApiLimits::default()
    };
    let srv = start_with(limits).await;

    // Declares 1 GiB decompressed in its header: refused before any allocation.
    let mut lying = Vec::new();
    strata_model::labels::put_uvarint(&mut lying, 1 << 30);
    lying.extend_from_slice(b"\x00\x01\x02");
    let (status, text) = srv.write(lying).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("max-write-decompressed-bytes"), "{text}");

    // A genuinely compressible body that decompresses above the limit.
    let zeros = compress_snappy(&vec![0u8; 100 * 1024]).unwrap();
    assert!(zeros.len() < 8192, "{}", zeros.len());
    let (status, _) = srv.write(zeros).await;
    assert_eq!(status, 413);

    // Compressed size above the limit.
    let (status, text) = srv.write(vec![7u8; 9000]).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("max-write-compressed-bytes"), "{text}");

    // Too many series and samples.
    let many: Vec<_> = (0..101)
        .map(|i| series(&[("__name__", &format!("s{i}"))], &[]))
        .collect();
    let (status, text) = srv.write(write_body(many)).await;
    assert_eq!(status, 413, "{text}");
    let samples: Vec<(i64, f64)> = (0..1001).map(|t| (t, 0.0)).collect();
    let (status, text) = srv
        .write(write_body(vec![series(&[("__name__", "x")], &samples)]))
        .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("max-samples-per-write"), "{text}");
    srv.assert_still_serving().await;
}

#[tokio::test]
async fn sink_errors_map_to_retryable_statuses() {
    let srv = start().await;
    let body = write_body(vec![series(&[("__name__", "m")], &[(1, 1.0)])]);
    let cases = [
        (ErrorKind::Unavailable, 503),
        (ErrorKind::NotLeader { hint: None }, 503),
        (ErrorKind::Overloaded, 429),
        (ErrorKind::Timeout, 503),
        (ErrorKind::Internal, 500),
        (ErrorKind::BadData, 400),
    ];
    for (kind, want) in cases {
        srv.store.fail_next_writes(Some(kind.clone()));
        let (status, text) = srv.write(body.clone()).await;
        assert_eq!(status, want, "{kind:?}: {text}");
        if kind == ErrorKind::Internal {
            assert!(
                !text.contains("test sink"),
                "internal details leaked: {text}"
            );
        }
    }
    srv.store.fail_next_writes(None);
    srv.assert_still_serving().await;
}

#[tokio::test]
async fn engine_rejections_are_400_after_the_rest_is_stored() {
    let srv = start().await;
    let body = write_body(vec![series(&[("__name__", "ooo")], &[(10, 1.0)])]);
    assert_eq!(srv.write(body).await.0, 204);
    let body = write_body(vec![
        series(&[("__name__", "ooo")], &[(5, 2.0), (20, 3.0)]),
        series(&[("__name__", "fresh")], &[(1, 1.0)]),
    ]);
    let (status, text) = srv.write(body).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("out of order"), "{text}");
    assert!(text.contains("ooo{}"), "{text}");
    assert_eq!(
        srv.store.samples_of(&labels(&[("__name__", "ooo")])),
        vec![Sample::new(10, 1.0), Sample::new(20, 3.0)]
    );
    assert_eq!(
        srv.store
            .samples_of(&labels(&[("__name__", "fresh")]))
            .len(),
        1
    );

    let (_, metrics) = srv.get("/metrics").await;
    assert!(
        metrics.contains("strata_api_rejected_samples_total{reason=\"out_of_order\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("strata_api_ingested_samples_total 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn large_bodies_are_decoded_off_the_async_workers_and_stored() {
    let srv = start().await;
    let ts: Vec<TimeSeries> = (0..5_000)
        .map(|i| {
            let instance = format!("host-{i}.example:9100");
            let value = (i as f64).sqrt();
            series(
                &[("__name__", "node_load1"), ("instance", &instance)],
                &[(1_000, value), (2_000, value + 1.0)],
            )
        })
        .collect();
    let body = write_body(ts);
    assert!(
        body.len() > 16 * 1024,
        "body of {} bytes is decoded inline",
        body.len()
    );
    let (status, text) = srv.write(body).await;
    assert_eq!(status, 204, "{text}");
    let got = srv.store.samples_of(&labels(&[
        ("__name__", "node_load1"),
        ("instance", "host-4999.example:9100"),
    ]));
    let v = 4999f64.sqrt();
    assert_eq!(
        got,
        vec![Sample::new(1_000, v), Sample::new(2_000, v + 1.0)]
    );
    assert_eq!(srv.store.series.lock().unwrap().len(), 5_000);
    let batches = srv.store.batches.lock().unwrap();
    assert_eq!(batches.len(), 4, "one batch per shard");
    assert_eq!(
        batches.iter().map(|(_, b)| b.sample_count()).sum::<u64>(),
        10_000
    );
}
