//! Fuzzes the remote write decoder: snappy, protobuf, label validation and shard batching.
//!
//! The input is tried twice: as a compressed request body as sent over HTTP, and compressed by
//! the target so that arbitrary bytes reach the protobuf decoder and the validation rules.
//! Besides "never panics", every accepted series must re-parse from its batch with canonical
//! labels whose hash is its id and whose shard is the batch's shard.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_api::{ApiLimits, ByteSize, decode_write_request};
use strata_model::{Labels, ShardBatch};

const SHARDS: u32 = 16;

fuzz_target!(|data: &[u8]| {
    let limits = ApiLimits {
        max_write_decompressed_bytes: ByteSize::mib(4),
        max_labels_per_series: 64,
        ..ApiLimits::default()
    };
    let _ = decode_write_request(data, SHARDS, &limits);
    let Ok(body) = strata_proto::compress_snappy(data) else {
        return;
    };
    let Ok(decoded) = decode_write_request(&body, SHARDS, &limits) else {
        return;
    };
    let mut samples = 0u64;
    for (shard, batch) in &decoded.batches {
        let reparsed = ShardBatch::from_bytes(batch.as_bytes().to_vec()).expect("batch re-parses");
        for s in reparsed.series() {
            let labels = Labels::decode_canonical(s.labels).expect("canonical labels are valid");
            assert_eq!(labels.series_id(), s.id);
            assert_eq!(s.id.shard(SHARDS), *shard);
            assert!(labels.metric_name().is_some_and(|n| !n.is_empty()));
            samples += s.sample_count() as u64;
        }
    }
    assert_eq!(samples, decoded.accepted_samples);
});
