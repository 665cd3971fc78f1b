//! A zero-copy reader of remote write 1.0 bodies, for the ingest hot path.
//!
//! [`WriteRequestReader`] walks the protobuf bytes of a `WriteRequest` one `TimeSeries` at a
//! time into a reused [`TimeSeriesView`]. Labels are `&[u8]` slices of the body, and samples
//! are decoded straight into [`strata_model::Sample`]. Nothing is allocated per series, per
//! label or per sample once the view's vectors have grown, and no reference count is touched.
//! Decoding with `prost` into [`crate::WriteRequest`] gives the same series (a proptest checks
//! this). It costs one `Vec` per series and two atomic reference-count operations per label.
//!
//! Exemplars and histograms are counted, not decoded; metadata and unknown fields are skipped.
//! Unknown groups (wire types 3 and 4, unused by any Prometheus message) are skipped as protobuf
//! requires.

use strata_model::Sample;

use crate::error::{Error, Result};

/// One label as slices of the request body. The bytes are not checked as UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelRef<'a> {
    /// The label name.
    pub name: &'a [u8],
    /// The label value.
    pub value: &'a [u8],
}

/// One `TimeSeries` of a request, borrowed from the body. Reuse one view for every series.
#[derive(Debug, Default)]
pub struct TimeSeriesView<'a> {
    /// The labels in the order sent.
    pub labels: Vec<LabelRef<'a>>,
    /// The float samples in the order sent, values bit-exact.
    pub samples: Vec<Sample>,
    /// Number of exemplars (not decoded).
    pub exemplars: usize,
    /// Number of native histogram samples (not decoded).
    pub histograms: usize,
}

impl TimeSeriesView<'_> {
    fn clear(&mut self) {
        self.labels.clear();
        self.samples.clear();
        self.exemplars = 0;
        self.histograms = 0;
    }
}

/// Reads the series of a protobuf `WriteRequest` (already decompressed) one by one.
#[derive(Debug, Clone)]
pub struct WriteRequestReader<'a> {
    rest: &'a [u8],
}

impl<'a> WriteRequestReader<'a> {
    /// Returns a reader over the protobuf bytes of a `WriteRequest`.
    pub fn new(body: &'a [u8]) -> Self {
        WriteRequestReader { rest: body }
    }

    /// Reads the next series into `out`, replacing its contents. Returns `Ok(false)` at the end
    /// of the body, or an error when the bytes are not a valid `WriteRequest`.
    pub fn next_series(&mut self, out: &mut TimeSeriesView<'a>) -> Result<bool> {
        while !self.rest.is_empty() {
            let (field, wire) = read_key(&mut self.rest)?;
            if field == 1 {
                expect_len(wire, "WriteRequest.timeseries")?;
                let msg = read_len_delimited(&mut self.rest)?;
                parse_series(msg, out)?;
                return Ok(true);
            }
            skip_field_nested(wire, field, &mut self.rest, 0)?;
        }
        Ok(false)
    }
}

fn parse_series<'a>(mut b: &'a [u8], out: &mut TimeSeriesView<'a>) -> Result<()> {
    out.clear();
    while !b.is_empty() {
        let (field, wire) = read_key(&mut b)?;
        match field {
            1 => {
                expect_len(wire, "TimeSeries.labels")?;
                out.labels.push(parse_label(read_len_delimited(&mut b)?)?);
            }
            2 => {
                expect_len(wire, "TimeSeries.samples")?;
                out.samples.push(parse_sample(read_len_delimited(&mut b)?)?);
            }
            3 => {
                expect_len(wire, "TimeSeries.exemplars")?;
                read_len_delimited(&mut b)?;
                out.exemplars += 1;
            }
            4 => {
                expect_len(wire, "TimeSeries.histograms")?;
                read_len_delimited(&mut b)?;
                out.histograms += 1;
            }
            _ => skip_field_nested(wire, field, &mut b, 0)?,
        }
    }
    Ok(())
}

fn parse_label(mut b: &[u8]) -> Result<LabelRef<'_>> {
    // Fast path: name then value, both shorter than 128 bytes, as every Prometheus sender
    // encodes a label (`0x0a len name 0x12 len value`).
    if let [0x0a, n, rest @ ..] = b
        && *n < 0x80
        && let Some((name, rest)) = rest.split_at_checked(usize::from(*n))
        && let [0x12, m, value @ ..] = rest
        && *m < 0x80
        && usize::from(*m) == value.len()
    {
        return Ok(LabelRef { name, value });
    }
    let mut label = LabelRef {
        name: &[],
        value: &[],
    };
    while !b.is_empty() {
        let (field, wire) = read_key(&mut b)?;
        match field {
            1 => {
                expect_len(wire, "Label.name")?;
                label.name = read_len_delimited(&mut b)?;
            }
            2 => {
                expect_len(wire, "Label.value")?;
                label.value = read_len_delimited(&mut b)?;
            }
            _ => skip_field_nested(wire, field, &mut b, 0)?,
        }
    }
    Ok(label)
}

