//! Framing of `STREAMED_XOR_CHUNKS` remote read responses.
//!
//! Each frame is `uvarint(len(msg))`, the CRC-32C (Castagnoli) of `msg` as 4 big-endian bytes,
//! then `msg`: one protobuf [`ChunkedReadResponse`].

use prost::Message;

use crate::error::{Error, Result};
use crate::remote::ChunkedReadResponse;

const CASTAGNOLI_REFLECTED: u32 = 0x82F6_3B78;

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CASTAGNOLI_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Returns the CRC-32C (Castagnoli) checksum of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Appends one frame holding `msg` to `out`.
pub fn encode_frame(msg: &ChunkedReadResponse, out: &mut Vec<u8>) {
    let body = msg.encode_to_vec();
    strata_model::labels::put_uvarint(out, body.len() as u64);
    out.extend_from_slice(&crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
}

/// Decodes the frame at the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a frame (read more and call again), or the
/// message and the bytes it used. A frame longer than `max_frame_bytes` or failing its checksum
/// is an error.
pub fn decode_frame(
    buf: &[u8],
    max_frame_bytes: usize,
) -> Result<Option<(ChunkedReadResponse, usize)>> {
    let Some((len, n)) = strata_model::labels::get_uvarint(buf) else {
        if buf.len() >= 10 {
            return Err(Error::Frame("frame length varint is too long"));
        }
        return Ok(None);
    };
    let len = usize::try_from(len).map_err(|_| Error::Frame("frame length overflows"))?;
    if len > max_frame_bytes {
        return Err(Error::Frame("frame exceeds the size limit"));
    }
    let total = n + 4 + len;
    if buf.len() < total {
        return Ok(None);
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&buf[n..n + 4]);
    let body = &buf[n + 4..total];
    if u32::from_be_bytes(crc) != crc32c(body) {
        return Err(Error::Frame("checksum mismatch"));
    }
    Ok(Some((ChunkedReadResponse::decode(body)?, total)))
}

/// Decodes a complete stream of frames.
pub fn decode_frames(mut buf: &[u8], max_frame_bytes: usize) -> Result<Vec<ChunkedReadResponse>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        match decode_frame(buf, max_frame_bytes)? {
            Some((msg, used)) => {
                out.push(msg);
                buf = &buf[used..];
            }
            None => return Err(Error::Frame("stream ends inside a frame")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChunkedSeries, Label};

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn frames_round_trip_and_detect_corruption() {
        let msg = ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![Label::new("__name__", "up")],
                chunks: Vec::new(),
            }],
            query_index: 3,
        };
        let mut buf = Vec::new();
        encode_frame(&msg, &mut buf);
        encode_frame(&msg, &mut buf);
        let got = decode_frames(&buf, 1 << 20).unwrap();
        assert_eq!(got, vec![msg.clone(), msg]);
        for cut in 1..buf.len() / 2 {
            assert!(matches!(decode_frame(&buf[..cut], 1 << 20), Ok(None)));
        }
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert!(decode_frames(&buf, 1 << 20).is_err());
        assert!(decode_frame(&buf, 2).is_err());
    }
}
