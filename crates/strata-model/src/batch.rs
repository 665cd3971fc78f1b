//! The write batch for one shard: the payload of one Raft log entry.
//!
//! Ingest validates a remote_write request, hashes each series, and encodes the series of one
//! shard into a [`ShardBatch`]. The node's write path then replaces the labels of every series the
//! shard already knows by a reference (see below), and the result is the Raft entry: the log holds
//! exactly what the state machine applies. Layout of version 2, the one written (all integers
//! little-endian unless varint; `zvarint` is a zigzag-encoded signed LEB128 varint):
//!
//! ```text
//! u8  version (=2)
//! u32 series_count
//! i64 base_t                       timestamp the first delta of every series is taken from
//! series_count × {
//!     u8  kind                     0 labels; references: 1 ordinal 0, 2 ordinal byte follows,
//!                                  3 ordinal 0 + slot hint, 4 ordinal byte + slot hint
//!     u64 series id
//!     kind 0: uvarint len(labels)  canonical label bytes (see labels.rs)
//!     kind 2, 4: u8 ordinal
//!     kind 3, 4: uvarint slot hint
//!     uvarint sample_count
//!     sample_count × { zvarint Δt, u64 value_bits }
//!                                  Δt: first sample − base_t, then − the previous sample's t
//! }
//! ```
//!
//! A *reference* `(id, ordinal)` names the label set to which the receiving shard gave the
//! series ref `(id, ordinal)` (its hash and collision ordinal; ordinals are unique per id within
//! a shard and never change while the shard knows the label set). It costs 9–10 bytes instead
//! of the ~100 bytes of canonical labels, which matters because Prometheus sends one sample per
//! series per request. The writer only emits a reference after finding that exact label set under
//! that ref in the shard, and the shard resolves it deterministically at apply time. The *slot
//! hint* is where the writer found the series in the head's series table: apply checks that the
//! series there still has the ref and otherwise looks the ref up, so a stale hint (after a
//! restart, on another replica) costs a lookup and never changes the outcome.
//!
//! Version 1 (still read, for logs written before version 2): `u8 1 ‖ uvarint series_count ‖
//! series × { u64 id ‖ uvarint len ‖ labels ‖ uvarint n ‖ n × { i64 t ‖ u64 value_bits } }`.

use std::sync::Arc;

use crate::labels::{get_uvarint, put_uvarint};
use crate::{Sample, SeriesId};

const V1: u8 = 1;
const V2: u8 = 2;
/// Bytes of the version 2 header: version, series count, base timestamp.
const V2_HEADER: usize = 1 + 4 + 8;

