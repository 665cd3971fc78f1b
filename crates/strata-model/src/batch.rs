//! The write batch for one shard: the payload of one Raft log entry.
//!
//! Ingest validates a remote_write request, hashes each series, and encodes the series of one
//! shard into a [`ShardBatch`]. The same bytes are the Raft entry, so the log holds exactly what
//! the state machine applies. Layout (all integers little-endian unless uvarint):
//!
//! ```text
//! u8 version (=1)
//! uvarint series_count
//! series_count × {
//!     u64 series id
//!     uvarint len(labels)  canonical label bytes (see labels.rs)
//!     uvarint sample_count
//!     sample_count × { i64 timestamp_ms, u64 value_bits }
//! }
//! ```

use crate::labels::{get_uvarint, put_uvarint};
use crate::{Sample, SeriesId};

const VERSION: u8 = 1;

/// A batch's bytes are malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Unknown version byte.
    #[error("unknown shard batch version {0}")]
    Version(u8),
    /// Bytes end early or have trailing garbage.
    #[error("malformed shard batch")]
    Malformed,
}

/// Builds a [`ShardBatch`].
#[derive(Debug)]
pub struct ShardBatchBuilder {
    series: u64,
    samples: u64,
    body: Vec<u8>,
}

impl Default for ShardBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ShardBatchBuilder {
    /// Returns an empty builder.
    pub fn new() -> Self {
        ShardBatchBuilder {
            series: 0,
            samples: 0,
            body: Vec::new(),
        }
    }

    /// Appends one series with its samples.
    pub fn push_series(&mut self, id: SeriesId, canonical_labels: &[u8], samples: &[Sample]) {
        self.series += 1;
        self.samples += samples.len() as u64;
        self.body.extend_from_slice(&id.0.to_le_bytes());
        put_uvarint(&mut self.body, canonical_labels.len() as u64);
        self.body.extend_from_slice(canonical_labels);
        put_uvarint(&mut self.body, samples.len() as u64);
        self.body.reserve(samples.len() * 16);
        for s in samples {
            self.body.extend_from_slice(&s.t.to_le_bytes());
            self.body.extend_from_slice(&s.v.to_bits().to_le_bytes());
        }
    }

    /// Returns the number of series pushed so far.
    pub fn series_count(&self) -> u64 {
        self.series
    }

    /// Returns the number of samples pushed so far.
    pub fn sample_count(&self) -> u64 {
        self.samples
    }

    /// Finishes the batch.
    pub fn finish(self) -> ShardBatch {
        let mut bytes = Vec::with_capacity(self.body.len() + 11);
        bytes.push(VERSION);
        put_uvarint(&mut bytes, self.series);
        bytes.extend_from_slice(&self.body);
        ShardBatch {
            bytes,
            series: self.series,
            samples: self.samples,
        }
    }
}

/// An encoded, validated batch of series and samples for one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardBatch {
    bytes: Vec<u8>,
    series: u64,
    samples: u64,
}

/// One series of a batch, borrowed from its bytes.
#[derive(Debug, Clone, Copy)]
pub struct BatchSeries<'a> {
    /// The series id (hash of `labels`).
    pub id: SeriesId,
    /// Canonical label bytes.
    pub labels: &'a [u8],
    raw_samples: &'a [u8],
}

impl<'a> BatchSeries<'a> {
    /// Returns the number of samples.
    pub fn sample_count(&self) -> usize {
        self.raw_samples.len() / 16
    }

    /// Iterates the samples in the order they were pushed.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = Sample> + 'a {
        self.raw_samples.chunks_exact(16).map(|c| {
            let mut t = [0u8; 8];
            let mut v = [0u8; 8];
            t.copy_from_slice(&c[..8]);
            v.copy_from_slice(&c[8..]);
            Sample::new(i64::from_le_bytes(t), f64::from_bits(u64::from_le_bytes(v)))
        })
    }
}

