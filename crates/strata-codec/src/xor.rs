//! Prometheus-compatible XOR ("Gorilla") chunks: the open head chunk and its iterator.
//!
//! Byte layout (identical to Prometheus `tsdb/chunkenc/xor.go`, see `docs/format/chunks.md`):
//! a 2-byte big-endian sample count, then a bit stream: sample 0 as a zig-zag varint timestamp and
//! the 64 raw value bits; sample 1 as a uvarint timestamp delta and an XOR value; every later sample
//! as a delta-of-delta timestamp in buckets of 1, 2+14, 3+17, 4+20 or 4+64 bits and an XOR value.

use crate::bits::{BitReader, BitWriter};
use crate::error::{Error, Result};
use crate::varint::{put_uvarint, put_varint};
use crate::{Chunk, MAX_SAMPLES};

/// Size of the sample-count header of a XOR chunk.
pub(crate) const XOR_HEADER_LEN: usize = 2;

/// Marks "no leading/trailing window chosen yet" in the XOR value writer.
pub(crate) const NO_WINDOW: u8 = 0xff;

/// The open head chunk of a series: appends samples in Prometheus' XOR format.
///
/// [`XorAppender::bytes`] is a complete, valid XOR chunk after every append (the count header is
/// kept current), so the head can be read or streamed while it is still being written.
#[derive(Debug, Clone)]
pub struct XorAppender {
    pub(crate) w: BitWriter,
    pub(crate) count: usize,
    pub(crate) min_time: i64,
    pub(crate) t: i64,
    pub(crate) t_delta: u64,
    pub(crate) v: u64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// Returns an empty chunk (just the 2-byte zero count header).
    pub fn new() -> Self {
        XorAppender {
            w: BitWriter::with_bytes(empty_xor_bytes()),
            count: 0,
            min_time: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: NO_WINDOW,
            trailing: 0,
        }
    }

    /// Appends a sample. The caller guarantees `t` is greater than the previous timestamp (other
    /// orders still round-trip, but [`XorAppender::max_time`] then reports the last, not the
    /// largest, timestamp).
    ///
    /// # Panics
    ///
    /// Panics if the chunk already holds [`MAX_SAMPLES`] samples; check
    /// [`XorAppender::is_full`] or use [`XorAppender::try_append`].
    pub fn append(&mut self, t: i64, v: f64) {
        if let Err(e) = self.try_append(t, v) {
            panic!("{e}");
        }
    }

    /// Appends a sample like [`XorAppender::append`], or fails when the chunk is full.
    pub fn try_append(&mut self, t: i64, v: f64) -> Result<()> {
        let vbits = v.to_bits();
        match self.count {
            0 => {
                let mut tmp = Vec::with_capacity(10);
                put_varint(&mut tmp, t);
                for b in tmp {
                    self.w.write_bits(u64::from(b), 8);
                }
                self.w.write_bits(vbits, 64);
                self.min_time = t;
            }
            1 => {
                let delta = t.wrapping_sub(self.t) as u64;
                let mut tmp = Vec::with_capacity(10);
                put_uvarint(&mut tmp, delta);
                for b in tmp {
                    self.w.write_bits(u64::from(b), 8);
                }
                xor_write(
                    &mut self.w,
                    vbits,
                    self.v,
                    &mut self.leading,
                    &mut self.trailing,
                );
                self.t_delta = delta;
            }
            n if n >= MAX_SAMPLES => {
                return Err(Error::TooManySamples {
                    got: n + 1,
                    max: MAX_SAMPLES,
                });
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                let dod = delta.wrapping_sub(self.t_delta) as i64;
                write_dod(&mut self.w, dod);
                xor_write(
                    &mut self.w,
                    vbits,
                    self.v,
                    &mut self.leading,
                    &mut self.trailing,
                );
                self.t_delta = delta;
            }
        }
        self.t = t;
        self.v = vbits;
        self.count += 1;
        let hdr = (self.count as u16).to_be_bytes();
        self.w.bytes_mut()[..XOR_HEADER_LEN].copy_from_slice(&hdr);
        Ok(())
    }

    /// Returns whether the chunk holds [`MAX_SAMPLES`] samples and accepts no more.
    pub fn is_full(&self) -> bool {
        self.count >= MAX_SAMPLES
    }

    /// Returns the number of samples appended.
    pub fn num_samples(&self) -> usize {
        self.count
    }