fn parse_sample(mut b: &[u8]) -> Result<Sample> {
    // Fast path: value then timestamp (`0x09 f64 0x10 varint`), as Prometheus encodes a sample.
    if let [0x09, v0, v1, v2, v3, v4, v5, v6, v7, 0x10, rest @ ..] = b {
        let mut t: &[u8] = rest;
        let ts = read_varint(&mut t)?;
        if t.is_empty() {
            let v = u64::from_le_bytes([*v0, *v1, *v2, *v3, *v4, *v5, *v6, *v7]);
            return Ok(Sample::new(ts as i64, f64::from_bits(v)));
        }
    }
    let mut s = Sample::new(0, 0.0);
    while !b.is_empty() {
        let (field, wire) = read_key(&mut b)?;
        match field {
            1 => {
                if wire != WIRE_FIXED64 {
                    return Err(wire_error("Sample.value"));
                }
                s.v = f64::from_bits(u64::from_le_bytes(read_fixed::<8>(&mut b)?));
            }
            2 => {
                if wire != WIRE_VARINT {
                    return Err(wire_error("Sample.timestamp"));
                }
                s.t = read_varint(&mut b)? as i64;
            }
            _ => skip_field_nested(wire, field, &mut b, 0)?,
        }
    }
    Ok(s)
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_START_GROUP: u8 = 3;
const WIRE_END_GROUP: u8 = 4;
const WIRE_FIXED32: u8 = 5;

/// Nesting limit of skipped groups, as in prost.
const MAX_GROUP_DEPTH: u32 = 100;

fn corrupt(what: &'static str) -> Error {
    Error::Malformed(what.to_owned())
}

fn wire_error(field: &'static str) -> Error {
    Error::Malformed(format!("unexpected wire type for field {field}"))
}

#[inline]
fn expect_len(wire: u8, field: &'static str) -> Result<()> {
    if wire == WIRE_LEN {
        Ok(())
    } else {
        Err(wire_error(field))
    }
}

#[inline]
fn read_varint(b: &mut &[u8]) -> Result<u64> {
    // Field keys and label lengths almost always fit in one byte: that case is inlined at
    // every call site, longer varints take a call.
    if let Some((&first, rest)) = b.split_first()
        && first < 0x80
    {
        *b = rest;
        return Ok(u64::from(first));
    }
    read_varint_long(b)
}

#[inline(never)]
fn read_varint_long(b: &mut &[u8]) -> Result<u64> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return Err(corrupt("varint overflows 64 bits"));
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *b = &b[i + 1..];
            return Ok(v);
        }
    }
    Err(corrupt("truncated or overlong varint"))
}

#[inline]
fn read_key(b: &mut &[u8]) -> Result<(u64, u8)> {
    let key = read_varint(b)?;
    let field = key >> 3;
    if field == 0 || field > u64::from(u32::MAX >> 3) {
        return Err(corrupt("invalid protobuf field number"));
    }
    Ok((field, (key & 7) as u8))
}

#[inline]
fn read_len_delimited<'a>(b: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = read_varint(b)?;
    let len = usize::try_from(len).map_err(|_| corrupt("length overflows"))?;
    if b.len() < len {
        return Err(corrupt("length-delimited field runs past the end"));
    }
    let (head, tail) = b.split_at(len);
    *b = tail;
    Ok(head)
}

#[inline]
fn read_fixed<const N: usize>(b: &mut &[u8]) -> Result<[u8; N]> {
    if b.len() < N {
        return Err(corrupt("fixed-size field runs past the end"));
    }
    let mut out = [0u8; N];
    out.copy_from_slice(&b[..N]);
    *b = &b[N..];
    Ok(out)
}

