//! Closed chunks: an encoding tag, the encoded bytes, and the time range and count they cover.

use crate::error::{Error, Result};
use crate::packed;
use crate::varint::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::xor::{XOR_HEADER_LEN, XorAppender, XorIter};
use crate::{ChunkIter, MAX_SAMPLES};

/// How a chunk's samples are encoded; stored as the first byte of [`Chunk::to_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// Prometheus' XOR (Gorilla) encoding, byte-compatible with `tsdb/chunkenc/xor.go`.
    Xor = 1,
    /// Strata's columnar encoding for closed chunks: a regular timestamp grid with exceptions,
    /// and values as exact scaled decimals (delta + frame-of-reference bit packing in blocks),
    /// a constant, or XOR bits. See `docs/format/chunks.md`.
    Packed = 2,
}

impl Encoding {
    /// Returns the encoding for a stored tag byte.
    pub fn from_u8(b: u8) -> Result<Encoding> {
        match b {
            1 => Ok(Encoding::Xor),
            2 => Ok(Encoding::Packed),
            other => Err(Error::UnknownEncoding(other)),
        }
    }
}

/// An immutable chunk of samples of one series.
///
/// `min_time` and `max_time` are the first and last timestamps (samples are in time order);
/// both are 0 for an empty chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    encoding: Encoding,
    data: Vec<u8>,
    min_time: i64,
    max_time: i64,
    num_samples: usize,
}

impl Chunk {
    pub(crate) fn from_parts_xor(data: Vec<u8>, min_time: i64, max_time: i64, n: usize) -> Chunk {
        Chunk {
            encoding: Encoding::Xor,
            data,
            min_time,
            max_time,
            num_samples: n,
        }
    }

    /// Wraps Prometheus-compatible XOR chunk bytes, decoding them once to validate them and to
    /// find the time range.
    pub fn from_xor(bytes: Vec<u8>) -> Result<Chunk> {
        let mut it = XorIter::new(&bytes);
        let total = it.total();
        let mut first = None;
        let mut last = 0;
        for (t, _) in it.by_ref() {
            first.get_or_insert(t);
            last = t;
        }
        if let Some(e) = it.error() {
            return Err(e.clone());
        }
        Ok(Chunk::from_parts_xor(
            bytes,
            first.unwrap_or(0),
            last,
            total,
        ))
    }

    /// Encodes samples (in time order) as a closed chunk, choosing the smallest exact encoding.
    ///
    /// # Panics
    ///
    /// Panics if `samples.len() > MAX_SAMPLES`; use [`Chunk::try_encode`] to get an error instead.
    pub fn encode(samples: &[(i64, f64)]) -> Chunk {
        match Chunk::try_encode(samples) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// Encodes samples like [`Chunk::encode`], failing when there are more than [`MAX_SAMPLES`].
    pub fn try_encode(samples: &[(i64, f64)]) -> Result<Chunk> {
        if samples.len() > MAX_SAMPLES {
            return Err(Error::TooManySamples {
                got: samples.len(),
                max: MAX_SAMPLES,
            });
        }
        let (min_time, max_time) = match (samples.first(), samples.last()) {
            (Some(f), Some(l)) => (f.0, l.0),
            _ => (0, 0),
        };
        let xor = Chunk::encode_xor(samples)?;
        Ok(Chunk::packed_if_smaller(samples, min_time, max_time, xor))
    }

    /// Returns the `Packed` encoding of `samples` when it is smaller than `xor` (their XOR
    /// chunk), else `xor`.
    fn packed_if_smaller(
        samples: &[(i64, f64)],
        min_time: i64,
        max_time: i64,
        xor: Chunk,
    ) -> Chunk {
        if samples.len() >= 2
            && let Some(p) = packed::encode(samples)
            && p.len() < xor.data.len()
        {
            return Chunk {
                encoding: Encoding::Packed,
                data: p,
                min_time,
                max_time,
                num_samples: samples.len(),
            };
        }
        xor
    }

    /// Returns this chunk in the smallest exact encoding, as [`Chunk::try_encode`] of its samples
    /// would: the same bytes, but an XOR chunk is not encoded a second time just to learn its
    /// size (decoding costs about a third of encoding). Fails on damaged bytes.
    pub fn recoded(&self) -> Result<Chunk> {
        let mut it = self.iter();
        let samples: Vec<(i64, f64)> = it.by_ref().collect();
        if let Some(e) = it.error() {
            return Err(e.clone());
        }
        if self.encoding != Encoding::Xor {
            return Chunk::try_encode(&samples);
        }
        Ok(Chunk::packed_if_smaller(
            &samples,
            self.min_time,
            self.max_time,
            self.clone(),
        ))
    }

    /// Encodes samples in Prometheus' XOR encoding only.
    pub fn encode_xor(samples: &[(i64, f64)]) -> Result<Chunk> {
        let mut a = XorAppender::new();
        for &(t, v) in samples {
            a.try_append(t, v)?;
        }
        Ok(a.to_chunk())
    }

    /// Returns the encoding of this chunk.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Returns the number of samples.
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }

    /// Returns the first sample's timestamp (0 when empty).
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// Returns the last sample's timestamp (0 when empty).
    pub fn max_time(&self) -> i64 {
        self.max_time
    }

    /// Returns the encoded payload (without the [`Chunk::to_bytes`] envelope).
    pub fn payload(&self) -> &[u8] {
        &self.data
    }

    /// Returns the size of [`Chunk::to_bytes`] without building it.
    pub fn size_bytes(&self) -> usize {
        let mut hdr = Vec::with_capacity(24);
        self.write_header(&mut hdr);
        hdr.len() + self.data.len()
    }

    fn write_header(&self, out: &mut Vec<u8>) {
        out.push(self.encoding as u8);
        put_uvarint(out, self.num_samples as u64);
        put_varint(out, self.min_time);
        put_uvarint(out, self.max_time.wrapping_sub(self.min_time) as u64);
    }

    /// Serialises the chunk: encoding byte, uvarint sample count, varint min time, uvarint
    /// `max_time - min_time`, then the payload (see `docs/format/chunks.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 24);
        self.write_header(&mut out);
        out.extend_from_slice(&self.data);
        out
    }

    /// Parses bytes written by [`Chunk::to_bytes`]. Checks the envelope and the payload's
    /// headers; damage inside the payload surfaces while iterating ([`ChunkIter::error`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Chunk> {
        let Some(&tag) = bytes.first() else {
            return Err(Error::truncated("chunk encoding"));
        };
        let encoding = Encoding::from_u8(tag)?;
        let mut pos = 1;
        let n = get_uvarint(bytes, &mut pos, "chunk sample count")?;
        if n > MAX_SAMPLES as u64 {
            return Err(Error::corrupt("sample count above the chunk limit"));
        }
        let min_time = get_varint(bytes, &mut pos, "chunk min time")?;
        let span = get_uvarint(bytes, &mut pos, "chunk time span")?;
        let data = bytes.get(pos..).unwrap_or(&[]).to_vec();
        let chunk = Chunk {
            encoding,
            data,
            min_time,
            max_time: min_time.wrapping_add(span as i64),
            num_samples: n as usize,
        };
        match encoding {
            Encoding::Xor => {
                if chunk.data.len() < XOR_HEADER_LEN
                    || usize::from(u16::from_be_bytes([chunk.data[0], chunk.data[1]]))
                        != chunk.num_samples
                {
                    return Err(Error::corrupt("xor sample count disagrees with envelope"));
                }
            }
            Encoding::Packed => packed::validate_header(&chunk.data, chunk.num_samples)?,
        }
        Ok(chunk)
    }

    /// Returns an iterator over the samples.
    pub fn iter(&self) -> ChunkIter<'_> {
        match self.encoding {
            Encoding::Xor => ChunkIter::from_xor_iter(XorIter::new(&self.data)),
            Encoding::Packed => ChunkIter::from_packed(packed::PackedIter::new(
                &self.data,
                self.num_samples,
                self.min_time,
            )),
        }
    }

    /// Returns the samples as Prometheus XOR chunk bytes (re-encoding if needed), for streaming
    /// to Prometheus (remote_read `STREAMED_XOR_CHUNKS`). Samples lost to corruption are
    /// omitted.
    pub fn to_xor_bytes(&self) -> Vec<u8> {
        match self.encoding {
            Encoding::Xor => self.data.clone(),
            Encoding::Packed => {
                let mut a = XorAppender::new();
                for (t, v) in self.iter() {
                    if a.try_append(t, v).is_err() {
                        break;
                    }
                }
                a.bytes().to_vec()
            }
        }
    }
}
