//! Snappy + protobuf body helpers and conversions from Strata's model types.
//!
//! Remote write and remote read bodies are protobuf messages compressed with snappy's *block*
//! format (`snap::raw`), not its framed stream format.

use bytes::Bytes;
use prost::Message;
use strata_model::{Labels, Sample as ModelSample};

use crate::error::{Error, Result};
use crate::remote::WriteRequest;
use crate::types::{Label, Sample, TimeSeries};

/// Content type of remote write and `SAMPLES` remote read bodies.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/x-protobuf";
/// The `proto=` parameter value of a remote write 1.0 body.
pub const WRITE_V1_PROTO: &str = "prometheus.WriteRequest";
/// The `proto=` parameter value of a remote write 2.0 body.
pub const WRITE_V2_PROTO: &str = "io.prometheus.write.v2.Request";
/// Header naming the remote write protocol version of a request.
pub const REMOTE_WRITE_VERSION_HEADER: &str = "X-Prometheus-Remote-Write-Version";
/// Value of [`REMOTE_WRITE_VERSION_HEADER`] sent by remote write 1.0 senders.
pub const REMOTE_WRITE_VERSION_1: &str = "0.1.0";
/// Content type of a `STREAMED_XOR_CHUNKS` remote read response.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// Encodes `msg` as protobuf and compresses it with snappy's block format.
pub fn encode_snappy<M: Message>(msg: &M) -> Result<Vec<u8>> {
    compress_snappy(&msg.encode_to_vec())
}

/// Compresses `raw` with snappy's block format.
pub fn compress_snappy(raw: &[u8]) -> Result<Vec<u8>> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .map_err(|e| Error::Snappy(e.to_string()))
}

/// Returns the decompressed length a snappy block declares, without decompressing it.
pub fn snappy_decompressed_len(body: &[u8]) -> Result<usize> {
    snap::raw::decompress_len(body).map_err(|e| Error::Snappy(e.to_string()))
}

/// Decompresses a snappy block, refusing (before allocating) one that declares more than
/// `max_decoded_bytes`.
pub fn decompress_snappy(body: &[u8], max_decoded_bytes: usize) -> Result<Bytes> {
    let declared = snappy_decompressed_len(body)?;
    if declared > max_decoded_bytes {
        return Err(Error::TooLarge {
            declared_bytes: declared as u64,
            limit_bytes: max_decoded_bytes as u64,
        });
    }
    let mut out = vec![0u8; declared];
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(|e| Error::Snappy(e.to_string()))?;
    out.truncate(n);
    Ok(Bytes::from(out))
}

/// Decompresses and decodes a snappy-compressed protobuf message. Byte fields of the message
/// (labels) are slices of one decompressed buffer.
pub fn decode_snappy<M: Message + Default>(body: &[u8], max_decoded_bytes: usize) -> Result<M> {
    let raw = decompress_snappy(body, max_decoded_bytes)?;
    Ok(M::decode(raw)?)
}

/// Returns the protobuf labels of a model label set, in name order.
pub fn labels_to_proto(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|l| Label::new(l.name.clone(), l.value.clone()))
        .collect()
}

impl TimeSeries {
    /// Returns a series with float samples and no exemplars or histograms.
    pub fn from_samples(labels: &Labels, samples: &[ModelSample]) -> Self {
        TimeSeries {
            labels: labels_to_proto(labels),
            samples: samples
                .iter()
                .map(|s| Sample {
                    value: s.v,
                    timestamp: s.t,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }
}

impl WriteRequest {
    /// Returns the request encoded as a remote write 1.0 body (protobuf, snappy block format).
    pub fn to_snappy_body(&self) -> Result<Vec<u8>> {
        encode_snappy(self)
    }

    /// Returns the number of float samples in the request.
    pub fn sample_count(&self) -> usize {
        self.timeseries.iter().map(|t| t.samples.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_request_round_trips_with_exact_nan_bits() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "node")]).unwrap();
        let stale = f64::from_bits(strata_model::STALE_NAN_BITS);
        let req = WriteRequest {
            timeseries: vec![TimeSeries::from_samples(
                &labels,
                &[ModelSample::new(1, 1.5), ModelSample::new(2, stale)],
            )],
            metadata: Vec::new(),
        };
        let body = req.to_snappy_body().unwrap();
        let back: WriteRequest = decode_snappy(&body, 1 << 20).unwrap();
        assert_eq!(back.timeseries.len(), 1);
        assert_eq!(
            back.timeseries[0].labels[0].name,
            Bytes::from_static(b"__name__")
        );
        assert_eq!(
            back.timeseries[0].samples[1].value.to_bits(),
            strata_model::STALE_NAN_BITS
        );
    }

    #[test]
    fn decoded_labels_borrow_the_body() {
        let labels = Labels::from_pairs([("__name__", "a_fairly_long_metric_name")]).unwrap();
        let req = WriteRequest {
            timeseries: vec![TimeSeries::from_samples(
                &labels,
                &[ModelSample::new(1, 1.0)],
            )],
            metadata: Vec::new(),
        };
        let raw = Bytes::from(req.encode_to_vec());
        let back = WriteRequest::decode(raw.clone()).unwrap();
        let name = &back.timeseries[0].labels[0].value;
        let start = raw.as_ptr() as usize;
        let p = name.as_ptr() as usize;
        assert!(
            p >= start && p + name.len() <= start + raw.len(),
            "label was copied"
        );
    }

    #[test]
    fn declared_size_over_limit_is_refused() {
        let body = compress_snappy(&[0u8; 4096]).unwrap();
        match decompress_snappy(&body, 1000) {
            Err(Error::TooLarge {
                declared_bytes: 4096,
                limit_bytes: 1000,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn corrupt_snappy_is_an_error() {
        let body = compress_snappy(b"hello hello hello hello").unwrap();
        assert!(decompress_snappy(&body[..body.len() - 3], 1 << 20).is_err());
        assert!(decompress_snappy(&[0xff, 0xff, 0xff], 1 << 20).is_err());
    }
}
