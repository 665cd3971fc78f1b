//! Behaviour of closed chunks through the public API.

use strata_codec::{Chunk, Encoding, Error, MAX_SAMPLES, XorAppender};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn counter(n: usize) -> Vec<(i64, f64)> {
    let mut v = 123_456_789i64;
    (0..n)
        .map(|i| {
            v += 90 + (i as i64 * 7919) % 11;
            (1_700_000_000_000 + i as i64 * 1000, v as f64 / 100.0)
        })
        .collect()
}

fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
    s.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

#[test]
fn decimal_counters_use_packed_and_are_much_smaller_than_xor() {
    let samples = counter(1800);
    let c = Chunk::encode(&samples);
    let xor = Chunk::encode_xor(&samples).unwrap();
    assert_eq!(c.encoding(), Encoding::Packed);
    assert!(
        c.size_bytes() * 4 < xor.size_bytes(),
        "{} vs {}",
        c.size_bytes(),
        xor.size_bytes()
    );
    assert_eq!(bits(&c.iter().collect::<Vec<_>>()), bits(&samples));
    assert_eq!(
        (c.min_time(), c.max_time(), c.num_samples()),
        (samples[0].0, samples[1799].0, 1800)
    );
}

#[test]
fn staleness_markers_and_special_values_survive_packed_chunks() {
    let mut samples = counter(500);
    samples[0].1 = f64::from_bits(STALE_NAN);
    samples[17].1 = f64::from_bits(STALE_NAN);
    samples[200].1 = -0.0;
    samples[201].1 = f64::INFINITY;
    samples[499].1 = f64::from_bits(0x7ff8_dead_beef_0001);
    let c = Chunk::from_bytes(&Chunk::encode(&samples).to_bytes()).unwrap();
    assert_eq!(c.encoding(), Encoding::Packed);
    assert_eq!(bits(&c.iter().collect::<Vec<_>>()), bits(&samples));
}

#[test]
fn empty_and_single_sample_chunks_work() {
    let empty = Chunk::encode(&[]);
    assert_eq!(empty.num_samples(), 0);
    assert_eq!(empty.iter().next(), None);
    assert_eq!(Chunk::from_bytes(&empty.to_bytes()).unwrap(), empty);
    let one = Chunk::encode(&[(-5, f64::from_bits(STALE_NAN))]);
    let got: Vec<_> = one.iter().collect();
    assert_eq!(bits(&got), vec![(-5, STALE_NAN)]);
    assert_eq!(XorAppender::new().bytes(), &[0, 0]);
}

#[test]
fn seek_is_forward_only_and_next_continues_after_it() {
    let samples = counter(1000);
    let c = Chunk::encode(&samples);
    let mut it = c.iter();
    assert_eq!(it.seek(samples[700].0 - 1), Some(samples[700]));
    assert_eq!(it.seek(0), Some(samples[700]), "never moves backwards");
    assert_eq!(it.next(), Some(samples[701]));
    assert_eq!(it.seek(samples[999].0 + 1), None);
    assert!(it.error().is_none());
}

#[test]
fn rejects_bad_envelopes_and_oversized_input() {
    assert_eq!(
        Chunk::from_bytes(&[9, 0, 0, 0]),
        Err(Error::UnknownEncoding(9))
    );
    assert!(Chunk::from_bytes(&[]).unwrap_err().is_corruption());
    let mut b = Chunk::encode(&counter(10)).to_bytes();
    b.truncate(b.len() - 3);
    if let Ok(c) = Chunk::from_bytes(&b) {
        let n = c.iter().count();
        let mut it = c.iter();
        while it.next().is_some() {}
        assert!(n < 10 && it.error().is_some());
    }
    let too_many = vec![(0i64, 0.0); MAX_SAMPLES + 1];
    assert!(matches!(
        Chunk::try_encode(&too_many),
        Err(Error::TooManySamples { .. })
    ));
}

#[test]
fn irregular_float_series_fall_back_to_the_smaller_encoding() {
    let mut t = 0i64;
    let samples: Vec<(i64, f64)> = (0..300u64)
        .map(|i| {
            t += 1 + (i * 7_777_777) as i64 % 100_000;
            (
                t,
                f64::from_bits(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 2),
            )
        })
        .collect();
    let c = Chunk::encode(&samples);
    let xor = Chunk::encode_xor(&samples).unwrap();
    assert!(c.size_bytes() <= xor.size_bytes());
    assert_eq!(bits(&c.iter().collect::<Vec<_>>()), bits(&samples));
}
