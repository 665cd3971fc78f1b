//! Property tests: every encoding round-trips every f64 bit pattern and any timestamps, and
//! arbitrary or damaged bytes never panic the decoder.

use proptest::prelude::*;
use strata_codec::{Chunk, ChunkIter, Encoding, XorAppender};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

fn collect(it: ChunkIter<'_>) -> Vec<(i64, u64)> {
    it.map(|(t, v)| (t, v.to_bits())).collect()
}

/// Values: arbitrary bit patterns, special values, and decimal-looking values.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::from_bits(STALE_NAN)),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(f64::MIN_POSITIVE / 3.0),
        Just(f64::MAX),
        (-1_000_000i64..1_000_000, 0u32..6).prop_map(|(n, e)| n as f64 / 10f64.powi(e as i32)),
        (0i64..1 << 40).prop_map(|n| n as f64),
    ]
}

/// Timestamp steps: mostly regular with jitter, sometimes huge or negative.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => Just(1000i64),
        2 => 995i64..1006,
        1 => any::<i64>(),
        1 => -5000i64..5000,
        1 => 1i64..(1 << 40),
    ]
}

fn series(max: usize) -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        any::<i64>(),
        prop::collection::vec((step(), value()), 0..max),
    )
        .prop_map(|(t0, steps)| {
            let mut t = t0;
            steps
                .into_iter()
                .map(|(d, v)| {
                    t = t.wrapping_add(d);
                    (t, v)
                })
                .collect()
        })
}

/// Decimal-heavy series like scraped counters and gauges, with occasional special values.
fn decimal_series(max: usize) -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        0u32..5,
        prop::collection::vec(
            (
                prop_oneof![20 => Just(1000i64), 1 => 990i64..1010, 1 => 1i64..100_000],
                prop_oneof![20 => 0i64..2000, 1 => Just(-1), 1 => Just(-2)],
            ),
            1..max,
        ),
    )
        .prop_map(|(e, steps)| {
            let scale = 10f64.powi(e as i32);
            let (mut t, mut n) = (1_700_000_000_000i64, 123_456i64);
            steps
                .into_iter()
                .map(|(d, inc)| {
                    t += d;
                    let v = match inc {
                        -1 => f64::from_bits(STALE_NAN),
                        -2 => -0.0,
                        _ => {
                            n += inc;
                            n as f64 / scale
                        }
                    };
                    (t, v)
                })
                .collect()
        })
}

