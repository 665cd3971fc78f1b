//! Postings: sorted lists of series references, their set operations, and the evaluation of a
//! list of label matchers over any postings source (the in-memory head index or a partition of
//! the on-disk postings column family).
//!
//! Matcher semantics are Prometheus': a label a series lacks reads as `""`. A matcher that does
//! not match `""` selects a subset of the series *having* the label (intersect); a matcher that
//! matches `""` keeps every series except those having the label with a non-matching value
//! (subtract). With no intersecting matcher the base set is every series of the source.

use strata_model::{MatchOp, Matcher};

use crate::error::Result;

/// Which values of one label name to collect postings for.
#[derive(Debug)]
pub(crate) enum ValueFilter<'a> {
    /// Exactly these values (never contains `""`).
    Exact(Vec<&'a str>),
    /// Values on which the matcher's result equals `want`.
    Matching {
        /// The matcher to evaluate.
        matcher: &'a Matcher,
        /// Collect values the matcher accepts (`true`) or refuses (`false`).
        want: bool,
    },
}

impl ValueFilter<'_> {
    /// Returns whether `value` passes the filter.
    pub(crate) fn accepts(&self, value: &str) -> bool {
        match self {
            ValueFilter::Exact(vs) => vs.contains(&value),
            ValueFilter::Matching { matcher, want } => matcher.matches(value) == *want,
        }
    }
}

/// A set of series that matchers are evaluated against.
pub(crate) trait PostingsSource {
    /// The reference type of a series in this source.
    type Ref: Ord + Copy;

    /// Returns every series of the source, sorted.
    fn all_postings(&self) -> Result<Vec<Self::Ref>>;

    /// Returns the sorted union of the postings of the values of `name` that pass `filter`.
    fn postings_for(&self, name: &str, filter: &ValueFilter<'_>) -> Result<Vec<Self::Ref>>;
}

/// Returns the alternatives of a regex that is a plain `|`-list of literals.
fn literal_alternatives(value: &str) -> Option<Vec<&str>> {
    let special = |c: char| "\\.+*?()[]{}^$".contains(c);
    if value.chars().any(special) {
        return None;
    }
    Some(value.split('|').collect())
}

/// Builds the filter selecting the values on which `m` evaluates to `want`.
pub(crate) fn value_filter(m: &Matcher, want: bool) -> ValueFilter<'_> {
    fn exact(vals: Vec<&str>) -> ValueFilter<'_> {
        ValueFilter::Exact(vals.into_iter().filter(|v| !v.is_empty()).collect())
    }
    match (m.op, want) {
        (MatchOp::Equal, true) | (MatchOp::NotEqual, false) => exact(vec![m.value.as_str()]),
        (MatchOp::Regex, true) | (MatchOp::NotRegex, false) => match literal_alternatives(&m.value)
        {
            Some(alts) => exact(alts),
            None => ValueFilter::Matching { matcher: m, want },
        },
        _ => ValueFilter::Matching { matcher: m, want },
    }
}

/// Returns the sorted series of `src` that match every matcher.
pub(crate) fn select_postings<S: PostingsSource>(
    src: &S,
    matchers: &[Matcher],
) -> Result<Vec<S::Ref>> {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    // Intersections first, smallest lists first, and stop early on an empty one.
    for m in matchers.iter().filter(|m| !m.matches_empty()) {
        let p = src.postings_for(&m.name, &value_filter(m, true))?;
        if p.is_empty() {
            return Ok(Vec::new());
        }
        include.push(p);
    }
    let base = if include.is_empty() {
        src.all_postings()?
    } else {
        intersect_all(include)
    };
    if base.is_empty() {
        return Ok(base);
    }
    for m in matchers.iter().filter(|m| m.matches_empty()) {
        let p = src.postings_for(&m.name, &value_filter(m, false))?;
        if !p.is_empty() {
            exclude.push(p);
        }
    }
    if exclude.is_empty() {
        return Ok(base);
    }
    Ok(difference(&base, &union_all(exclude)))
}

/// Returns the intersection of sorted, deduplicated lists.
pub(crate) fn intersect_all<T: Ord + Copy>(mut lists: Vec<Vec<T>>) -> Vec<T> {
    lists.sort_by_key(Vec::len);
    let mut iter = lists.into_iter();
    let Some(mut acc) = iter.next() else {
        return Vec::new();
    };
    for l in iter {
        if acc.is_empty() {
            break;
        }
        acc = intersect(&acc, &l);
    }
    acc
}

