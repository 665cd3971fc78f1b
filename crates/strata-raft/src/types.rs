//! The openraft type configuration of every Strata group, and its payload and response types.

use std::io::Cursor;

use openraft::BasicNode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use strata_model::{RejectReason, SampleRejection, ShardBatch, WriteOutcome};

openraft::declare_raft_types!(
    /// The openraft type configuration of Strata's groups: node ids are `u64`, an entry's
    /// application data is one [`ShardBatch`] and applying it answers an [`ApplyResponse`].
    pub TypeConfig:
        D = Payload,
        R = ApplyResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A Raft handle of one Strata group.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log entry of a Strata group.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log id of a Strata group.
pub type LogId = openraft::LogId<u64>;
/// Membership as recorded with the log id that set it.
pub type StoredMembership = openraft::StoredMembership<u64, BasicNode>;
/// Storage error as openraft sees it.
pub type StorageError = openraft::StorageError<u64>;

/// The application data of a log entry: one validated per-shard write batch.
///
/// Serialized as the batch's bytes, so that the log holds exactly what the shard applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(pub ShardBatch);

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0.as_bytes())
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = <Vec<u8>>::deserialize(d)?;
        ShardBatch::from_bytes(bytes)
            .map(Payload)
            .map_err(serde::de::Error::custom)
    }
}

/// What applying one entry did: a serde-able mirror of [`WriteOutcome`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResponse {
    /// Samples appended.
    pub appended: u64,
    /// Samples ignored as exact duplicates.
    pub duplicates: u64,
    /// Samples refused.
    pub rejected: u64,
    /// The first few refused samples.
    pub first_rejections: Vec<Rejection>,
}

/// A serde-able mirror of [`SampleRejection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The reason, as [`RejectReason::as_str`] spells it.
    pub reason: String,
    /// The series in Prometheus notation.
    pub series: String,
    /// The sample's timestamp in milliseconds.
    pub timestamp_ms: i64,
}

fn reason_from_str(s: &str) -> RejectReason {
    match s {
        "too_old" => RejectReason::TooOld,
        "duplicate_timestamp" => RejectReason::DuplicateTimestamp,
        _ => RejectReason::OutOfOrder,
    }
}

impl From<WriteOutcome> for ApplyResponse {
    fn from(o: WriteOutcome) -> Self {
        ApplyResponse {
            appended: o.appended,
            duplicates: o.duplicates,
            rejected: o.rejected,
            first_rejections: o
                .first_rejections
                .into_iter()
                .map(|r| Rejection {
                    reason: r.reason.as_str().to_owned(),
                    series: r.series,
                    timestamp_ms: r.timestamp_ms,
                })
                .collect(),
        }
    }
}

impl From<ApplyResponse> for WriteOutcome {
    fn from(r: ApplyResponse) -> Self {
        WriteOutcome {
            appended: r.appended,
            duplicates: r.duplicates,
            rejected: r.rejected,
            first_rejections: r
                .first_rejections
                .into_iter()
                .map(|x| SampleRejection {
                    reason: reason_from_str(&x.reason),
                    series: x.series,
                    timestamp_ms: x.timestamp_ms,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_response_round_trips_write_outcome() {
        let o = WriteOutcome {
            appended: 3,
            duplicates: 1,
            rejected: 2,
            first_rejections: vec![SampleRejection {
                reason: RejectReason::DuplicateTimestamp,
                series: "up{job=\"a\"}".into(),
                timestamp_ms: 7,
            }],
        };
        let r = ApplyResponse::from(o.clone());
        let json = serde_json::to_vec(&r).unwrap();
        let back: ApplyResponse = serde_json::from_slice(&json).unwrap();
        assert_eq!(WriteOutcome::from(back), o);
    }
}
