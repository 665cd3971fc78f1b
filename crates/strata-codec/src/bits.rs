//! Bit streams written and read most-significant bit first, as Prometheus' `bstream` does.
//!
//! The writer appends to a `Vec<u8>` and leaves the unused low bits of the last byte zero. The
//! reader works on a borrowed slice; it reads whole 64-bit words where it can and never reads past
//! the end of the slice (missing bits are an error, not a panic).

use crate::error::{Error, Result};

/// Appends bits to a byte vector, most significant bit first.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    /// Unused low bits in the last byte of `buf` (0 to 7).
    free: u32,
}

impl BitWriter {
    /// Returns a writer that appends after the existing bytes of `buf` (which end byte-aligned).
    pub(crate) fn with_bytes(buf: Vec<u8>) -> Self {
        BitWriter { buf, free: 0 }
    }

    /// Returns the bytes written so far (the last byte padded with zero bits).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Returns mutable access to the bytes, for patching byte-aligned headers in place.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Consumes the writer and returns its bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Returns the number of bits written, counting bytes present before the writer started.
    pub(crate) fn bit_len(&self) -> usize {
        self.buf.len() * 8 - self.free as usize
    }

    /// Appends one bit.
    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Appends the low `n` bits of `v` (`n` in 0..=64), highest first.
    #[inline]
    pub(crate) fn write_bits(&mut self, v: u64, n: u32) {
        if n == 0 {
            return;
        }
        let mut n = n.min(64);
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        if self.free > 0 {
            let take = self.free.min(n);
            let top = ((v >> (n - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.buf.last_mut() {
                *last |= top << (self.free - take);
            }
            self.free -= take;
            n -= take;
            if n == 0 {
                return;
            }
        }
        while n >= 8 {
            n -= 8;
            self.buf.push((v >> n) as u8);
        }
        if n > 0 {
            self.buf.push((v as u8) << (8 - n));
            self.free = 8 - n;
        }
    }
}

/// Reads bits from a byte slice, most significant bit first.
///
/// Keeps a 64-bit window of upcoming bits, left-aligned in `buf`, refilled with one 8-byte load
/// when it runs low, so most reads are a shift and a compare. Bits of `buf` below the `avail`
/// counted ones are either zero or the true following bits, so a refill that ORs the same bytes
/// in again is harmless.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Index of the first byte not yet loaded into `buf`.
    next: usize,
    buf: u64,
    /// Number of valid bits at the top of `buf`.
    avail: u32,
}

impl<'a> BitReader<'a> {
    /// Returns a reader at the first bit of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        let mut r = BitReader {
            data,
            next: 0,
            buf: 0,
            avail: 0,
        };
        r.refill();
        r
    }

    /// Returns a reader at bit `bit` of `data` (past the end: a reader with nothing left).
    pub(crate) fn at_bit(data: &'a [u8], bit: usize) -> Self {
        let mut r = BitReader::new(data.get(bit / 8..).unwrap_or(&[]));
        // Cannot fail when bit is inside data; past the end the reader is simply empty.
        let _ = r.skip((bit % 8) as u32, "bit offset");
        r
    }

    /// Returns the number of bits consumed since the start of the slice the reader was made on.
    pub(crate) fn consumed(&self) -> usize {
        self.next * 8 - self.avail as usize
    }

    /// Returns the number of bits not yet read.
    #[cfg(test)]
    pub(crate) fn remaining(&self) -> usize {
        self.avail as usize + (self.data.len() - self.next) * 8
    }

    /// Tops the window up to at least 57 bits, or to the end of the data.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(s) = self.data.get(self.next..self.next + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            self.buf |= u64::from_be_bytes(w) >> self.avail;
            let take = (63 - self.avail) >> 3;
            self.next += take as usize;
            self.avail += take * 8;
        } else {
            self.refill_tail();
        }
    }

    /// Loads the last bytes one at a time.
    #[inline(never)]
    fn refill_tail(&mut self) {
        while self.avail <= 56 {
            let Some(&b) = self.data.get(self.next) else {
                return;
            };
            self.buf |= u64::from(b) << (56 - self.avail);
            self.next += 1;
            self.avail += 8;
        }
    }

    /// Returns the next `n` bits (`n` in 1..=56) without consuming them; bits past the end read
    /// as zero.
    #[inline(always)]
    pub(crate) fn peek(&mut self, n: u32) -> u64 {
        debug_assert!((1..=56).contains(&n));
        if self.avail < n {
            self.refill();
        }
        self.buf >> (64 - n)
    }

    /// Consumes `n` bits (`n` in 0..=56), failing if fewer remain.
    #[inline(always)]
    pub(crate) fn skip(&mut self, n: u32, what: &'static str) -> Result<()> {
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return Err(Error::truncated(what));
            }
        }
        self.buf <<= n;
        self.avail -= n;
        Ok(())
    }

    /// Reads one bit.
    #[cfg(test)]
    pub(crate) fn read_bit(&mut self, what: &'static str) -> Result<bool> {
        Ok(self.read_bits(1, what)? == 1)
    }

    /// Reads `n` bits (`n` in 0..=64) as the low bits of the result.
    #[inline(always)]
    pub(crate) fn read_bits(&mut self, n: u32, what: &'static str) -> Result<u64> {
        if n.wrapping_sub(1) < 56 {
            if self.avail < n {
                self.refill();
                if self.avail < n {
                    return Err(Error::truncated(what));
                }
            }
            let v = self.buf >> (64 - n);
            self.buf <<= n;
            self.avail -= n;
            return Ok(v);
        }
        self.read_bits_wide(n, what)
    }

    /// Reads 0 or 57..=64 bits.
    #[inline(never)]
    fn read_bits_wide(&mut self, n: u32, what: &'static str) -> Result<u64> {
        if n == 0 {
            return Ok(0);
        }
        let n = n.min(64);
        let hi = self.read_bits(32, what)?;
        let lo = self.read_bits(n - 32, what)?;
        Ok((hi << (n - 32)) | lo)
    }

    /// Reads an unsigned LEB128 varint stored as whole bytes at the current bit position.
    pub(crate) fn read_uvarint(&mut self, what: &'static str) -> Result<u64> {
        let mut x: u64 = 0;
        let mut shift = 0u32;
        for i in 0..10 {
            let byte = self.read_bits(8, what)?;
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(Error::corrupt("varint overflows 64 bits"));
                }
                return Ok(x | (byte << shift));
            }
            x |= (byte & 0x7f) << shift;
            shift += 7;
        }
        Err(Error::corrupt("varint overflows 64 bits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_mixed_widths() {
        let mut w = BitWriter::default();
        let items: Vec<(u64, u32)> = (0..200u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15), (i % 65) as u32))
            .collect();
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        let total: usize = items.iter().map(|&(_, n)| n as usize).sum();
        assert_eq!(w.bit_len(), total);
        let bytes = w.into_bytes();
        let mut r = BitReader::new(&bytes);
        for &(v, n) in &items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n, "x").unwrap(), v & mask, "width {n}");
        }
        assert!(r.remaining() < 8);
    }

    #[test]
    fn reading_past_the_end_fails() {
        let mut r = BitReader::new(&[0xab]);
        assert_eq!(r.read_bits(4, "x").unwrap(), 0xa);
        assert!(r.read_bits(5, "x").is_err());
        assert_eq!(r.read_bits(4, "x").unwrap(), 0xb);
        assert!(r.read_bit("x").is_err());
    }
}