/// Returns the intersection of two sorted, deduplicated lists.
pub(crate) fn intersect<T: Ord + Copy>(a: &[T], b: &[T]) -> Vec<T> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if small.len() * 16 < large.len() {
        // Galloping: binary search the large list for each element of the small one.
        let mut rest = large;
        for &x in small {
            match rest.binary_search(&x) {
                Ok(i) => {
                    out.push(x);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Returns the union of sorted lists, sorted and deduplicated.
pub(crate) fn union_all<T: Ord + Copy>(lists: Vec<Vec<T>>) -> Vec<T> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists.into_iter().next().unwrap_or_default(),
        _ => {
            let mut all: Vec<T> = lists.into_iter().flatten().collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// Returns the elements of sorted `a` that are not in sorted `b`.
pub(crate) fn difference<T: Ord + Copy>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    /// A postings source over an explicit list of label maps.
    struct Mem(Vec<BTreeMap<String, String>>);

    impl PostingsSource for Mem {
        type Ref = u32;

        fn all_postings(&self) -> Result<Vec<u32>> {
            Ok((0..self.0.len() as u32).collect())
        }

        fn postings_for(&self, name: &str, filter: &ValueFilter<'_>) -> Result<Vec<u32>> {
            Ok((0..self.0.len() as u32)
                .filter(|&i| {
                    self.0[i as usize]
                        .get(name)
                        .is_some_and(|v| filter.accepts(v))
                })
                .collect())
        }
    }

    fn brute(src: &Mem, ms: &[Matcher]) -> Vec<u32> {
        (0..src.0.len() as u32)
            .filter(|&i| {
                let l = &src.0[i as usize];
                ms.iter()
                    .all(|m| m.matches(l.get(&m.name).map(String::as_str).unwrap_or("")))
            })
            .collect()
    }

    fn sorted_set() -> impl Strategy<Value = Vec<u16>> {
        proptest::collection::btree_set(0u16..200, 0..60).prop_map(|s| s.into_iter().collect())
    }

    fn matcher() -> impl Strategy<Value = Matcher> {
        let op = prop_oneof![
            Just(MatchOp::Equal),
            Just(MatchOp::NotEqual),
            Just(MatchOp::Regex),
            Just(MatchOp::NotRegex)
        ];
        let value = prop_oneof![
            Just(String::new()),
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("a|b".to_owned()),
            Just(".*".to_owned()),
            Just(".+".to_owned()),
            Just("a.*".to_owned()),
            Just("|c".to_owned()),
        ];
        (op, prop_oneof![Just("x"), Just("y"), Just("z")], value)
            .prop_map(|(op, n, v)| Matcher::new(op, n, v).unwrap())
    }

    fn series() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map(
            prop_oneof![Just("x".to_owned()), Just("y".to_owned())],
            prop_oneof![
                Just("a".to_owned()),
                Just("b".to_owned()),
                Just("c".to_owned()),
                Just("ab".to_owned())
            ],
            0..3,
        )
    }

    proptest! {
        #[test]
        fn set_operations_agree_with_btreeset(a in sorted_set(), b in sorted_set(), c in sorted_set()) {
            let (sa, sb, sc): (BTreeSet<u16>, BTreeSet<u16>, BTreeSet<u16>) =
                (a.iter().copied().collect(), b.iter().copied().collect(), c.iter().copied().collect());
            let want: Vec<u16> = sa.intersection(&sb).copied().collect();
            prop_assert_eq!(intersect(&a, &b), want);
            let want: Vec<u16> = sa.intersection(&sb).copied().filter(|x| sc.contains(x)).collect();
            prop_assert_eq!(intersect_all(vec![a.clone(), b.clone(), c.clone()]), want);
            let want: Vec<u16> = sa.union(&sb).copied().chain(sc.iter().copied()).collect::<BTreeSet<_>>().into_iter().collect();
            prop_assert_eq!(union_all(vec![a.clone(), b.clone(), c.clone()]), want);
            let want: Vec<u16> = sa.difference(&sb).copied().collect();
            prop_assert_eq!(difference(&a, &b), want);
        }

        #[test]
        fn galloping_intersection_agrees(small in proptest::collection::btree_set(0u32..5000, 0..8),
                                         large in proptest::collection::btree_set(0u32..5000, 200..400)) {
            let a: Vec<u32> = small.iter().copied().collect();
            let b: Vec<u32> = large.iter().copied().collect();
            let want: Vec<u32> = small.intersection(&large).copied().collect();
            prop_assert_eq!(intersect(&a, &b), want.clone());
            prop_assert_eq!(intersect(&b, &a), want);
        }

        #[test]
        fn matcher_evaluation_agrees_with_brute_force(
            data in proptest::collection::vec(series(), 0..30),
            ms in proptest::collection::vec(matcher(), 0..4),
        ) {
            let src = Mem(data);
            prop_assert_eq!(select_postings(&src, &ms).unwrap(), brute(&src, &ms));
        }
    }
}
