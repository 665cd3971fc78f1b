//! Fuzzes the chunk decoders: arbitrary bytes, read as a self-describing chunk and as raw
//! Prometheus XOR bytes, must never panic; whatever decodes must re-encode to the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_codec::Chunk;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Chunk::from_bytes(data) {
        let samples: Vec<(i64, f64)> = c.iter().collect();
        assert!(samples.len() <= c.num_samples());
        let mut it = c.iter();
        if let Some(&(t, _)) = samples.get(samples.len() / 2) {
            let _ = it.seek(t);
        }
        let _ = it.seek(i64::MAX);
        let _ = c.to_xor_bytes();
        if c.iter().error().is_none() && c.iter().count() == c.num_samples() {
            check_round_trip(&samples);
        }
    }
    if let Ok(c) = Chunk::from_xor(data.to_vec()) {
        let samples: Vec<(i64, f64)> = c.iter().collect();
        assert_eq!(samples.len(), c.num_samples());
        check_round_trip(&samples);
    }
});

/// Re-encodes decoded samples and checks they come back bit-exact.
fn check_round_trip(samples: &[(i64, f64)]) {
    let re = Chunk::encode(samples);
    let back: Vec<(i64, u64)> = re.iter().map(|(t, v)| (t, v.to_bits())).collect();
    let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(back, want);
}
