//! The `Packed` closed-chunk encoding: columnar, exact, and cheap to decode.
//!
//! Timestamps are a regular grid (`min_time + i * interval`) plus a sparse list of exceptions;
//! each exception either moves one sample off the grid (scrape jitter) or re-anchors the grid at
//! that sample (a gap or an interval change). Values are, per chunk, the cheapest of:
//! - **constant**: one value's 64 bits;
//! - **decimal**: every value is `n / 10^e` for an integer `n` and a chunk-wide `e` (checked to
//!   reproduce the exact `f64` bits); the `n` are stored in blocks of 128, bit-packed after a
//!   per-block frame of reference, in whichever form needs the fewest bits: deltas (counters),
//!   values (noisy gauges), or only the non-zero deltas plus a bitmap (series that mostly
//!   repeat); a common factor (pages, sectors) is divided out, and a few outliers may be
//!   patched in instead of widening the whole block. Values that are not such decimals (NaN,
//!   staleness markers, ±Inf, -0.0, long fractions) are exceptions stored raw;
//! - **xor**: Gorilla XOR value bits (as in Prometheus, without timestamps), for full-precision
//!   floats.
//!
//! Every decimal block starts with its first `n` (as a delta from the previous block's first),
//! so a seek jumps over whole blocks by reading three small headers per block.
//! The byte layout is in `docs/format/chunks.md`.

mod bitpack;
mod decode;

pub(crate) use decode::{PackedIter, validate_header};

use crate::bits::BitWriter;
use crate::varint::{put_uvarint, put_varint};
use crate::xor::xor_write;
use bitpack::{BLOCK, pack, width_of};

/// Value section tag: all values have the same bits.
pub(crate) const MODE_CONST: u8 = 0;
/// Value section tag: scaled decimals, bit-packed in blocks.
pub(crate) const MODE_DECIMAL: u8 = 1;
/// Value section tag: Gorilla XOR value bits.
pub(crate) const MODE_XOR: u8 = 2;

/// Largest decimal exponent tried; `10^e` must be exact in an `f64` (true up to 22).
pub(crate) const MAX_EXP: u8 = 18;

