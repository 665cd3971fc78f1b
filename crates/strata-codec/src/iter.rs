//! The iterator over any chunk's samples.

use crate::error::Error;
use crate::packed::PackedIter;
use crate::xor::XorIter;

/// Iterates the samples of a chunk in time order, with a forward-only [`ChunkIter::seek`].
///
/// Damaged bytes end the iteration early; [`ChunkIter::error`] then reports why.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    inner: Inner<'a>,
}

#[derive(Debug, Clone)]
enum Inner<'a> {
    Xor {
        it: XorIter<'a>,
        /// The sample last returned.
        cur: Option<(i64, f64)>,
    },
    Packed(Box<PackedIter<'a>>),
}

impl<'a> ChunkIter<'a> {
    pub(crate) fn from_xor_iter(it: XorIter<'a>) -> Self {
        ChunkIter {
            inner: Inner::Xor { it, cur: None },
        }
    }

    pub(crate) fn from_packed(it: PackedIter<'a>) -> Self {
        ChunkIter {
            inner: Inner::Packed(Box::new(it)),
        }
    }

    /// Returns the first sample with timestamp `>= t`, or `None` if there is none.
    ///
    /// Never moves backwards: if the sample last returned (by `next` or `seek`) is already at or
    /// after `t`, returns it again. After `seek`, `next` returns the sample following the one
    /// returned. `Packed` chunks jump over whole 128-sample blocks without decoding them.
    pub fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        match &mut self.inner {
            Inner::Xor { it, cur } => {
                if let Some(c) = *cur
                    && c.0 >= t
                {
                    return Some(c);
                }
                for s in it.by_ref() {
                    *cur = Some(s);
                    if s.0 >= t {
                        return Some(s);
                    }
                }
                None
            }
            Inner::Packed(p) => p.seek(t),
        }
    }

    /// Returns the error that ended the iteration early, if the chunk bytes are damaged.
    pub fn error(&self) -> Option<&Error> {
        match &self.inner {
            Inner::Xor { it, .. } => it.error(),
            Inner::Packed(p) => p.error(),
        }
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        match &mut self.inner {
            Inner::Xor { it, cur } => {
                let s = it.next();
                if s.is_some() {
                    *cur = s;
                }
                s
            }
            Inner::Packed(p) => p.next(),
        }
    }
}
