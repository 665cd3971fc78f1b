//! Go-compatible varints (`encoding/binary` `PutUvarint`/`PutVarint`): LEB128, zig-zag for signed.

use crate::error::{Error, Result};

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends `v` zig-zag encoded as a varint, as Go's `binary.PutVarint` does.
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, zigzag(v));
}

/// Maps a signed integer to an unsigned one so that small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverts [`zigzag`].
#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Reads an unsigned varint at `*pos`, advancing it. Rejects overlong encodings as Go does.
pub(crate) fn get_uvarint(b: &[u8], pos: &mut usize, what: &'static str) -> Result<u64> {
    let mut x: u64 = 0;
    let mut shift = 0u32;
    for i in 0..10 {
        let Some(&byte) = b.get(*pos + i) else {
            return Err(Error::truncated(what));
        };
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return Err(Error::corrupt("varint overflows 64 bits"));
            }
            *pos += i + 1;
            return Ok(x | (u64::from(byte) << shift));
        }
        x |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    Err(Error::corrupt("varint overflows 64 bits"))
}

/// Reads a zig-zag varint at `*pos`, advancing it.
pub(crate) fn get_varint(b: &[u8], pos: &mut usize, what: &'static str) -> Result<i64> {
    get_uvarint(b, pos, what).map(unzigzag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_extremes() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i64::MAX,
            i64::MIN,
            1_700_000_000_000,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut p = 0;
            assert_eq!(get_varint(&b, &mut p, "t").unwrap(), v);
            assert_eq!(p, b.len());
        }
        let mut b = Vec::new();
        put_uvarint(&mut b, u64::MAX);
        assert_eq!(b.len(), 10);
        let mut p = 0;
        assert_eq!(get_uvarint(&b, &mut p, "t").unwrap(), u64::MAX);
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        let mut p = 0;
        assert!(get_uvarint(&[0x80], &mut p, "t").is_err());
        let mut p = 0;
        assert!(get_uvarint(&[0xff; 11], &mut p, "t").is_err());
        let mut p = 0;
        let mut b = vec![0xff; 9];
        b.push(2);
        assert!(get_uvarint(&b, &mut p, "t").is_err());
    }
}
