//! Runs: the bits an open XOR chunk gained between two points, cut out of its bit stream as
//! they are, so that the head can persist what it appended since its last flush without
//! encoding every sample a second time.
//!
//! A run is only meaningful after the samples before it: it continues the stream (timestamp
//! deltas, the XOR value window) where the earlier ones stopped. [`XorAppender::append_run`]
//! therefore appends the bits and replays them from the appender's state, which both checks
//! them and brings the appender's state (last time and value, delta, window) up to date; the
//! result is the very appender, byte for byte, that produced the runs.
//!
//! Serialised layout ([`XorRun::encode`]): uvarint sample count, uvarint bit count, then the
//! bits, most significant first, padded with zero bits to a whole byte.

use crate::MAX_SAMPLES;
use crate::bits::{BitReader, BitWriter};
use crate::error::{Error, Result};
use crate::varint::{get_uvarint, put_uvarint};
use crate::xor::{NO_WINDOW, XOR_HEADER_LEN, XorAppender, XorIter};

/// A point in an open chunk's stream: the samples and bits (after the 2-byte count header) it
/// held. The default mark is the start of an empty chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XorMark {
    samples: u32,
    bits: u32,
}

impl XorMark {
    /// Returns the number of samples before the mark.
    pub fn samples(self) -> usize {
        self.samples as usize
    }
}

/// The samples an open chunk gained after a [`XorMark`], as the raw bits of its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorRun {
    samples: usize,
    bits: usize,
    data: Vec<u8>,
}

impl XorRun {
    /// Returns the number of samples in the run.
    pub fn num_samples(&self) -> usize {
        self.samples
    }

    /// Appends the serialised run to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_uvarint(out, self.samples as u64);
        put_uvarint(out, self.bits as u64);
        out.extend_from_slice(&self.data);
    }

    /// Parses a run written by [`XorRun::encode`]; the bytes must end with the run.
    pub fn decode(b: &[u8]) -> Result<XorRun> {
        let mut pos = 0;
        let samples = get_uvarint(b, &mut pos, "run sample count")?;
        let bits = get_uvarint(b, &mut pos, "run bit count")?;
        if samples > MAX_SAMPLES as u64 {
            return Err(Error::corrupt("run sample count above the chunk limit"));
        }
        let data = b.get(pos..).unwrap_or(&[]);
        if bits.div_ceil(8) != data.len() as u64 {
            return Err(Error::corrupt("run bit count disagrees with its length"));
        }
        Ok(XorRun {
            samples: samples as usize,
            bits: bits as usize,
            data: data.to_vec(),
        })
    }
}

/// Copies `n` bits from `r` to `w`.
fn copy_bits(r: &mut BitReader<'_>, w: &mut BitWriter, mut n: usize) -> Result<()> {
    while n > 0 {
        let take = n.min(56) as u32;
        w.write_bits(r.read_bits(take, "run bits")?, take);
        n -= take as usize;
    }
    Ok(())
}

impl XorAppender {
    /// Returns the current end of the chunk, to cut a run from later.
    pub fn mark(&self) -> XorMark {
        XorMark {
            samples: self.count as u32,
            bits: (self.w.bit_len() - XOR_HEADER_LEN * 8) as u32,
        }
    }

    /// Returns the samples appended after `from` as a run. `from` must be a mark of this
    /// appender (not of an earlier chunk): a mark past the end gives an error.
    pub fn run_since(&self, from: XorMark) -> Result<XorRun> {
        let end = self.mark();
        if from.samples > end.samples || from.bits > end.bits {
            return Err(Error::corrupt("run mark past the end of the chunk"));
        }
        let bits = (end.bits - from.bits) as usize;
        let body = &self.w.bytes()[XOR_HEADER_LEN..];
        let mut r = BitReader::at_bit(body, from.bits as usize);
        let mut w = BitWriter::with_bytes(Vec::with_capacity(bits.div_ceil(8)));
        copy_bits(&mut r, &mut w, bits)?;
        Ok(XorRun {
            samples: (end.samples - from.samples) as usize,
            bits,
            data: w.into_bytes(),
        })
    }