impl ShardBatch {
    /// Parses and validates batch bytes (for example a Raft entry read back from disk).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, BatchError> {
        let (series, samples) = walk(&bytes, |_| {})?;
        Ok(ShardBatch {
            bytes,
            series,
            samples,
        })
    }

    /// Returns the encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the batch and returns its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Returns the number of series.
    pub fn series_count(&self) -> u64 {
        self.series
    }

    /// Returns the number of samples.
    pub fn sample_count(&self) -> u64 {
        self.samples
    }

    /// Calls `f` for every series in order.
    pub fn for_each_series(&self, f: impl FnMut(BatchSeries<'_>)) {
        // The bytes were validated on construction, so the walk cannot fail here.
        let _ = walk(&self.bytes, f);
    }

    /// Returns the series in order.
    pub fn series(&self) -> Vec<BatchSeries<'_>> {
        let mut out = Vec::with_capacity(self.series as usize);
        let _ = walk(&self.bytes, |s| out.push(s));
        out
    }
}

fn walk<'a>(bytes: &'a [u8], mut f: impl FnMut(BatchSeries<'a>)) -> Result<(u64, u64), BatchError> {
    let (&version, mut rest) = bytes.split_first().ok_or(BatchError::Malformed)?;
    if version != VERSION {
        return Err(BatchError::Version(version));
    }
    let uvarint = |rest: &mut &'a [u8]| -> Result<usize, BatchError> {
        let (v, n) = get_uvarint(rest).ok_or(BatchError::Malformed)?;
        *rest = &rest[n..];
        usize::try_from(v).map_err(|_| BatchError::Malformed)
    };
    let count = uvarint(&mut rest)?;
    let mut samples = 0u64;
    for _ in 0..count {
        if rest.len() < 8 {
            return Err(BatchError::Malformed);
        }
        let (id, r) = rest.split_at(8);
        rest = r;
        let mut idb = [0u8; 8];
        idb.copy_from_slice(id);
        let llen = uvarint(&mut rest)?;
        if rest.len() < llen {
            return Err(BatchError::Malformed);
        }
        let (labels, r) = rest.split_at(llen);
        rest = r;
        let n = uvarint(&mut rest)?;
        let slen = n.checked_mul(16).ok_or(BatchError::Malformed)?;
        if rest.len() < slen {
            return Err(BatchError::Malformed);
        }
        let (raw, r) = rest.split_at(slen);
        rest = r;
        samples += n as u64;
        f(BatchSeries {
            id: SeriesId(u64::from_le_bytes(idb)),
            labels,
            raw_samples: raw,
        });
    }
    if !rest.is_empty() {
        return Err(BatchError::Malformed);
    }
    Ok((count as u64, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, stale_nan};

    #[test]
    fn round_trips_series_and_exact_values() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]).unwrap();
        let c = l.to_canonical();
        let mut b = ShardBatchBuilder::new();
        b.push_series(
            l.series_id(),
            &c,
            &[Sample::new(1, 1.5), Sample::new(2, stale_nan())],
        );
        b.push_series(SeriesId(7), b"", &[]);
        let batch = ShardBatch::from_bytes(b.finish().into_bytes()).unwrap();
        assert_eq!(batch.series_count(), 2);
        assert_eq!(batch.sample_count(), 2);
        let s = batch.series();
        assert_eq!(s[0].id, l.series_id());
        assert_eq!(s[0].labels, &c[..]);
        let got: Vec<Sample> = s[0].samples().collect();
        assert_eq!(got, vec![Sample::new(1, 1.5), Sample::new(2, stale_nan())]);
    }

    #[test]
    fn rejects_truncated_bytes() {
        let mut b = ShardBatchBuilder::new();
        b.push_series(SeriesId(1), b"\x01a\x01b", &[Sample::new(1, 1.0)]);
        let bytes = b.finish().into_bytes();
        for cut in 0..bytes.len() {
            assert!(ShardBatch::from_bytes(bytes[..cut].to_vec()).is_err());
        }
    }
}