/// Powers of ten, all exactly representable as `f64`.
pub(crate) const POW10: [f64; MAX_EXP as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// Encodes samples (at least one) as a `Packed` payload, or returns `None` if the encoding does
/// not apply.
pub(crate) fn encode(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    if samples.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(16 + samples.len());
    encode_timestamps(samples, &mut out);
    encode_values(samples, &mut out);
    Some(out)
}

/// Returns the delta that occurs in more than half of the pairs if there is one (Boyer–Moore
/// majority vote), otherwise some frequent delta.
fn majority_delta(samples: &[(i64, f64)]) -> i64 {
    let mut cand = 0i64;
    let mut votes = 0usize;
    for w in samples.windows(2) {
        let d = w[1].0.wrapping_sub(w[0].0);
        if votes == 0 {
            cand = d;
            votes = 1;
        } else if d == cand {
            votes += 1;
        } else {
            votes -= 1;
        }
    }
    cand
}

/// Writes the timestamp section: interval, exception count, exceptions.
fn encode_timestamps(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    let interval = majority_delta(samples);
    put_varint(out, interval);
    let mut exc = Vec::new();
    let mut count = 0u64;
    let (mut anchor_t, mut anchor_i) = (samples[0].0, 0usize);
    let mut prev_idx = 0usize;
    for i in 1..samples.len() {
        let t = samples[i].0;
        let pred = anchor_t.wrapping_add(((i - anchor_i) as i64).wrapping_mul(interval));
        if t == pred {
            continue;
        }
        let back_on_grid = match samples.get(i + 1) {
            Some(&(next, _)) => next == pred.wrapping_add(interval),
            None => true,
        };
        let reanchor = u64::from(!back_on_grid);
        put_uvarint(&mut exc, (((i - prev_idx - 1) as u64) << 1) | reanchor);
        put_varint(&mut exc, t.wrapping_sub(pred));
        prev_idx = i;
        count += 1;
        if !back_on_grid {
            anchor_t = t;
            anchor_i = i;
        }
    }
    put_uvarint(out, count);
    out.extend_from_slice(&exc);
}

/// Returns `n` such that `n / 10^e` is exactly `v`, if there is one.
#[inline]
fn as_decimal(v: f64, e: u8) -> Option<i64> {
    let p = POW10[usize::from(e)];
    let n = (v * p).round() as i64;
    ((n as f64 / p).to_bits() == v.to_bits()).then_some(n)
}

/// Returns the smallest exponent `e >= from` for which `v` is an exact decimal.
fn min_exponent(v: f64, from: u8) -> Option<u8> {
    if !v.is_finite() {
        return None;
    }
    (from..=MAX_EXP).find(|&e| as_decimal(v, e).is_some())
}

/// Writes the value section, choosing the smallest of the applicable modes.
fn encode_values(samples: &[(i64, f64)], out: &mut Vec<u8>) {
    let first = samples[0].1.to_bits();
    if samples.iter().all(|s| s.1.to_bits() == first) {
        out.push(MODE_CONST);
        out.extend_from_slice(&first.to_le_bytes());
        return;
    }
    let decimal = encode_decimal(samples);
    // XOR needs at least ~1 bit per changing value: only try it when decimal is not already
    // clearly better.
    let want_xor = match &decimal {
        None => true,
        Some(d) => d.len() > samples.len() / 4 + 16,
    };
    let best = match (decimal, want_xor) {
        (Some(d), false) => d,
        (Some(d), true) => {
            let x = encode_xor_values(samples);
            if x.len() < d.len() { x } else { d }
        }
        (None, _) => encode_xor_values(samples),
    };
    out.extend_from_slice(&best);
}

/// Encodes values in XOR mode: per block of 128, a uvarint byte length, then the first value's
/// 64 bits and Gorilla XOR bits for the rest, padded to a byte. Each block restarts the XOR
/// state so that a seek can jump over it.
fn encode_xor_values(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut out = vec![MODE_XOR];
    for block in samples.chunks(BLOCK) {
        let mut w = BitWriter::default();
        let first = block[0].1.to_bits();
        w.write_bits(first, 64);
        let (mut prev, mut leading, mut trailing) = (first, 0xffu8, 0u8);
        for s in &block[1..] {
            let b = s.1.to_bits();
            xor_write(&mut w, b, prev, &mut leading, &mut trailing);
            prev = b;
        }
        let bytes = w.into_bytes();
        put_uvarint(&mut out, bytes.len() as u64);
        out.extend_from_slice(&bytes);
    }
    out
}

/// Encodes values in decimal mode, or returns `None` if too many values are not decimals.
fn encode_decimal(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    // Pass 1: the chunk exponent is the largest per-value minimal exponent.
    let mut e = 0u8;
    for s in samples {
        if as_decimal(s.1, e).is_none()
            && let Some(m) = min_exponent(s.1, e + 1)
        {
            e = m;
        }
    }
    // Pass 2: scaled integers at that exponent; misses become raw exceptions.
    let mut ns: Vec<i64> = Vec::with_capacity(samples.len());
    let mut exc: Vec<(usize, u64)> = Vec::new();
    let mut last_good: Option<i64> = None;
    for (i, s) in samples.iter().enumerate() {
        match as_decimal(s.1, e) {
            Some(n) => {
                if last_good.is_none() {
                    // Leading exceptions take the first good value so the deltas stay small.
                    ns.iter_mut().for_each(|x| *x = n);
                }
                last_good = Some(n);
                ns.push(n);
            }
            None => {
                exc.push((i, s.1.to_bits()));
                ns.push(last_good.unwrap_or(0));
            }
        }
    }
    if exc.len() * 4 > samples.len() {
        return None;
    }
    let mut out = Vec::with_capacity(8 + samples.len());
    out.push(MODE_DECIMAL);
    out.push(e);
    put_uvarint(&mut out, exc.len() as u64);
    let mut prev = 0usize;
    for (k, &(i, bits)) in exc.iter().enumerate() {
        let gap = if k == 0 { i } else { i - prev - 1 };
        put_uvarint(&mut out, gap as u64);
        out.extend_from_slice(&bits.to_le_bytes());
        prev = i;
    }
    let mut prev_first = 0i64;
    for block in ns.chunks(BLOCK) {
        put_varint(&mut out, block[0].wrapping_sub(prev_first));
        prev_first = block[0];
        encode_block(block, &mut out);
    }
    Some(out)
}

/// Block header flag (in the width byte): an extension byte follows.
pub(crate) const BLOCK_EXTENDED: u8 = 0x80;
/// Extension flag: the packed integers are values (minus the base), not deltas.
pub(crate) const EXT_VALUES: u8 = 0x01;
/// Extension flag: a uvarint common factor of the packed integers follows.
pub(crate) const EXT_GCD: u8 = 0x02;
/// Extension flag: a bitmap marks the non-zero deltas and only those are packed.
pub(crate) const EXT_SPARSE: u8 = 0x04;
/// Extension flag: the packed width is too narrow for a few outliers, whose high bits follow
/// as patches (patched frame of reference).
pub(crate) const EXT_PATCH: u8 = 0x08;
/// Bits of a patch position (an index below 128).
pub(crate) const PATCH_POS_BITS: u32 = 7;

/// Frame-of-reference form of one block's integers: `packed[i] * gcd + base`.
struct Frame {
    base: i64,
    gcd: u64,
    width: u32,
    packed: [u64; BLOCK],
}

/// Returns the frame of reference of `xs` (at most `BLOCK` integers).
fn frame(xs: impl Iterator<Item = i64> + Clone) -> Frame {
    let base = xs.clone().min().unwrap_or(0);
    let mut packed = [0u64; BLOCK];
    let mut g = 0u64;
    for (p, x) in packed.iter_mut().zip(xs) {
        *p = x.wrapping_sub(base) as u64;
        if g != 1 {
            g = gcd(g, *p);
        }
    }
    let g = g.max(1);
    let mut max = 0u64;
    for p in packed.iter_mut() {
        *p /= g;
        max |= *p;
    }
    Frame {
        base,
        gcd: g,
        width: width_of(max),
        packed,
    }
}

/// Returns the greatest common divisor (`gcd(0, x) = x`).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Writes a block's base, width byte, optional extension and packed integers. The block's
/// first integer has already been written; the rest are packed either as deltas or as values,
/// whichever needs fewer bits.
fn encode_block(block: &[i64], out: &mut Vec<u8>) {
    let m = block.len() - 1;
    let delta_iter = block.windows(2).map(|w| w[1].wrapping_sub(w[0]));
    let deltas = frame(delta_iter.clone());
    let first = block[0];
    let values = frame(block[1..].iter().map(|&n| n.wrapping_sub(first)));
    let nnz = delta_iter.clone().filter(|&d| d != 0).count();
    let sparse = (nnz * 2 < m).then(|| frame(delta_iter.clone().filter(|&d| d != 0)));
    let plan_d = plan_width(&deltas, m);
    let plan_v = plan_width(&values, m);
    let mut best = (plan_d.1, 0u8);
    if plan_v.1 < best.0 {
        best = (plan_v.1, EXT_VALUES);
    }
    let plan_s = sparse.as_ref().map(|s| plan_width(s, nnz));
    if let Some(p) = plan_s
        && m + p.1 + 8 < best.0
    {
        best = (m + p.1, EXT_SPARSE);
    }
    let (f, ext, count, low) = match (best.1, sparse, plan_s) {
        (EXT_VALUES, _, _) => (values, EXT_VALUES, m, plan_v.0),
        (EXT_SPARSE, Some(s), Some(p)) => (s, EXT_SPARSE, nnz, p.0),
        _ => (deltas, 0, m, plan_d.0),
    };
    let mut ext = ext | if f.gcd > 1 { EXT_GCD } else { 0 };
    if low < f.width {
        ext |= EXT_PATCH;
    }
    put_varint(out, f.base);
    if ext == 0 {
        out.push(f.width as u8);
    } else {
        out.push(low as u8 | BLOCK_EXTENDED);
        out.push(ext);
        if ext & EXT_GCD != 0 {
            put_uvarint(out, f.gcd);
        }
    }
    if ext & EXT_SPARSE != 0 {
        let bitmap: Vec<u64> = delta_iter.map(|d| u64::from(d != 0)).collect();
        pack(&bitmap, 1, out);
    }
    let values = &f.packed[..count];
    if ext & EXT_PATCH != 0 {
        let high_width = f.width - low;
        let (pos, highs): (Vec<u64>, Vec<u64>) = values
            .iter()
            .enumerate()
            .filter(|&(_, &p)| width_of(p) > low)
            .map(|(i, &p)| (i as u64, p >> low))
            .unzip();
        out.push(pos.len() as u8);
        out.push(high_width as u8);
        pack(&pos, PATCH_POS_BITS, out);
        pack(&highs, high_width, out);
        let mask = (1u64 << low) - 1;
        let lows: Vec<u64> = values.iter().map(|&p| p & mask).collect();
        pack(&lows, low, out);
    } else {
        pack(values, f.width, out);
    }
}

/// Returns the packed width and the cost in bits of `f`'s first `count` integers: either the
/// full width, or a narrower one with the outliers' high bits as patches when that is smaller.
fn plan_width(f: &Frame, count: usize) -> (u32, usize) {
    let w = f.width;
    let mut hist = [0usize; 65];
    for &p in &f.packed[..count] {
        hist[width_of(p) as usize] += 1;
    }
    let mut best = (w, count * w as usize);
    let mut outliers = 0usize;
    for low in (0..w).rev() {
        outliers += hist[low as usize + 1];
        // Two header bytes, then positions and high bits; allow a byte of padding each.
        let cost = count * low as usize + outliers * (PATCH_POS_BITS + w - low) as usize + 32;
        if cost < best.1 {
            best = (low, cost);
        }
    }
    best
}