const KIND_LABELS: u8 = 0;
const KIND_REF0: u8 = 1;
const KIND_REF: u8 = 2;
const KIND_REF0_HINT: u8 = 3;
const KIND_REF_HINT: u8 = 4;

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

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Builds a [`ShardBatch`] (version 2).
#[derive(Debug)]
pub struct ShardBatchBuilder {
    series: u64,
    samples: u64,
    /// The base timestamp, fixed by the first sample pushed (or by [`Self::with_base`]).
    base: Option<i64>,
    /// Header placeholder followed by the series.
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
            base: None,
            body: vec![0; V2_HEADER],
        }
    }

    /// Returns an empty builder with room for `bytes` bytes of series.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut b = Self::new();
        b.body.reserve(bytes);
        b
    }

    /// Returns an empty builder whose base timestamp is `base`; series copied from a batch with
    /// the same base are copied without re-encoding their samples ([`Self::push_copy`]).
    pub fn with_base(base: i64, capacity: usize) -> Self {
        let mut b = Self::with_capacity(capacity);
        b.base = Some(base);
        b
    }

    /// Appends one series, named by its canonical labels, with its samples.
    pub fn push_series(&mut self, id: SeriesId, canonical_labels: &[u8], samples: &[Sample]) {
        self.body.push(KIND_LABELS);
        self.body.extend_from_slice(&id.0.to_le_bytes());
        put_uvarint(&mut self.body, canonical_labels.len() as u64);
        self.body.extend_from_slice(canonical_labels);
        self.put_samples(samples.iter().copied(), samples.len());
    }

    /// Appends one series, named by the reference `(id, ord)` (see the module docs), with its
    /// samples.
    pub fn push_ref(&mut self, id: SeriesId, ord: u8, samples: &[Sample]) {
        self.put_ref_head(id, ord, None);
        self.put_samples(samples.iter().copied(), samples.len());
    }

    fn put_ref_head(&mut self, id: SeriesId, ord: u8, hint: Option<u32>) {
        let kind = match (ord, hint) {
            (0, None) => KIND_REF0,
            (_, None) => KIND_REF,
            (0, Some(_)) => KIND_REF0_HINT,
            (_, Some(_)) => KIND_REF_HINT,
        };
        self.body.push(kind);
        self.body.extend_from_slice(&id.0.to_le_bytes());
        if ord != 0 {
            self.body.push(ord);
        }
        if let Some(h) = hint {
            put_uvarint(&mut self.body, u64::from(h));
        }
    }

    /// Appends `s` (a series of another batch) as it is, or, with `reference = Some((ord,
    /// hint))`, as the reference `(s.id, ord)` with an optional slot hint. Its sample bytes are
    /// copied verbatim when both batches share the base timestamp.
    pub fn push_copy(&mut self, s: &BatchSeries<'_>, reference: Option<(u8, Option<u32>)>) {
        match (reference, s.reference) {
            (Some((ord, hint)), _) => self.put_ref_head(s.id, ord, hint),
            (None, Some(ord)) => self.put_ref_head(s.id, ord, s.slot_hint),
            (None, None) => {
                self.body.push(KIND_LABELS);
                self.body.extend_from_slice(&s.id.0.to_le_bytes());
                put_uvarint(&mut self.body, s.labels.len() as u64);
                self.body.extend_from_slice(s.labels);
            }
        }
        if s.format == Format::V2 && *self.base.get_or_insert(s.base) == s.base {
            self.series += 1;
            self.samples += s.count as u64;
            put_uvarint(&mut self.body, s.count as u64);
            self.body.extend_from_slice(s.raw);
        } else {
            self.put_samples(s.samples(), s.count);
        }
    }

    fn put_samples(&mut self, samples: impl Iterator<Item = Sample>, n: usize) {
        self.series += 1;
        self.samples += n as u64;
        put_uvarint(&mut self.body, n as u64);
        self.body.reserve(n * 10);
        let mut prev = None;
        for s in samples {
            let base = match prev {
                Some(p) => p,
                None => *self.base.get_or_insert(s.t),
            };
            put_uvarint(&mut self.body, zigzag(s.t.wrapping_sub(base)));
            self.body.extend_from_slice(&s.v.to_bits().to_le_bytes());
            prev = Some(s.t);
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

    /// Returns the number of bytes the batch has so far.
    pub fn len_bytes(&self) -> usize {
        self.body.len()
    }

    /// Finishes the batch. (Its series count is a `u32`: request limits keep batches far
    /// below that.)
    pub fn finish(self) -> ShardBatch {
        let mut bytes = self.body;
        let count = u32::try_from(self.series).unwrap_or(u32::MAX);
        bytes[0] = V2;
        bytes[1..5].copy_from_slice(&count.to_le_bytes());
        bytes[5..13].copy_from_slice(&self.base.unwrap_or(0).to_le_bytes());
        ShardBatch {
            bytes: Arc::new(bytes),
            series: self.series,
            samples: self.samples,
        }
    }
}

/// An encoded, validated batch of series and samples for one shard. Cheap to clone (the bytes
/// are shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardBatch {
    bytes: Arc<Vec<u8>>,
    series: u64,
    samples: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V1,
    V2,
}

