//! Byte layout of every key this crate writes (see `docs/format/rocksdb.md`).
//!
//! Every key starts with the shard id (`u32` big-endian), so one shard's data is one contiguous
//! key range per column family (snapshots, moves and deletion are range operations). Signed
//! integers are stored big-endian with the sign bit flipped so that byte order is numeric order.

use strata_model::labels::{get_uvarint, put_uvarint};
use strata_model::{SeriesId, ShardId};

/// Length of a [`SeriesRef`] in a key.
pub(crate) const REF_LEN: usize = 9;
/// Length of an in-order chunk key.
pub(crate) const CHUNK_KEY_LEN: usize = 4 + 8 + REF_LEN + 8;
/// Tag of the shard state record in the meta column family.
pub(crate) const META_STATE: u8 = 1;
/// Head record sequence number of the series' label record.
pub(crate) const HEAD_LABELS_SEQ: u32 = 0;

/// The engine's identity of a series: its hash and a collision ordinal.
///
/// The ordinal is 0 unless another label set with the same [`SeriesId`] was already known to the
/// shard when this one first appeared (see `head/collision` in `docs/storage.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef {
    /// The hash of the canonical labels.
    pub id: SeriesId,
    /// Collision ordinal, 0 for the first label set with this id.
    pub ord: u8,
}

impl SeriesRef {
    pub(crate) fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0.to_be_bytes());
        out.push(self.ord);
    }

    pub(crate) fn read(b: &[u8]) -> Option<SeriesRef> {
        let id = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        Some(SeriesRef {
            id: SeriesId(id),
            ord: *b.get(8)?,
        })
    }
}

pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

pub(crate) fn read_i64(b: &[u8]) -> Option<i64> {
    let raw = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
    Some((raw ^ (1 << 63)) as i64)
}

/// Returns the shard prefix (4 bytes).
pub(crate) fn shard_prefix(shard: ShardId) -> Vec<u8> {
    shard.0.to_be_bytes().to_vec()
}

/// Returns the first key after every key that starts with `prefix`, or `None` if there is none
/// (the prefix is all `0xff`).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(v);
        }
    }
    None
}

/// `shard ‖ partition` — the prefix of a partition in the chunks and postings column families.
pub(crate) fn partition_prefix(shard: ShardId, partition: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(12);
    k.extend_from_slice(&shard.0.to_be_bytes());
    put_i64(&mut k, partition);
    k
}

/// `shard ‖ partition ‖ ref` — the prefix of one series' chunks in one partition.
pub(crate) fn chunk_series_prefix(shard: ShardId, partition: i64, r: SeriesRef) -> Vec<u8> {
    let mut k = partition_prefix(shard, partition);
    r.put(&mut k);
    k
}

/// `shard ‖ partition ‖ ref ‖ mint` — an in-order closed chunk.
pub(crate) fn chunk_key(shard: ShardId, partition: i64, r: SeriesRef, mint: i64) -> Vec<u8> {
    let mut k = chunk_series_prefix(shard, partition, r);
    put_i64(&mut k, mint);
    k
}

/// `shard ‖ partition ‖ ref ‖ mint ‖ 0x01 ‖ seq u64` — an out-of-order chunk; `seq` keeps
/// several out-of-order chunks with one start time apart.
pub(crate) fn ooo_chunk_key(
    shard: ShardId,
    partition: i64,
    r: SeriesRef,
    mint: i64,
    seq: u64,
) -> Vec<u8> {
    let mut k = chunk_key(shard, partition, r, mint);
    k.push(1);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Returns the chunk start time of a chunk key (in-order or out-of-order).
pub(crate) fn chunk_key_mint(key: &[u8]) -> Option<i64> {
    read_i64(key.get(4 + 8 + REF_LEN..)?)
}

/// Returns the out-of-order sequence number of a chunk key, `None` for an in-order chunk.
pub(crate) fn chunk_key_ooo_seq(key: &[u8]) -> Option<u64> {
    if key.len() != CHUNK_KEY_LEN + 9 {
        return None;
    }
    Some(u64::from_be_bytes(
        key[CHUNK_KEY_LEN + 1..].try_into().ok()?,
    ))
}

/// Returns the partition prefix plus a length-prefixed label name.
pub(crate) fn postings_name_prefix(shard: ShardId, partition: i64, name: &[u8]) -> Vec<u8> {
    let mut k = partition_prefix(shard, partition);
    put_uvarint(&mut k, name.len() as u64);
    k.extend_from_slice(name);
    k
}

/// Returns the postings prefix of one `(name, value)` pair.
pub(crate) fn postings_value_prefix(
    shard: ShardId,
    partition: i64,
    name: &[u8],
    value: &[u8],
) -> Vec<u8> {
    let mut k = postings_name_prefix(shard, partition, name);
    put_uvarint(&mut k, value.len() as u64);
    k.extend_from_slice(value);
    k
}

/// Returns a full postings key.
pub(crate) fn postings_key(
    shard: ShardId,
    partition: i64,
    name: &[u8],
    value: &[u8],
    r: SeriesRef,
) -> Vec<u8> {
    let mut k = postings_value_prefix(shard, partition, name, value);
    r.put(&mut k);
    k
}

/// A postings key split into its parts (after the 12-byte partition prefix).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PostingsKey<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) series: SeriesRef,
}