    /// Appends a run cut from an appender whose samples up to the run's mark are exactly this
    /// one's. The run's bits are replayed from this appender's state: on damaged bits, or bits
    /// that do not hold exactly the announced samples, the appender is left unchanged and an
    /// error returned.
    pub fn append_run(&mut self, run: &XorRun) -> Result<()> {
        if run.samples == 0 {
            return if run.bits == 0 {
                Ok(())
            } else {
                Err(Error::corrupt("run of zero samples has bits"))
            };
        }
        let total = self.count + run.samples;
        if total > MAX_SAMPLES {
            return Err(Error::TooManySamples {
                got: total,
                max: MAX_SAMPLES,
            });
        }
        let start = self.mark().bits as usize;
        let mut w = self.w.clone();
        copy_bits(&mut BitReader::new(&run.data), &mut w, run.bits)?;
        // Replay from this appender's state. The reader's window starts empty when no value
        // changed yet; the encoder then writes a new window before any reuse, so 0/0 is never
        // read as a window.
        let window = |x: u8| if x == NO_WINDOW { 0 } else { x };
        let body = &w.bytes()[XOR_HEADER_LEN..];
        let mut it = XorIter {
            r: BitReader::at_bit(body, start),
            total,
            read: self.count,
            t: self.t,
            t_delta: self.t_delta,
            v: self.v,
            leading: window(self.leading),
            trailing: self.trailing,
            err: None,
        };
        let (mut t, mut v) = (self.t, self.v);
        let (mut leading, mut trailing) = (self.leading, self.trailing);
        let mut min_time = self.min_time;
        for i in 0..run.samples {
            let Some((st, sv)) = it.next() else {
                return Err(it.err.take().unwrap_or(Error::truncated("run samples")));
            };
            let vb = sv.to_bits();
            if self.count + i == 0 {
                min_time = st;
            } else {
                // The writer's window, as `xor_write` chooses it (the reader only knows the
                // windows written, which is the same thing, except before the first one).
                let delta = vb ^ v;
                if delta != 0 {
                    let nl = (delta.leading_zeros() as u8).min(31);
                    let nt = delta.trailing_zeros() as u8;
                    if leading == NO_WINDOW || nl < leading || nt < trailing {
                        leading = nl;
                        trailing = nt;
                    }
                }
            }
            t = st;
            v = vb;
        }
        if it.r.consumed() != run.bits + start % 8 {
            return Err(Error::corrupt("run bits disagree with its samples"));
        }
        let t_delta = it.t_delta;
        w.bytes_mut()[..XOR_HEADER_LEN].copy_from_slice(&(total as u16).to_be_bytes());
        self.w = w;
        self.count = total;
        self.min_time = min_time;
        self.t = t;
        self.t_delta = t_delta;
        self.v = v;
        self.leading = leading;
        self.trailing = trailing;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value_strategy() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(1.0),
            (0u32..1000).prop_map(|x| x as f64 / 10.0),
            any::<u64>().prop_map(f64::from_bits),
        ]
    }

    proptest! {
        /// Cutting runs at arbitrary points and appending them to a fresh appender rebuilds
        /// the original byte for byte, and further appends stay identical.
        #[test]
        fn runs_rebuild_the_appender_exactly(
            samples in proptest::collection::vec((1i64..5000, value_strategy()), 1..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
            tail in proptest::collection::vec((1i64..5000, value_strategy()), 0..20),
        ) {
            let mut a = XorAppender::new();
            let mut runs = Vec::new();
            let mut mark = a.mark();
            let mut t = 1_700_000_000_000i64;
            let mut cuts = cuts;
            cuts.sort_unstable();
            for (i, (dt, v)) in samples.iter().enumerate() {
                t += dt;
                a.append(t, *v);
                if cuts.contains(&i) {
                    runs.push(a.run_since(mark).unwrap());
                    mark = a.mark();
                }
            }
            runs.push(a.run_since(mark).unwrap());
            let mut b = XorAppender::new();
            for r in &runs {
                let mut enc = Vec::new();
                r.encode(&mut enc);
                b.append_run(&XorRun::decode(&enc).unwrap()).unwrap();
            }
            prop_assert_eq!(a.bytes(), b.bytes());
            for (dt, v) in tail {
                t += dt;
                a.append(t, v);
                b.append(t, v);
            }
            prop_assert_eq!(a.bytes(), b.bytes());
        }

        /// Damaged runs never panic and leave the appender unchanged when refused.
        #[test]
        fn damaged_runs_are_refused_or_harmless(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut a = XorAppender::new();
            a.append(1000, 1.5);
            let before = a.bytes().to_vec();
            if let Ok(run) = XorRun::decode(&bytes)
                && a.append_run(&run).is_err()
            {
                prop_assert_eq!(a.bytes(), &before[..]);
            }
        }
    }

    #[test]
    fn empty_and_mismatched_runs() {
        let mut a = XorAppender::new();
        let m = a.mark();
        a.append(1, 1.0);
        a.append(2, 2.0);
        let run = a.run_since(m).unwrap();
        assert_eq!(run.num_samples(), 2);
        let empty = a.run_since(a.mark()).unwrap();
        assert_eq!(empty.num_samples(), 0);
        let mut b = XorAppender::new();
        b.append_run(&empty).unwrap();
        assert_eq!(b.num_samples(), 0);
        // A run announcing more samples than its bits hold is refused.
        let mut enc = Vec::new();
        run.encode(&mut enc);
        enc[0] = 3;
        let bad = XorRun::decode(&enc).unwrap();
        assert!(b.append_run(&bad).is_err());
        assert_eq!(b.num_samples(), 0);
        assert!(b.run_since(m).is_ok());
        assert!(XorAppender::new().run_since(a.mark()).is_err());
    }
}