/// Skips one field; `field` and `depth` matter only for groups (wire types 3 and 4), which no
/// Prometheus message uses but which protobuf decoders must skip as unknown fields.
fn skip_field_nested(wire: u8, field: u64, b: &mut &[u8], depth: u32) -> Result<()> {
    match wire {
        WIRE_VARINT => read_varint(b).map(drop),
        WIRE_FIXED64 => read_fixed::<8>(b).map(drop),
        WIRE_LEN => read_len_delimited(b).map(drop),
        WIRE_FIXED32 => read_fixed::<4>(b).map(drop),
        WIRE_START_GROUP => {
            if depth >= MAX_GROUP_DEPTH {
                return Err(corrupt("groups nested too deeply"));
            }
            loop {
                if b.is_empty() {
                    return Err(corrupt("unterminated group"));
                }
                let (inner, inner_wire) = read_key(b)?;
                if inner_wire == WIRE_END_GROUP {
                    if inner != field {
                        return Err(corrupt("mismatched end group"));
                    }
                    return Ok(());
                }
                skip_field_nested(inner_wire, inner, b, depth + 1)?;
            }
        }
        _ => Err(corrupt("unexpected end group or invalid wire type")),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use prost::Message;

    use super::*;
    use crate::{Histogram, Label, MetricMetadata, TimeSeries, WriteRequest};

    /// A series as owned parts: labels, samples, exemplar count, histogram count.
    type OwnedSeries = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Sample>, usize, usize);

    fn read_all(body: &[u8]) -> Result<Vec<OwnedSeries>> {
        let mut r = WriteRequestReader::new(body);
        let mut view = TimeSeriesView::default();
        let mut out = Vec::new();
        while r.next_series(&mut view)? {
            out.push((
                view.labels
                    .iter()
                    .map(|l| (l.name.to_vec(), l.value.to_vec()))
                    .collect(),
                view.samples.clone(),
                view.exemplars,
                view.histograms,
            ));
        }
        Ok(out)
    }

    fn arb_request() -> impl Strategy<Value = WriteRequest> {
        let label = (
            proptest::collection::vec(any::<u8>(), 0..6),
            proptest::collection::vec(any::<u8>(), 0..6),
        )
            .prop_map(|(n, v)| Label::new(n, v));
        let sample = (any::<u64>(), any::<i64>()).prop_map(|(v, t)| crate::Sample {
            value: f64::from_bits(v),
            timestamp: t,
        });
        let series = (
            proptest::collection::vec(label, 0..5),
            proptest::collection::vec(sample, 0..5),
            0usize..2,
            0usize..2,
        )
            .prop_map(|(labels, samples, ex, hist)| TimeSeries {
                labels,
                samples,
                exemplars: vec![crate::Exemplar::default(); ex],
                histograms: vec![
                    Histogram {
                        sum: 1.0,
                        ..Histogram::default()
                    };
                    hist
                ],
            });
        (proptest::collection::vec(series, 0..6), 0usize..2).prop_map(|(timeseries, md)| {
            WriteRequest {
                timeseries,
                metadata: vec![
                    MetricMetadata {
                        help: "h".into(),
                        ..MetricMetadata::default()
                    };
                    md
                ],
            }
        })
    }

    proptest! {
        #[test]
        fn reads_what_prost_decodes(req in arb_request()) {
            let body = req.encode_to_vec();
            let via_prost = WriteRequest::decode(Bytes::from(body.clone())).unwrap();
            let got = read_all(&body).unwrap();
            prop_assert_eq!(got.len(), via_prost.timeseries.len());
            for (g, p) in got.iter().zip(&via_prost.timeseries) {
                let labels: Vec<(Vec<u8>, Vec<u8>)> =
                    p.labels.iter().map(|l| (l.name.to_vec(), l.value.to_vec())).collect();
                prop_assert_eq!(&g.0, &labels);
                let samples: Vec<Sample> =
                    p.samples.iter().map(|s| Sample::new(s.timestamp, s.value)).collect();
                prop_assert_eq!(&g.1, &samples);
                prop_assert_eq!(g.2, p.exemplars.len());
                prop_assert_eq!(g.3, p.histograms.len());
            }
        }

        #[test]
        fn never_panics_and_agrees_with_prost_on_validity(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let ours = read_all(&body);
            let theirs = WriteRequest::decode(Bytes::from(body.clone()));
            // Whatever prost accepts, the reader accepts with the same series count.
            if let Ok(p) = theirs {
                prop_assert_eq!(ours.map(|v| v.len()).ok(), Some(p.timeseries.len()));
            }
        }
    }

    #[test]
    fn truncations_are_errors_not_panics() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", "up")],
                samples: vec![crate::Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
                ..TimeSeries::default()
            }],
            metadata: Vec::new(),
        };
        let body = req.encode_to_vec();
        assert_eq!(read_all(&body).unwrap().len(), 1);
        for cut in 1..body.len() {
            assert!(read_all(&body[..cut]).is_err(), "cut at {cut}");
        }
    }
}
