//! Label sets and their canonical byte encoding.
//!
//! Canonical encoding (used for hashing, storage and the Raft log): for each label in name order,
//! `uvarint(len(name)) name uvarint(len(value)) value`. Labels with empty values are dropped, as
//! Prometheus treats an empty value as an absent label.

use std::fmt;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label: a name and a value, both UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name.
    pub name: String,
    /// The label value.
    pub value: String,
}

impl Label {
    /// Returns a label with the given name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Errors found while building or decoding a label set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// Two labels share one name.
    #[error("duplicate label name {0:?}")]
    DuplicateName(String),
    /// A label has an empty name.
    #[error("empty label name")]
    EmptyName,
    /// Canonical bytes are truncated or malformed.
    #[error("malformed canonical label bytes")]
    Malformed,
    /// A name or value is not valid UTF-8.
    #[error("label name or value is not valid utf-8")]
    InvalidUtf8,
}

/// A set of labels sorted by name with unique names: the identity of a series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Returns the empty label set.
    pub fn empty() -> Self {
        Labels(Vec::new())
    }

    /// Builds a label set from pairs in any order; drops empty values and rejects duplicate or
    /// empty names.
    pub fn from_pairs<N, V, I>(pairs: I) -> Result<Self, LabelsError>
    where
        N: Into<String>,
        V: Into<String>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut v: Vec<Label> = pairs
            .into_iter()
            .map(|(n, val)| Label::new(n, val))
            .collect();
        Self::from_vec(std::mem::take(&mut v))
    }

    /// Builds a label set from labels in any order; drops empty values and rejects duplicate or
    /// empty names.
    pub fn from_vec(mut v: Vec<Label>) -> Result<Self, LabelsError> {
        v.retain(|l| !l.value.is_empty());
        v.sort_by(|a, b| a.name.cmp(&b.name));
        for w in v.windows(2) {
            if w[0].name == w[1].name {
                return Err(LabelsError::DuplicateName(w[0].name.clone()));
            }
        }
        if v.iter().any(|l| l.name.is_empty()) {
            return Err(LabelsError::EmptyName);
        }
        Ok(Labels(v))
    }

    /// Builds a label set from labels already sorted by unique, non-empty names with non-empty
    /// values. The caller guarantees the invariant; debug builds check it.
    pub fn from_sorted_unchecked(v: Vec<Label>) -> Self {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name));
        Labels(v)
    }

    /// Returns the labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Returns the labels as a slice in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Returns the number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// Returns the metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets label `name` to `value`, or removes it when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value.to_owned(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, Label::new(name, value)),
        }
    }

    /// Removes label `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    /// Returns a copy without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        let mut l = self.clone();
        l.remove(METRIC_NAME);
        l
    }

    /// Keeps only the labels for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Label) -> bool) {
        self.0.retain(|l| keep(l));
    }

    /// Consumes the set and returns its labels in name order.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// Appends the canonical encoding of this label set to `buf`.
    pub fn encode_canonical(&self, buf: &mut Vec<u8>) {
        for l in &self.0 {
            put_uvarint(buf, l.name.len() as u64);
            buf.extend_from_slice(l.name.as_bytes());
            put_uvarint(buf, l.value.len() as u64);
            buf.extend_from_slice(l.value.as_bytes());
        }
    }

    /// Returns the canonical encoding of this label set.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(
            self.0
                .iter()
                .map(|l| l.name.len() + l.value.len() + 2)
                .sum(),
        );
        self.encode_canonical(&mut buf);
        buf
    }

    /// Returns the series id of this label set.
    pub fn series_id(&self) -> crate::SeriesId {
        crate::SeriesId::from_canonical(&self.to_canonical())
    }

    /// Decodes canonical bytes into a label set, checking UTF-8, order and uniqueness.
    pub fn decode_canonical(bytes: &[u8]) -> Result<Self, LabelsError> {
        let mut out = Vec::new();
        for pair in CanonicalIter::new(bytes) {
            let (n, v) = pair?;
            let n = std::str::from_utf8(n).map_err(|_| LabelsError::InvalidUtf8)?;
            let v = std::str::from_utf8(v).map_err(|_| LabelsError::InvalidUtf8)?;
            out.push(Label::new(n, v));
        }
        for w in out.windows(2) {
            if w[0].name >= w[1].name {
                return Err(LabelsError::Malformed);
            }
        }
        Ok(Labels(out))
    }
}

impl fmt::Display for Labels {
    /// Formats as `name{a="b", c="d"}` like Prometheus.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.metric_name() {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Iterates `(name, value)` byte pairs of a canonical label encoding without allocating.
#[derive(Debug, Clone)]
pub struct CanonicalIter<'a> {
    rest: &'a [u8],
}

impl<'a> CanonicalIter<'a> {
    /// Returns an iterator over the pairs encoded in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        CanonicalIter { rest: bytes }
    }

    fn take(&mut self) -> Result<&'a [u8], LabelsError> {
        let (len, n) = get_uvarint(self.rest).ok_or(LabelsError::Malformed)?;
        let len = usize::try_from(len).map_err(|_| LabelsError::Malformed)?;
        let rest = &self.rest[n..];
        if rest.len() < len {
            return Err(LabelsError::Malformed);
        }
        let (s, r) = rest.split_at(len);
        self.rest = r;
        Ok(s)
    }
}

impl<'a> Iterator for CanonicalIter<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), LabelsError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.take().and_then(|n| Ok((n, self.take()?)));
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads an unsigned LEB128 varint; returns the value and the bytes consumed.
pub fn get_uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorts_and_drops_empty_values() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", "")]).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.as_slice()[0].name, "a");
        assert_eq!(l.get("b"), Some("2"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn rejects_duplicate_names() {
        assert_eq!(
            Labels::from_pairs([("a", "1"), ("a", "2")]),
            Err(LabelsError::DuplicateName("a".into()))
        );
    }

    #[test]
    fn displays_like_prometheus() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]).unwrap();
        assert_eq!(l.to_string(), "up{job=\"x\"}");
    }

    #[test]
    fn truncated_canonical_bytes_are_rejected() {
        let l = Labels::from_pairs([("a", "1")]).unwrap();
        let b = l.to_canonical();
        assert_eq!(
            Labels::decode_canonical(&b[..b.len() - 1]),
            Err(LabelsError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn canonical_round_trip(pairs in proptest::collection::btree_map("[a-z_]{1,8}", ".{1,12}", 0..8)) {
            let l = Labels::from_pairs(pairs.clone()).unwrap();
            let bytes = l.to_canonical();
            prop_assert_eq!(Labels::decode_canonical(&bytes).unwrap(), l.clone());
            // Insertion order never changes the identity.
            let rev = Labels::from_pairs(pairs.into_iter().rev()).unwrap();
            prop_assert_eq!(rev.series_id(), l.series_id());
        }

        #[test]
        fn varint_round_trip(v in any::<u64>()) {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            prop_assert_eq!(get_uvarint(&b), Some((v, b.len())));
        }
    }
}
