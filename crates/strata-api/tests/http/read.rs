//! `POST /api/v1/read` over real HTTP: samples and streamed XOR chunks.

use strata_api::{ApiLimits, ByteSize};
use strata_model::{STALE_NAN_BITS, Sample};
use strata_proto::{
    ChunkedReadResponse, LabelMatcher, Query, ReadRequest, ReadResponse, chunk, decode_frames,
    encode_snappy,
};

use crate::support::{TestServer, labels, start, start_with};

fn matcher(t: i32, name: &str, value: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: t,
        name: name.into(),
        value: value.into(),
    }
}

fn query(start: i64, end: i64, matchers: Vec<LabelMatcher>) -> Query {
    Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers,
        hints: None,
    }
}

async fn post_read(srv: &TestServer, req: &ReadRequest) -> reqwest::Response {
    srv.client
        .post(srv.url("/api/v1/read"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Read-Version", "0.1.0")
        .body(encode_snappy(req).unwrap())
        .send()
        .await
        .unwrap()
}

fn seed(srv: &TestServer) -> Vec<Sample> {
    let samples: Vec<Sample> = (0..300)
        .map(|i| {
            let v = if i == 7 {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                i as f64 * 0.25
            };
            Sample::new(1_000 * i, v)
        })
        .collect();
    srv.store.insert(
        labels(&[("__name__", "cpu"), ("job", "node")]),
        samples.clone(),
    );
    srv.store.insert(
        labels(&[("__name__", "cpu"), ("job", "other")]),
        vec![Sample::new(5_000, 1.0)],
    );
    srv.store.insert(
        labels(&[("__name__", "mem"), ("job", "node")]),
        vec![Sample::new(5_000, 2.0)],
    );
    samples
}

#[tokio::test]
async fn samples_response_round_trips_exact_values_in_range() {
    let srv = start().await;
    let all = seed(&srv);
    let req = ReadRequest {
        queries: vec![
            query(
                5_000,
                10_000,
                vec![matcher(0, "__name__", "cpu"), matcher(2, "job", "no.*")],
            ),
            query(0, 1_000_000, vec![matcher(1, "__name__", "cpu")]),
        ],
        accepted_response_types: vec![],
    };
    let resp = post_read(&srv, &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "snappy");
    assert_eq!(resp.headers()["content-type"], "application/x-protobuf");
    let body = resp.bytes().await.unwrap();
    let got: ReadResponse = strata_proto::decode_snappy(&body, 1 << 26).unwrap();
    assert_eq!(got.results.len(), 2);
    let ts = &got.results[0].timeseries;
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].labels.len(), 2);
    let samples: Vec<Sample> = ts[0]
        .samples
        .iter()
        .map(|s| Sample::new(s.timestamp, s.value))
        .collect();
    assert_eq!(samples, all[5..=10].to_vec(), "inclusive range, exact bits");
    assert_eq!(samples[2].v.to_bits(), STALE_NAN_BITS);
    let names: Vec<&[u8]> = got.results[1]
        .timeseries
        .iter()
        .map(|t| &t.labels[0].value[..])
        .collect();
    assert_eq!(names, vec![&b"mem"[..]]);
}

#[tokio::test]
async fn streamed_response_frames_carry_valid_xor_chunks() {
    let srv = start().await;
    let all = seed(&srv);
    let req = ReadRequest {
        queries: vec![
            query(
                0,
                299_000,
                vec![matcher(0, "job", "node"), matcher(0, "__name__", "cpu")],
            ),
            query(0, 10_000, vec![matcher(0, "__name__", "mem")]),
        ],
        accepted_response_types: vec![1, 0],
    };
    let resp = post_read(&srv, &req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    assert!(resp.headers().get("content-encoding").is_none());
    let body = resp.bytes().await.unwrap();
    let frames: Vec<ChunkedReadResponse> = decode_frames(&body, 1 << 20).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].query_index, 0);
    assert_eq!(frames[1].query_index, 1);
    let cs = &frames[0].chunked_series[0];
    assert_eq!(cs.labels[0].value, "cpu");
    assert_eq!(cs.chunks.len(), 3, "300 samples in chunks of at most 120");
    let mut decoded = Vec::new();
    for c in &cs.chunks {
        assert_eq!(c.r#type, chunk::Encoding::Xor as i32);
        let chunk = strata_codec::Chunk::from_xor(c.data.to_vec()).unwrap();
        assert!(chunk.num_samples() <= 120);
        assert_eq!(chunk.min_time(), c.min_time_ms);
        assert_eq!(chunk.max_time(), c.max_time_ms);
        decoded.extend(chunk.iter().map(|(t, v)| Sample::new(t, v)));
    }
    assert_eq!(decoded, all);
}

#[tokio::test]
async fn streamed_series_split_over_frames_at_the_frame_limit() {
    let srv = start_with(ApiLimits {
        max_read_frame_bytes: ByteSize::kib(1),
        ..ApiLimits::default()
    })
    .await;
    let all: Vec<Sample> = (0..5_000)
        .map(|i| Sample::new(i * 1_000 + (i % 7), (i as f64).sin()))
        .collect();
    srv.store
        .insert(labels(&[("__name__", "noisy")]), all.clone());
    let req = ReadRequest {
        queries: vec![query(
            i64::MIN,
            i64::MAX,
            vec![matcher(0, "__name__", "noisy")],
        )],
        accepted_response_types: vec![1],
    };
    let body = post_read(&srv, &req).await.bytes().await.unwrap();
    let frames = decode_frames(&body, 1 << 20).unwrap();
    assert!(frames.len() > 5, "{} frames", frames.len());
    let mut decoded = Vec::new();
    for f in &frames {
        assert_eq!(f.chunked_series.len(), 1);
        assert_eq!(f.chunked_series[0].labels[0].value, "noisy");
        for c in &f.chunked_series[0].chunks {
            let chunk = strata_codec::Chunk::from_xor(c.data.to_vec()).unwrap();
            decoded.extend(chunk.iter().map(|(t, v)| Sample::new(t, v)));
        }
    }
    assert_eq!(decoded, all);
}

#[tokio::test]
async fn read_errors_are_400_and_the_server_keeps_serving() {
    let srv = start_with(ApiLimits {
        max_read_samples_per_query: 10,
        ..ApiLimits::default()
    })
    .await;
    seed(&srv);
    let over_limit = |types: Vec<i32>| ReadRequest {
        queries: vec![query(0, 1_000_000, vec![matcher(0, "__name__", "cpu")])],
        accepted_response_types: types,
    };
    for types in [vec![0], vec![1]] {
        let resp = post_read(&srv, &over_limit(types)).await;
        assert_eq!(resp.status(), 400);
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("exceeded sample limit (10)")
        );
    }
    let bad_regex = ReadRequest {
        queries: vec![query(0, 1, vec![matcher(2, "job", "(")])],
        accepted_response_types: vec![],
    };
    assert_eq!(post_read(&srv, &bad_regex).await.status(), 400);
    let unknown_type = ReadRequest {
        queries: vec![],
        accepted_response_types: vec![5],
    };
    assert_eq!(post_read(&srv, &unknown_type).await.status(), 400);
    let corrupt = srv
        .client
        .post(srv.url("/api/v1/read"))
        .body(vec![0xffu8, 0xff, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(corrupt.status(), 400);
    srv.assert_still_serving().await;
    let fine = ReadRequest {
        queries: vec![query(0, 6_000, vec![matcher(0, "__name__", "mem")])],
        accepted_response_types: vec![],
    };
    assert_eq!(post_read(&srv, &fine).await.status(), 200);
}