/// One series of a batch, borrowed from its bytes.
#[derive(Debug, Clone, Copy)]
pub struct BatchSeries<'a> {
    /// The series id (hash of its canonical labels).
    pub id: SeriesId,
    /// Canonical label bytes; empty when the series is sent as a reference.
    pub labels: &'a [u8],
    /// `Some(ordinal)` when the series is named by the reference `(id, ordinal)` instead of its
    /// labels (see the module docs).
    pub reference: Option<u8>,
    /// Where the writer found a referenced series in the shard's head (a hint, see the module
    /// docs).
    pub slot_hint: Option<u32>,
    raw: &'a [u8],
    count: usize,
    base: i64,
    format: Format,
}

impl<'a> BatchSeries<'a> {
    /// Returns the number of samples.
    pub fn sample_count(&self) -> usize {
        self.count
    }

    /// Iterates the samples in the order they were pushed.
    pub fn samples(&self) -> BatchSamples<'a> {
        BatchSamples {
            raw: self.raw,
            left: self.count,
            prev: self.base,
            v1: self.format == Format::V1,
        }
    }
}

/// The samples of one [`BatchSeries`].
#[derive(Debug, Clone)]
pub struct BatchSamples<'a> {
    raw: &'a [u8],
    left: usize,
    prev: i64,
    v1: bool,
}