    /// Returns the first sample's timestamp, or `None` when empty.
    pub fn min_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.min_time)
    }

    /// Returns the last sample's timestamp, or `None` when empty.
    pub fn max_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.t)
    }

    /// Returns the last sample, or `None` when empty.
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.count > 0).then_some((self.t, f64::from_bits(self.v)))
    }

    /// Returns the chunk in Prometheus' XOR byte layout, valid after every append.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Returns the encoded size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.w.bytes().len()
    }

    /// Returns an iterator over the samples appended so far.
    pub fn iter(&self) -> crate::ChunkIter<'_> {
        crate::ChunkIter::from_xor_iter(XorIter::new(self.bytes()))
    }

    /// Returns a closed [`Chunk`] holding a copy of these XOR bytes (no re-encoding).
    pub fn to_chunk(&self) -> Chunk {
        Chunk::from_parts_xor(self.bytes().to_vec(), self.min_time, self.t, self.count)
    }
}

/// Returns the bytes of an empty XOR chunk with room for a typical head chunk.
fn empty_xor_bytes() -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(&[0, 0]);
    b
}

/// Returns whether `x` fits the `nbits` bucket of Prometheus' delta-of-delta encoding.
#[inline]
fn bit_range(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Writes a timestamp delta-of-delta in Prometheus' bucket layout.
#[inline]
fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.write_bit(false);
    } else if bit_range(dod, 14) {
        w.write_bits(0b10, 2);
        w.write_bits(dod as u64, 14);
    } else if bit_range(dod, 17) {
        w.write_bits(0b110, 3);
        w.write_bits(dod as u64, 17);
    } else if bit_range(dod, 20) {
        w.write_bits(0b1110, 4);
        w.write_bits(dod as u64, 20);
    } else {
        w.write_bits(0b1111, 4);
        w.write_bits(dod as u64, 64);
    }
}

/// Reads a delta-of-delta written by [`write_dod`].
#[inline]
fn read_dod(r: &mut BitReader<'_>) -> Result<i64> {
    const WHAT: &str = "timestamp delta-of-delta";
    let p = r.peek(4);
    let sz = if p & 0b1000 == 0 {
        r.skip(1, WHAT)?;
        return Ok(0);
    } else if p & 0b0100 == 0 {
        r.skip(2, WHAT)?;
        14
    } else if p & 0b0010 == 0 {
        r.skip(3, WHAT)?;
        17
    } else if p & 0b0001 == 0 {
        r.skip(4, WHAT)?;
        20
    } else {
        r.skip(4, WHAT)?;
        return Ok(r.read_bits(64, WHAT)? as i64);
    };
    let mut bits = r.read_bits(sz, WHAT)?;
    if bits > (1u64 << (sz - 1)) {
        bits = bits.wrapping_sub(1u64 << sz);
    }
    Ok(bits as i64)
}

