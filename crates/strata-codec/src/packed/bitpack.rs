//! Fixed-width bit packing of up to [`BLOCK`] unsigned integers, least significant bit first.
//!
//! Value `j` of width `w` occupies bits `j*w .. (j+1)*w` of the little-endian bit string, so a
//! block of `k` values takes `ceil(k*w/8)` bytes. Unpacking copies the bytes into a zero-padded
//! stack buffer and then reads every value with one unaligned 8- or 16-byte load, with the width
//! a compile-time constant (one monomorphised loop per width), so the hot loop has no branches
//! and no bounds checks that survive optimisation.

/// Number of samples per packed block.
pub(crate) const BLOCK: usize = 128;

/// Size of the padded scratch buffer: the largest block (128 values × 8 bytes) plus slack for a
/// 16-byte load at the last value.
const PADDED: usize = BLOCK * 8 + 16;

/// Returns the number of bytes that `count` values of `width` bits occupy.
#[inline]
pub(crate) fn packed_len(count: usize, width: u32) -> usize {
    (count * width as usize).div_ceil(8)
}

/// Returns the number of bits needed to hold `max`.
#[inline]
pub(crate) fn width_of(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// Appends `values` packed at `width` bits each (every value must fit in `width` bits).
pub(crate) fn pack(values: &[u64], width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let start = out.len();
    let mut acc: u128 = 0;
    let mut nbits: u32 = 0;
    for &v in values {
        acc |= u128::from(v) << nbits;
        nbits += width;
        while nbits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        out.push(acc as u8);
    }
    debug_assert_eq!(out.len() - start, packed_len(values.len(), width));
}

/// Unpacks `BLOCK` values of width `W` from a padded buffer.
#[inline(always)]
fn unpack_w<const W: u32>(src: &[u8; PADDED], out: &mut [u64; BLOCK]) {
    let mask: u64 = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    for (j, o) in out.iter_mut().enumerate() {
        let bit = j * W as usize;
        let byte = bit >> 3;
        let shift = (bit & 7) as u32;
        *o = if W <= 56 {
            let mut w = [0u8; 8];
            w.copy_from_slice(&src[byte..byte + 8]);
            (u64::from_le_bytes(w) >> shift) & mask
        } else {
            let mut w = [0u8; 16];
            w.copy_from_slice(&src[byte..byte + 16]);
            ((u128::from_le_bytes(w) >> shift) as u64) & mask
        };
    }
}

macro_rules! dispatch {
    ($w:expr, $src:expr, $out:expr, $($n:literal)*) => {
        match $w {
            $($n => unpack_w::<$n>($src, $out),)*
            _ => unpack_w::<64>($src, $out),
        }
    };
}

/// Unpacks `count` (≤ [`BLOCK`]) values of `width` (≤ 64) bits from `bytes` into `out`;
/// `bytes` must hold at least [`packed_len`]`(count, width)` bytes. Entries of `out` past
/// `count` are unspecified.
pub(crate) fn unpack(bytes: &[u8], count: usize, width: u32, out: &mut [u64; BLOCK]) {
    if width == 0 {
        out.fill(0);
        return;
    }
    let mut buf = [0u8; PADDED];
    let len = packed_len(count.min(BLOCK), width.min(64)).min(bytes.len());
    buf[..len].copy_from_slice(&bytes[..len]);
    dispatch!(width, &buf, out,
        1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks_every_width() {
        for width in 0..=64u32 {
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            for count in [0usize, 1, 7, 63, 127, 128] {
                let values: Vec<u64> = (0..count as u64)
                    .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(i as u32) & mask)
                    .collect();
                let mut bytes = Vec::new();
                pack(&values, width, &mut bytes);
                assert_eq!(bytes.len(), packed_len(count, width));
                let mut out = [0u64; BLOCK];
                unpack(&bytes, count, width, &mut out);
                assert_eq!(&out[..count], &values[..], "width {width} count {count}");
            }
        }
    }
}