/// Gauge-like series that exercise every block form: sparse changes (bitmap), common factors
/// (pages of 4096 bytes), noise (frame of reference on values instead of deltas) and bursts
/// (patched outliers).
fn shaped_series(max: usize) -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        0u8..4,
        1i64..5000,
        0u32..4,
        prop::collection::vec((0u32..100, any::<i32>(), any::<bool>()), 1..max),
    )
        .prop_map(|(shape, gran, e, steps)| {
            let scale = 10f64.powi(e as i32);
            let mut n = 1_000_000i64;
            steps
                .into_iter()
                .enumerate()
                .map(|(i, (p, r, stale))| {
                    match shape {
                        0 if p < 10 => n += i64::from(r % 64) * gran,
                        1 => n += i64::from(r % 8).abs() * gran,
                        2 => n = 1_000_000 + i64::from(r % 100_000),
                        3 if p < 3 => n += i64::from(r).abs() * gran,
                        3 => n += i64::from(r % 16).abs(),
                        _ => {}
                    }
                    let v = if stale && p == 0 {
                        f64::from_bits(STALE_NAN)
                    } else {
                        n as f64 / scale
                    };
                    (1_600_000_000_000 + i as i64 * 15_000, v)
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn gauge_shapes_round_trip_and_seek(samples in shaped_series(600), target in any::<u16>()) {
        let c = Chunk::encode(&samples);
        prop_assert_eq!(collect(c.iter()), bits(&samples));
        let back = Chunk::from_bytes(&c.to_bytes()).unwrap();
        prop_assert_eq!(collect(back.iter()), bits(&samples));
        let t = 1_600_000_000_000 + i64::from(target) * 150;
        let want = samples.iter().find(|s| s.0 >= t).map(|&(t, v)| (t, v.to_bits()));
        prop_assert_eq!(back.iter().seek(t).map(|(t, v)| (t, v.to_bits())), want);
    }

    /// Recoding an open chunk gives exactly what encoding its samples gives.
    #[test]
    fn recoding_an_xor_chunk_equals_encoding_its_samples(
        samples in prop_oneof![series(300), shaped_series(300), decimal_series(300)],
    ) {
        let mut a = XorAppender::new();
        for &(t, v) in &samples {
            a.append(t, v);
        }
        let c = Chunk::from_xor(a.bytes().to_vec()).unwrap();
        let recoded = c.recoded().unwrap();
        prop_assert_eq!(recoded.to_bytes(), Chunk::encode(&samples).to_bytes());
        prop_assert_eq!(recoded.recoded().unwrap(), recoded);
    }

    #[test]
    fn xor_round_trips_bit_exact(samples in series(300)) {
        let mut a = XorAppender::new();
        for &(t, v) in &samples {
            a.append(t, v);
        }
        prop_assert_eq!(a.num_samples(), samples.len());
        prop_assert_eq!(collect(a.iter()), bits(&samples));
        let c = Chunk::from_xor(a.bytes().to_vec()).unwrap();
        prop_assert_eq!(collect(c.iter()), bits(&samples));
        prop_assert_eq!(c.to_xor_bytes(), a.bytes().to_vec());
    }

    #[test]
    fn closed_chunks_round_trip_bit_exact(samples in series(400)) {
        let c = Chunk::encode(&samples);
        prop_assert_eq!(collect(c.iter()), bits(&samples));
        let back = Chunk::from_bytes(&c.to_bytes()).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(collect(back.iter()), bits(&samples));
        let xor = Chunk::from_xor(c.to_xor_bytes()).unwrap();
        prop_assert_eq!(collect(xor.iter()), bits(&samples));
    }

    #[test]
    fn decimal_chunks_round_trip_and_use_packed(samples in decimal_series(700)) {
        let c = Chunk::encode(&samples);
        prop_assert_eq!(collect(c.iter()), bits(&samples));
        let back = Chunk::from_bytes(&c.to_bytes()).unwrap();
        prop_assert_eq!(collect(back.iter()), bits(&samples));
        if samples.len() > 50 {
            prop_assert_eq!(c.encoding(), Encoding::Packed);
        }
    }

    #[test]
    fn seek_matches_linear_scan(samples in decimal_series(900), targets in prop::collection::vec(any::<u16>(), 1..8)) {
        let c = Chunk::encode(&samples);
        let mut targets: Vec<i64> = targets
            .into_iter()
            .map(|x| 1_700_000_000_000 + i64::from(x) * 20)
            .collect();
        targets.sort();
        let mut it = c.iter();
        let mut reference = c.iter();
        let mut last: Option<(i64, f64)> = None;
        for t in targets {
            let got = it.seek(t).map(|(t, v)| (t, v.to_bits()));
            let want = match last {
                Some(s) if s.0 >= t => Some(s),
                _ => reference.by_ref().find(|s| s.0 >= t),
            };
            if want.is_some() {
                last = want;
            }
            prop_assert_eq!(got, want.map(|(t, v)| (t, v.to_bits())));
        }
        // `next` continues after the sought sample.
        let rest: Vec<_> = collect(it);
        let rest_ref: Vec<_> = collect(reference);
        prop_assert_eq!(rest, rest_ref);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(c) = Chunk::from_bytes(&bytes) {
            let mut it = c.iter();
            let n = it.by_ref().take(70_000).count();
            prop_assert!(n <= c.num_samples());
            let mut it = c.iter();
            let _ = it.seek(i64::MIN);
            let _ = it.seek(0);
            let _ = it.seek(i64::MAX);
            let _ = c.to_xor_bytes();
        }
        if let Ok(c) = Chunk::from_xor(bytes.clone()) {
            prop_assert!(c.iter().count() == c.num_samples());
        }
    }

    #[test]
    fn damaged_chunks_never_panic(samples in decimal_series(400), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        let bytes = Chunk::encode(&samples).to_bytes();
        let truncated = &bytes[..cut.index(bytes.len())];
        if let Ok(c) = Chunk::from_bytes(truncated) {
            let _ = c.iter().count();
            let _ = c.iter().seek(i64::MAX);
        }
        let mut flipped = bytes.clone();
        let i = flip.0.index(flipped.len());
        flipped[i] ^= flip.1 | 1;
        if let Ok(c) = Chunk::from_bytes(&flipped) {
            let _ = c.iter().count();
            let _ = c.iter().seek(i64::MAX);
            let _ = c.to_xor_bytes();
        }
        let xor = Chunk::encode_xor(&samples).unwrap().payload().to_vec();
        let _ = Chunk::from_xor(xor[..cut.index(xor.len())].to_vec());
    }
}