/// Writes `v` XORed with `prev` in Gorilla's value encoding, updating the leading/trailing window.
#[inline]
pub(crate) fn xor_write(w: &mut BitWriter, v: u64, prev: u64, leading: &mut u8, trailing: &mut u8) {
    let delta = v ^ prev;
    if delta == 0 {
        w.write_bit(false);
        return;
    }
    let new_leading = (delta.leading_zeros() as u8).min(31);
    let new_trailing = delta.trailing_zeros() as u8;
    if *leading != NO_WINDOW && new_leading >= *leading && new_trailing >= *trailing {
        w.write_bits(0b10, 2);
        w.write_bits(
            delta >> *trailing,
            64 - u32::from(*leading) - u32::from(*trailing),
        );
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    let sig = 64 - u32::from(new_leading) - u32::from(new_trailing);
    // 2 control bits, 5 bits of leading zeros, 6 bits of significant-bit count (64 written as 0).
    w.write_bits(
        (0b11 << 11) | (u64::from(new_leading) << 6) | u64::from(sig & 63),
        13,
    );
    w.write_bits(delta >> new_trailing, sig);
}

/// Reads a value written by [`xor_write`] and returns the new value bits.
#[inline]
pub(crate) fn xor_read(
    r: &mut BitReader<'_>,
    prev: u64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<u64> {
    const WHAT: &str = "xor value";
    let p = r.peek(2);
    if p & 0b10 == 0 {
        r.skip(1, WHAT)?;
        return Ok(prev);
    }
    let mbits = if p & 0b01 == 0 {
        r.skip(2, WHAT)?;
        64 - u32::from(*leading) - u32::from(*trailing)
    } else {
        let ctl = r.read_bits(13, WHAT)?;
        let lead = ((ctl >> 6) & 31) as u32;
        let mut mbits = (ctl & 63) as u32;
        if mbits == 0 {
            mbits = 64;
        }
        if lead + mbits > 64 {
            return Err(Error::corrupt("xor window exceeds 64 bits"));
        }
        *leading = lead as u8;
        *trailing = (64 - lead - mbits) as u8;
        mbits
    };
    let bits = r.read_bits(mbits, WHAT)?;
    Ok(prev ^ (bits << *trailing))
}

/// Iterates a Prometheus XOR chunk. Stops (and records the error) on corrupt or truncated bytes.
#[derive(Debug, Clone)]
pub(crate) struct XorIter<'a> {
    pub(crate) r: BitReader<'a>,
    pub(crate) total: usize,
    pub(crate) read: usize,
    pub(crate) t: i64,
    pub(crate) t_delta: u64,
    pub(crate) v: u64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
    pub(crate) err: Option<Error>,
}

impl<'a> XorIter<'a> {
    /// Returns an iterator over the XOR chunk `bytes` (count header included).
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        let (total, body, err) = match bytes {
            [a, b, rest @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), rest, None),
            _ => (0, &[][..], Some(Error::truncated("xor chunk header"))),
        };
        XorIter {
            r: BitReader::new(body),
            total,
            read: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0,
            trailing: 0,
            err,
        }
    }

    /// Returns the error that ended iteration early, if any.
    pub(crate) fn error(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    /// Returns the number of samples the header announces.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    fn step(&mut self) -> Result<(i64, f64)> {
        match self.read {
            0 => {
                let u = self.r.read_uvarint("first timestamp")?;
                self.t = crate::varint::unzigzag(u);
                self.v = self.r.read_bits(64, "first value")?;
            }
            1 => {
                self.t_delta = self.r.read_uvarint("first timestamp delta")?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.v = xor_read(&mut self.r, self.v, &mut self.leading, &mut self.trailing)?;
            }
            _ => {
                // Fast path: regular timestamp and unchanged value, two zero bits.
                if self.r.peek(2) == 0 {
                    self.r.skip(2, "sample")?;
                    self.t = self.t.wrapping_add(self.t_delta as i64);
                    self.read += 1;
                    return Ok((self.t, f64::from_bits(self.v)));
                }
                let dod = read_dod(&mut self.r)?;
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.v = xor_read(&mut self.r, self.v, &mut self.leading, &mut self.trailing)?;
            }
        }
        self.read += 1;
        Ok((self.t, f64::from_bits(self.v)))
    }
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.read >= self.total || self.err.is_some() {
            return None;
        }
        match self.step() {
            Ok(s) => Some(s),
            Err(e) => {
                self.err = Some(e);
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.total - self.read.min(self.total)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes produced by Prometheus' `chunkenc.NewXORChunk` for the samples below, worked out by
    /// hand from the Go source: (1000, 1.0), (2000, 1.0), (3000, 2.0).
    #[test]
    fn matches_hand_computed_prometheus_bytes() {
        let mut a = XorAppender::new();
        a.append(1000, 1.0);
        a.append(2000, 1.0);
        a.append(3000, 2.0);
        // count 3; varint(1000) = zigzag 2000 = d0 0f; 1.0 = 3ff0000000000000;
        // uvarint(1000) = e8 07; value unchanged: bit 0; dod 0: bit 0;
        // 2.0 ^ 1.0 = 0x7ff0000000000000 -> leading 1, trailing 52, sig 11:
        // bits 1 1 00001 001011 11111111111
        let expected: Vec<u8> = {
            let mut w = BitWriter::with_bytes(vec![0, 3, 0xd0, 0x0f]);
            w.write_bits(0x3ff0_0000_0000_0000, 64);
            w.write_bits(0xe8, 8);
            w.write_bits(0x07, 8);
            w.write_bits(0, 1);
            w.write_bits(0, 1);
            w.write_bits(0b11, 2);
            w.write_bits(1, 5);
            w.write_bits(11, 6);
            w.write_bits(0b111_1111_1111, 11);
            w.into_bytes()
        };
        assert_eq!(a.bytes(), &expected[..]);
        let got: Vec<_> = a.iter().collect();
        assert_eq!(got, vec![(1000, 1.0), (2000, 1.0), (3000, 2.0)]);
    }

    #[test]
    fn dod_buckets_round_trip_at_their_edges() {
        let mut a = XorAppender::new();
        let mut t = 0i64;
        let mut d = 1000i64;
        let mut want = Vec::new();
        for dod in [
            0i64,
            1,
            -1,
            8192,
            -8191,
            8193,
            -8192,
            65536,
            -65535,
            65537,
            524288,
            -524287,
            524289,
            -524288,
            1 << 40,
            -(1 << 40),
            0,
        ] {
            d += dod;
            t += d;
            want.push((t, t as f64));
        }
        for &(t, v) in &want {
            a.append(t, v);
        }
        let got: Vec<_> = a.iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn full_chunk_rejects_more_samples() {
        let mut a = XorAppender::new();
        for i in 0..MAX_SAMPLES as i64 {
            a.append(i, 0.0);
        }
        assert!(a.is_full());
        assert!(matches!(
            a.try_append(1 << 20, 1.0),
            Err(Error::TooManySamples { .. })
        ));
        assert_eq!(a.iter().count(), MAX_SAMPLES);
    }
}
