//! Byte encodings of log entries and of the small per-group state records.
//!
//! An entry is stored as (all integers little-endian):
//!
//! ```text
//! u8  version (=1)
//! u64 term ‖ u64 leader node id ‖ u64 index      (the log id)
//! u8  kind: 0 blank, 1 normal, 2 membership
//! normal:     the ShardBatch bytes, verbatim
//! membership: the membership as JSON
//! ```
//!
//! Normal entries, the bulk of the log, are the batch bytes plus a 26-byte header. Votes, log ids
//! and memberships are rare and stored as JSON.

use openraft::{CommittedLeaderId, EntryPayload, Membership};
use serde::Serialize;
use serde::de::DeserializeOwned;
use strata_model::ShardBatch;

use crate::error::Error;
use crate::types::{Entry, LogId, Payload};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 8 * 3 + 1;

/// Encodes `entry` into its stored bytes.
pub(crate) fn encode_entry(entry: &Entry) -> Result<Vec<u8>, Error> {
    let body_len = match &entry.payload {
        EntryPayload::Normal(p) => p.0.as_bytes().len(),
        _ => 64,
    };
    let mut out = Vec::with_capacity(HEADER + body_len);
    out.push(VERSION);
    out.extend_from_slice(&entry.log_id.leader_id.term.to_le_bytes());
    out.extend_from_slice(&entry.log_id.leader_id.node_id.to_le_bytes());
    out.extend_from_slice(&entry.log_id.index.to_le_bytes());
    match &entry.payload {
        EntryPayload::Blank => out.push(0),
        EntryPayload::Normal(p) => {
            out.push(1);
            out.extend_from_slice(p.0.as_bytes());
        }
        EntryPayload::Membership(m) => {
            out.push(2);
            serde_json::to_writer(&mut out, m).map_err(|e| Error::Encode(e.to_string()))?;
        }
    }
    Ok(out)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Decodes an entry's stored bytes.
pub(crate) fn decode_entry(mut bytes: Vec<u8>) -> Result<Entry, Error> {
    if bytes.len() < HEADER {
        return Err(Error::Decode("entry shorter than its header".into()));
    }
    if bytes[0] != VERSION {
        return Err(Error::Decode(format!("unknown entry version {}", bytes[0])));
    }
    let log_id = LogId {
        leader_id: CommittedLeaderId::new(u64_at(&bytes, 1), u64_at(&bytes, 9)),
        index: u64_at(&bytes, 17),
    };
    let kind = bytes[HEADER - 1];
    let payload = match kind {
        0 => EntryPayload::Blank,
        1 => {
            let body = bytes.split_off(HEADER);
            let batch = ShardBatch::from_bytes(body).map_err(|e| Error::Decode(e.to_string()))?;
            EntryPayload::Normal(Payload(batch))
        }
        2 => {
            let m: Membership<u64, openraft::BasicNode> = serde_json::from_slice(&bytes[HEADER..])
                .map_err(|e| Error::Decode(e.to_string()))?;
            EntryPayload::Membership(m)
        }
        k => return Err(Error::Decode(format!("unknown entry kind {k}"))),
    };
    Ok(Entry { log_id, payload })
}

/// Returns only the log id of an entry's stored bytes.
pub(crate) fn decode_log_id(bytes: &[u8]) -> Result<LogId, Error> {
    if bytes.len() < HEADER || bytes[0] != VERSION {
        return Err(Error::Decode("malformed entry header".into()));
    }
    Ok(LogId {
        leader_id: CommittedLeaderId::new(u64_at(bytes, 1), u64_at(bytes, 9)),
        index: u64_at(bytes, 17),
    })
}

/// Encodes a small state record as JSON.
pub(crate) fn encode_json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a small state record from JSON.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use strata_model::{Sample, SeriesId, ShardBatchBuilder};

    use super::*;

    fn id(term: u64, index: u64) -> LogId {
        LogId {
            leader_id: CommittedLeaderId::new(term, 3),
            index,
        }
    }

    #[test]
    fn round_trips_every_entry_kind() {
        let mut b = ShardBatchBuilder::new();
        b.push_series(SeriesId(9), b"\x01a\x01b", &[Sample::new(5, 2.5)]);
        let entries = vec![
            Entry {
                log_id: id(1, 0),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: id(2, 7),
                payload: EntryPayload::Normal(Payload(b.finish())),
            },
            Entry {
                log_id: id(u64::MAX, u64::MAX),
                payload: EntryPayload::Membership(Membership::new(
                    vec![BTreeSet::from([1, 2])],
                    None,
                )),
            },
        ];
        for e in entries {
            let bytes = encode_entry(&e).unwrap();
            assert_eq!(decode_log_id(&bytes).unwrap(), e.log_id);
            assert_eq!(decode_entry(bytes).unwrap(), e);
        }
    }

    #[test]
    fn rejects_truncated_entries() {
        let e = Entry {
            log_id: id(1, 1),
            payload: EntryPayload::Blank,
        };
        let bytes = encode_entry(&e).unwrap();
        assert!(decode_entry(bytes[..bytes.len() - 1].to_vec()).is_err());
    }
}