pub(crate) fn parse_postings_key(key: &[u8]) -> Option<PostingsKey<'_>> {
    let rest = key.get(12..)?;
    let (nlen, n) = get_uvarint(rest)?;
    let rest = rest.get(n..)?;
    let nlen = usize::try_from(nlen).ok()?;
    let name = rest.get(..nlen)?;
    let rest = rest.get(nlen..)?;
    let (vlen, n) = get_uvarint(rest)?;
    let rest = rest.get(n..)?;
    let vlen = usize::try_from(vlen).ok()?;
    let value = rest.get(..vlen)?;
    let rest = rest.get(vlen..)?;
    if rest.len() != REF_LEN {
        return None;
    }
    Some(PostingsKey {
        name,
        value,
        series: SeriesRef::read(rest)?,
    })
}

/// `shard ‖ id` — the prefix of all collision ordinals of one series id in the series registry.
pub(crate) fn series_id_prefix(shard: ShardId, id: SeriesId) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + REF_LEN);
    k.extend_from_slice(&shard.0.to_be_bytes());
    k.extend_from_slice(&id.0.to_be_bytes());
    k
}

/// `shard ‖ ref` — a series registry key.
pub(crate) fn series_key(shard: ShardId, r: SeriesRef) -> Vec<u8> {
    let mut k = series_id_prefix(shard, r.id);
    k.push(r.ord);
    k
}

/// Series registry value: the last partition holding chunks of the series, then its canonical
/// labels.
pub(crate) fn series_value(last_partition: i64, labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + labels.len());
    put_i64(&mut v, last_partition);
    v.extend_from_slice(labels);
    v
}

pub(crate) fn parse_series_value(v: &[u8]) -> Option<(i64, &[u8])> {
    Some((read_i64(v)?, v.get(8..)?))
}

/// `shard ‖ ref` — the prefix of one head series' records.
pub(crate) fn head_series_prefix(shard: ShardId, r: SeriesRef) -> Vec<u8> {
    series_key(shard, r)
}

/// `shard ‖ ref ‖ seq` — a head record: seq 0 holds the labels, seq ≥ 1 the segments of the
/// open chunk in append order.
pub(crate) fn head_key(shard: ShardId, r: SeriesRef, seq: u32) -> Vec<u8> {
    let mut k = head_series_prefix(shard, r);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn parse_head_key(key: &[u8]) -> Option<(SeriesRef, u32)> {
    if key.len() != 4 + REF_LEN + 4 {
        return None;
    }
    let r = SeriesRef::read(&key[4..])?;
    let seq = u32::from_be_bytes(key[4 + REF_LEN..].try_into().ok()?);
    Some((r, seq))
}

/// `shard ‖ tag` — a meta record.
pub(crate) fn meta_key(shard: ShardId, tag: u8) -> Vec<u8> {
    let mut k = shard_prefix(shard);
    k.push(tag);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_integers_sort_numerically() {
        let mut keys: Vec<Vec<u8>> = [-5i64, i64::MIN, 0, 7, i64::MAX, -1]
            .iter()
            .map(|&v| {
                let mut k = Vec::new();
                put_i64(&mut k, v);
                k
            })
            .collect();
        keys.sort();
        let back: Vec<i64> = keys.iter().map(|k| read_i64(k).unwrap()).collect();
        assert_eq!(back, vec![i64::MIN, -5, -1, 0, 7, i64::MAX]);
    }

    #[test]
    fn postings_keys_round_trip() {
        let r = SeriesRef {
            id: SeriesId(42),
            ord: 3,
        };
        let k = postings_key(ShardId(1), 19_000, b"job", b"node\0x", r);
        let p = parse_postings_key(&k).unwrap();
        assert_eq!(p.name, b"job");
        assert_eq!(p.value, b"node\0x");
        assert_eq!(p.series, r);
        assert!(k.starts_with(&postings_value_prefix(
            ShardId(1),
            19_000,
            b"job",
            b"node\0x"
        )));
        assert!(parse_postings_key(&k[..k.len() - 1]).is_none());
    }

    #[test]
    fn prefix_successor_skips_all_extensions() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }

    #[test]
    fn chunk_keys_carry_their_start_time() {
        let r = SeriesRef {
            id: SeriesId(9),
            ord: 0,
        };
        let k = chunk_key(ShardId(2), 5, r, -1_000);
        assert_eq!(k.len(), CHUNK_KEY_LEN);
        assert_eq!(chunk_key_mint(&k), Some(-1_000));
        let o = ooo_chunk_key(ShardId(2), 5, r, 77, 3);
        assert_eq!(chunk_key_mint(&o), Some(77));
        assert_eq!(chunk_key_ooo_seq(&o), Some(3));
        assert_eq!(chunk_key_ooo_seq(&k), None);
        assert!(k < chunk_key(ShardId(2), 5, r, 0));
    }
}
