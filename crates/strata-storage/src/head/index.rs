//! The inverted index of head series: label name → label value → sorted slots.

use std::collections::HashMap;

use strata_model::labels::CanonicalIter;

use crate::error::Result;
use crate::postings::{PostingsSource, ValueFilter, union_all};

/// Label name → value → sorted list of head slots.
#[derive(Debug, Default)]
pub(crate) struct MemIndex {
    map: HashMap<Box<str>, HashMap<Box<str>, Vec<u32>>>,
}

/// Yields the `(name, value)` pairs of canonical label bytes that are valid UTF-8.
pub(crate) fn label_pairs(labels: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    CanonicalIter::new(labels).filter_map(|p| {
        let (n, v) = p.ok()?;
        Some((std::str::from_utf8(n).ok()?, std::str::from_utf8(v).ok()?))
    })
}

/// Returns the value of label `name` in canonical label bytes, `""` when absent.
pub(crate) fn label_value<'a>(labels: &'a [u8], name: &str) -> &'a str {
    label_pairs(labels)
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v)
}

impl MemIndex {
    pub(crate) fn add(&mut self, slot: u32, labels: &[u8]) {
        for (n, v) in label_pairs(labels) {
            let values = self.map.entry(n.into()).or_default();
            let list = values.entry(v.into()).or_default();
            match list.last() {
                Some(&last) if last > slot => {
                    if let Err(i) = list.binary_search(&slot) {
                        list.insert(i, slot);
                    }
                }
                Some(&last) if last == slot => {}
                _ => list.push(slot),
            }
        }
    }

    pub(crate) fn remove(&mut self, slot: u32, labels: &[u8]) {
        for (n, v) in label_pairs(labels) {
            let Some(values) = self.map.get_mut(n) else {
                continue;
            };
            if let Some(list) = values.get_mut(v) {
                if let Ok(i) = list.binary_search(&slot) {
                    list.remove(i);
                }
                if list.is_empty() {
                    values.remove(v);
                }
            }
            if values.is_empty() {
                self.map.remove(n);
            }
        }
    }

    /// Returns every label name in the index, unsorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(|k| &**k)
    }

    /// Returns every value of label `name`, unsorted.
    pub(crate) fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.map
            .get(name)
            .into_iter()
            .flat_map(|m| m.keys().map(|k| &**k))
    }

    /// Returns an estimate of the index's heap bytes.
    pub(crate) fn approx_bytes(&self) -> usize {
        let mut total = self.map.capacity() * 48;
        for (n, values) in &self.map {
            total += n.len() + values.capacity() * 48;
            for (v, list) in values {
                total += v.len() + list.capacity() * 4;
            }
        }
        total
    }
}

/// The head index together with a way to list the live slots (only needed for selectors
/// without an intersecting matcher), as a [`PostingsSource`].
pub(crate) struct HeadPostings<'a> {
    pub(crate) index: &'a MemIndex,
    pub(crate) live: &'a dyn Fn() -> Vec<u32>,
}

impl PostingsSource for HeadPostings<'_> {
    type Ref = u32;

    fn all_postings(&self) -> Result<Vec<u32>> {
        Ok((self.live)())
    }

    fn postings_for(&self, name: &str, filter: &ValueFilter<'_>) -> Result<Vec<u32>> {
        let Some(values) = self.index.map.get(name) else {
            return Ok(Vec::new());
        };
        let lists: Vec<Vec<u32>> = match filter {
            ValueFilter::Exact(vs) => vs.iter().filter_map(|v| values.get(*v).cloned()).collect(),
            ValueFilter::Matching { .. } => values
                .iter()
                .filter(|(v, _)| filter.accepts(v))
                .map(|(_, l)| l.clone())
                .collect(),
        };
        Ok(union_all(lists))
    }
}

#[cfg(test)]
mod tests {
    use strata_model::Labels;

    use super::*;

    #[test]
    fn adds_and_removes_postings_in_order() {
        let mut idx = MemIndex::default();
        let a = Labels::from_pairs([("job", "x"), ("i", "1")])
            .unwrap()
            .to_canonical();
        let b = Labels::from_pairs([("job", "x"), ("i", "2")])
            .unwrap()
            .to_canonical();
        idx.add(5, &a);
        idx.add(2, &b);
        let live = || vec![2, 5];
        let src = HeadPostings {
            index: &idx,
            live: &live,
        };
        let got = src
            .postings_for("job", &ValueFilter::Exact(vec!["x"]))
            .unwrap();
        assert_eq!(got, vec![2, 5]);
        idx.remove(5, &a);
        assert_eq!(idx.values("i").collect::<Vec<_>>(), vec!["2"]);
        idx.remove(2, &b);
        assert_eq!(idx.names().count(), 0);
        assert_eq!(label_value(&a, "job"), "x");
        assert_eq!(label_value(&a, "nope"), "");
    }
}