fn u64_le(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

impl Iterator for BatchSamples<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.left == 0 {
            return None;
        }
        // The bytes were validated when the batch was built or parsed; a short read ends the
        // iteration rather than panicking.
        if self.v1 {
            let (c, rest) = self.raw.split_at_checked(16)?;
            self.raw = rest;
            self.left -= 1;
            return Some(Sample::new(
                u64_le(c) as i64,
                f64::from_bits(u64_le(&c[8..])),
            ));
        }
        let (d, n) = get_uvarint(self.raw)?;
        let v = self.raw.get(n..n + 8)?;
        let t = self.prev.wrapping_add(unzigzag(d));
        let v = f64::from_bits(u64_le(v));
        self.raw = &self.raw[n + 8..];
        self.prev = t;
        self.left -= 1;
        Some(Sample::new(t, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for BatchSamples<'_> {}

impl ShardBatch {
    /// Parses and validates batch bytes (for example a Raft entry read back from disk).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, BatchError> {
        let (series, samples) = walk(&bytes, |_| {})?;
        Ok(ShardBatch {
            bytes: Arc::new(bytes),
            series,
            samples,
        })
    }

    /// Returns the encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the batch and returns its bytes (copied if the batch is shared).
    pub fn into_bytes(self) -> Vec<u8> {
        Arc::try_unwrap(self.bytes).unwrap_or_else(|shared| (*shared).clone())
    }

    /// Returns the number of series.
    pub fn series_count(&self) -> u64 {
        self.series
    }

    /// Returns the number of samples.
    pub fn sample_count(&self) -> u64 {
        self.samples
    }

    /// Returns the base timestamp of a version 2 batch (0 for version 1).
    pub fn base_time(&self) -> i64 {
        if self.bytes.first() == Some(&V2) && self.bytes.len() >= V2_HEADER {
            u64_le(&self.bytes[5..]) as i64
        } else {
            0
        }
    }

    /// Returns whether any series is sent as a reference rather than by its labels.
    pub fn has_references(&self) -> bool {
        let mut any = false;
        self.for_each_series(|s| any |= s.reference.is_some());
        any
    }

    /// Calls `f` for every series in order.
    pub fn for_each_series<'a>(&'a self, f: impl FnMut(BatchSeries<'a>)) {
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

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn uvarint(&mut self) -> Result<u64, BatchError> {
        let (v, n) = get_uvarint(self.rest).ok_or(BatchError::Malformed)?;
        self.rest = &self.rest[n..];
        Ok(v)
    }

    fn usize(&mut self) -> Result<usize, BatchError> {
        usize::try_from(self.uvarint()?).map_err(|_| BatchError::Malformed)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BatchError> {
        let (a, b) = self.rest.split_at_checked(n).ok_or(BatchError::Malformed)?;
        self.rest = b;
        Ok(a)
    }

    fn u64(&mut self) -> Result<u64, BatchError> {
        Ok(u64_le(self.take(8)?))
    }
}

fn walk<'a>(bytes: &'a [u8], f: impl FnMut(BatchSeries<'a>)) -> Result<(u64, u64), BatchError> {
    let (&version, rest) = bytes.split_first().ok_or(BatchError::Malformed)?;
    match version {
        V1 => walk_v1(Cursor { rest }, f),
        V2 => walk_v2(Cursor { rest }, f),
        v => Err(BatchError::Version(v)),
    }
}

fn walk_v2<'a>(
    mut c: Cursor<'a>,
    mut f: impl FnMut(BatchSeries<'a>),
) -> Result<(u64, u64), BatchError> {
    let mut cnt = [0u8; 4];
    cnt.copy_from_slice(c.take(4)?);
    let count = u32::from_le_bytes(cnt);
    let base = c.u64()? as i64;
    let mut samples = 0u64;
    for _ in 0..count {
        let kind = *c.take(1)?.first().ok_or(BatchError::Malformed)?;
        let id = SeriesId(c.u64()?);
        let (labels, reference): (&[u8], Option<u8>) = match kind {
            KIND_LABELS => {
                let len = c.usize()?;
                (c.take(len)?, None)
            }
            KIND_REF0 | KIND_REF0_HINT => (&[], Some(0)),
            KIND_REF | KIND_REF_HINT => (&[], Some(c.take(1)?[0])),
            _ => return Err(BatchError::Malformed),
        };
        let slot_hint = match kind {
            KIND_REF0_HINT | KIND_REF_HINT => {
                Some(u32::try_from(c.uvarint()?).map_err(|_| BatchError::Malformed)?)
            }
            _ => None,
        };
        let n = c.usize()?;
        let start = c.rest;
        for _ in 0..n {
            c.uvarint()?;
            c.take(8)?;
        }
        let raw = &start[..start.len() - c.rest.len()];
        samples += n as u64;
        f(BatchSeries {
            id,
            labels,
            reference,
            slot_hint,
            raw,
            count: n,
            base,
            format: Format::V2,
        });
    }
    if !c.rest.is_empty() {
        return Err(BatchError::Malformed);
    }
    Ok((u64::from(count), samples))
}

fn walk_v1<'a>(
    mut c: Cursor<'a>,
    mut f: impl FnMut(BatchSeries<'a>),
) -> Result<(u64, u64), BatchError> {
    let count = c.usize()?;
    let mut samples = 0u64;
    for _ in 0..count {
        let id = SeriesId(c.u64()?);
        let len = c.usize()?;
        let labels = c.take(len)?;
        let n = c.usize()?;
        let raw = c.take(n.checked_mul(16).ok_or(BatchError::Malformed)?)?;
        samples += n as u64;
        f(BatchSeries {
            id,
            labels,
            reference: None,
            slot_hint: None,
            raw,
            count: n,
            base: 0,
            format: Format::V1,
        });
    }
    if !c.rest.is_empty() {
        return Err(BatchError::Malformed);
    }
    Ok((count as u64, samples))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, stale_nan};
    use proptest::prelude::*;

    fn samples_of(s: &BatchSeries<'_>) -> Vec<(i64, u64)> {
        s.samples().map(|x| (x.t, x.v.to_bits())).collect()
    }

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
        b.push_ref(SeriesId(8), 0, &[Sample::new(-5, 0.25)]);
        b.push_ref(SeriesId(9), 3, &[Sample::new(i64::MAX, 1.0)]);
        let batch = ShardBatch::from_bytes(b.finish().into_bytes()).unwrap();
        assert_eq!(batch.series_count(), 4);
        assert_eq!(batch.sample_count(), 4);
        assert_eq!(batch.base_time(), 1);
        assert!(batch.has_references());
        let s = batch.series();
        assert_eq!(s[0].id, l.series_id());
        assert_eq!(s[0].labels, &c[..]);
        assert_eq!(s[0].reference, None);
        let got: Vec<Sample> = s[0].samples().collect();
        assert_eq!(got, vec![Sample::new(1, 1.5), Sample::new(2, stale_nan())]);
        assert_eq!(s[1].sample_count(), 0);
        assert_eq!((s[2].id, s[2].reference), (SeriesId(8), Some(0)));
        assert_eq!(samples_of(&s[2]), vec![(-5, 0.25f64.to_bits())]);
        assert_eq!((s[3].id, s[3].reference), (SeriesId(9), Some(3)));
        assert_eq!(samples_of(&s[3]), vec![(i64::MAX, 1.0f64.to_bits())]);
    }

    #[test]
    fn reads_version_1_batches() {
        let mut bytes = vec![V1, 1];
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend_from_slice(&[2, b'a', b'b', 2]);
        for (t, v) in [(10i64, 1.5f64), (11, -0.0)] {
            bytes.extend_from_slice(&t.to_le_bytes());
            bytes.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        let batch = ShardBatch::from_bytes(bytes).unwrap();
        assert!(!batch.has_references());
        let s = batch.series();
        assert_eq!((s[0].id, s[0].labels), (SeriesId(7), &b"ab"[..]));
        assert_eq!(
            samples_of(&s[0]),
            vec![(10, 1.5f64.to_bits()), (11, (-0.0f64).to_bits())]
        );
        // Copying into a version 2 batch re-encodes the samples.
        let mut b = ShardBatchBuilder::new();
        b.push_copy(&s[0], Some((4, Some(300))));
        b.push_copy(&s[0], Some((0, Some(1))));
        let copy = ShardBatch::from_bytes(b.finish().into_bytes()).unwrap();
        let c = copy.series();
        assert_eq!((c[0].reference, c[0].slot_hint), (Some(4), Some(300)));
        assert_eq!((c[1].reference, c[1].slot_hint), (Some(0), Some(1)));
        assert_eq!(samples_of(&c[0]), samples_of(&s[0]));
    }

    #[test]
    fn rejects_truncated_bytes_and_unknown_versions() {
        let mut b = ShardBatchBuilder::new();
        b.push_series(SeriesId(1), b"\x01a\x01b", &[Sample::new(1, 1.0)]);
        b.push_ref(SeriesId(2), 9, &[Sample::new(3, 1.0)]);
        let bytes = b.finish().into_bytes();
        for cut in 0..bytes.len() {
            assert!(ShardBatch::from_bytes(bytes[..cut].to_vec()).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(ShardBatch::from_bytes(longer), Err(BatchError::Malformed));
        let mut other = bytes;
        other[0] = 3;
        assert_eq!(ShardBatch::from_bytes(other), Err(BatchError::Version(3)));
    }

    proptest! {
        #[test]
        fn copies_keep_every_sample(
            series in proptest::collection::vec(
                (any::<u64>(), proptest::option::of(any::<u8>()),
                 proptest::collection::vec((any::<i64>(), any::<u64>()), 0..5)),
                0..8),
            other_base in any::<i64>(),
        ) {
            let mut b = ShardBatchBuilder::new();
            for (id, r, s) in &series {
                let s: Vec<Sample> = s.iter().map(|&(t, v)| Sample::new(t, f64::from_bits(v))).collect();
                match r {
                    Some(ord) => b.push_ref(SeriesId(*id), *ord, &s),
                    None => b.push_series(SeriesId(*id), b"\x01n\x01v", &s),
                }
            }
            let batch = ShardBatch::from_bytes(b.finish().into_bytes()).unwrap();
            for base in [batch.base_time(), other_base] {
                let mut copy = ShardBatchBuilder::with_base(base, 0);
                batch.for_each_series(|s| {
                    let hint = s.reference.map(|o| (o, Some(u32::from(o) * 1000)));
                    copy.push_copy(&s, hint)
                });
                let copy = ShardBatch::from_bytes(copy.finish().into_bytes()).unwrap();
                let (a, b) = (batch.series(), copy.series());
                prop_assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(&b) {
                    prop_assert_eq!((x.id, x.labels, x.reference), (y.id, y.labels, y.reference));
                    prop_assert_eq!(y.slot_hint, x.reference.map(|o| u32::from(o) * 1000));
                    prop_assert_eq!(samples_of(x), samples_of(y));
                }
            }
        }
    }
}
