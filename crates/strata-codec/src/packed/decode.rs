//! Decoding of `Packed` chunks, one block of 128 samples at a time, with block-skipping seek.

use super::bitpack::{BLOCK, packed_len, unpack};
use super::{
    BLOCK_EXTENDED, EXT_GCD, EXT_PATCH, EXT_SPARSE, EXT_VALUES, MAX_EXP, MODE_CONST, MODE_DECIMAL,
    MODE_XOR, PATCH_POS_BITS, POW10,
};
use crate::bits::BitReader;
use crate::error::{Error, Result};
use crate::varint::{get_uvarint, get_varint};
use crate::xor::xor_read;

/// Checks the headers of a `Packed` payload of `n` samples without decoding the blocks.
pub(crate) fn validate_header(data: &[u8], n: usize) -> Result<()> {
    let it = PackedIter::new(data, n, 0);
    match it.err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Position in the timestamp exception list and the grid it defines.
#[derive(Debug, Clone, Copy)]
struct TsCursor {
    pos: usize,
    left: u64,
    /// The next exception, parsed: (sample index, offset from the grid, re-anchors the grid).
    next: Option<(usize, i64, bool)>,
    last_idx: usize,
    anchor_t: i64,
    anchor_i: usize,
    interval: i64,
}

impl TsCursor {
    fn load_next(&mut self, data: &[u8], n: usize) -> Result<()> {
        if self.left == 0 {
            self.next = None;
            return Ok(());
        }
        self.left -= 1;
        let code = get_uvarint(data, &mut self.pos, "timestamp exception")?;
        let diff = get_varint(data, &mut self.pos, "timestamp exception")?;
        let idx = (self.last_idx as u64)
            .checked_add((code >> 1) + 1)
            .filter(|&i| i < n as u64)
            .ok_or(Error::corrupt("timestamp exception index out of range"))?
            as usize;
        self.last_idx = idx;
        self.next = Some((idx, diff, code & 1 == 1));
        Ok(())
    }

    #[inline]
    fn grid(&self, i: usize) -> i64 {
        self.anchor_t
            .wrapping_add(((i.wrapping_sub(self.anchor_i)) as i64).wrapping_mul(self.interval))
    }

    /// Applies every exception with index below `end` without producing timestamps.
    fn skip_to(&mut self, data: &[u8], n: usize, end: usize) -> Result<()> {
        while let Some((idx, diff, reanchor)) = self.next {
            if idx >= end {
                break;
            }
            if reanchor {
                self.anchor_t = self.grid(idx).wrapping_add(diff);
                self.anchor_i = idx;
            }
            self.load_next(data, n)?;
        }
        Ok(())
    }

    /// Returns the timestamp of sample `i`, all exceptions below `i` having been applied.
    fn at(&self, i: usize) -> i64 {
        match self.next {
            Some((idx, diff, _)) if idx == i => self.grid(i).wrapping_add(diff),
            _ => self.grid(i),
        }
    }

    /// Fills `out` with the timestamps of samples `start..start + out.len()`.
    fn decode(&mut self, data: &[u8], n: usize, start: usize, out: &mut [i64]) -> Result<()> {
        let end = start + out.len();
        let mut cur = start;
        loop {
            let stop = match self.next {
                Some((idx, _, _)) if idx < end => idx,
                _ => end,
            };
            let base = self.grid(cur);
            let step = self.interval;
            let mut t = base;
            let run = out
                .get_mut(cur.wrapping_sub(start)..stop.wrapping_sub(start))
                .ok_or(Error::corrupt("timestamp exceptions out of order"))?;
            for o in run {
                *o = t;
                t = t.wrapping_add(step);
            }
            if stop == end {
                return Ok(());
            }
            if let Some((idx, diff, reanchor)) = self.next {
                let t = self.grid(idx).wrapping_add(diff);
                if let Some(o) = out.get_mut(idx.wrapping_sub(start)) {
                    *o = t;
                }
                if reanchor {
                    self.anchor_t = t;
                    self.anchor_i = idx;
                }
            }
            cur = stop + 1;
            self.load_next(data, n)?;
        }
    }
}

/// Position in a value exception list (decimal mode).
#[derive(Debug, Clone)]
struct ValueExceptions {
    pos: usize,
    left: u64,
    next: Option<(usize, u64)>,
    last_idx: Option<usize>,
}

impl ValueExceptions {
    fn load_next(&mut self, data: &[u8], n: usize) -> Result<()> {
        if self.left == 0 {
            self.next = None;
            return Ok(());
        }
        self.left -= 1;
        let gap = get_uvarint(data, &mut self.pos, "value exception")?;
        let idx = match self.last_idx {
            None => Some(gap),
            Some(l) => (l as u64).checked_add(gap + 1),
        }
        .filter(|&i| i < n as u64)
        .ok_or(Error::corrupt("value exception index out of range"))? as usize;
        let raw = data
            .get(self.pos..self.pos + 8)
            .ok_or(Error::truncated("value exception"))?;
        let mut b = [0u8; 8];
        b.copy_from_slice(raw);
        self.pos += 8;
        self.last_idx = Some(idx);
        self.next = Some((idx, u64::from_le_bytes(b)));
        Ok(())
    }
}

/// Decoder state of the value section.
#[derive(Debug, Clone)]
enum Values {
    Const(f64),
    Decimal {
        pow: f64,
        block_pos: usize,
        prev_first: i64,
        exc: ValueExceptions,
    },
    Xor {
        /// Byte position of the next block.
        block_pos: usize,
    },
}

/// Iterator over a `Packed` chunk. Decodes a block of up to 128 samples at a time into arrays.
#[derive(Debug, Clone)]
pub(crate) struct PackedIter<'a> {
    data: &'a [u8],
    n: usize,
    ts_cur: TsCursor,
    values: Values,
    /// Index of the first sample of the next block to decode.
    next_block: usize,
    /// Number of decoded samples in the buffers, and the next one to return.
    len: usize,
    pos: usize,
    ts: [i64; BLOCK],
    vs: [f64; BLOCK],
    deltas: [u64; BLOCK],
    err: Option<Error>,
}

impl<'a> PackedIter<'a> {
    /// Returns an iterator over a `Packed` payload of `n` samples starting at `min_time`.
    pub(crate) fn new(data: &'a [u8], n: usize, min_time: i64) -> Self {
        let mut it = PackedIter {
            data,
            n,
            ts_cur: TsCursor {
                pos: 0,
                left: 0,
                next: None,
                last_idx: 0,
                anchor_t: min_time,
                anchor_i: 0,
                interval: 0,
            },
            values: Values::Const(0.0),
            next_block: 0,
            len: 0,
            pos: 0,
            ts: [0; BLOCK],
            vs: [0.0; BLOCK],
            deltas: [0; BLOCK],
            err: None,
        };
        if let Err(e) = it.parse_headers() {
            it.err = Some(e);
            it.n = 0;
        }
        it
    }

    fn parse_headers(&mut self) -> Result<()> {
        let data = self.data;
        let mut pos = 0;
        self.ts_cur.interval = get_varint(data, &mut pos, "interval")?;
        let count = get_uvarint(data, &mut pos, "timestamp exception count")?;
        if count >= self.n.max(1) as u64 {
            return Err(Error::corrupt("more timestamp exceptions than samples"));
        }
        self.ts_cur.pos = pos;
        self.ts_cur.left = count;
        // Walk the exceptions once to find the value section.
        for _ in 0..count {
            get_uvarint(data, &mut pos, "timestamp exception")?;
            get_uvarint(data, &mut pos, "timestamp exception")?;
        }
        self.ts_cur.load_next(data, self.n)?;
        let mode = *data.get(pos).ok_or(Error::truncated("value mode"))?;
        pos += 1;
        self.values = match mode {
            MODE_CONST => {
                let raw = data
                    .get(pos..pos + 8)
                    .ok_or(Error::truncated("constant value"))?;
                let mut b = [0u8; 8];
                b.copy_from_slice(raw);
                Values::Const(f64::from_bits(u64::from_le_bytes(b)))
            }
            MODE_DECIMAL => {
                let e = *data.get(pos).ok_or(Error::truncated("decimal exponent"))?;
                if e > MAX_EXP {
                    return Err(Error::corrupt("decimal exponent out of range"));
                }
                pos += 1;
                let count = get_uvarint(data, &mut pos, "value exception count")?;
                if count > self.n as u64 {
                    return Err(Error::corrupt("more value exceptions than samples"));
                }
                let mut exc = ValueExceptions {
                    pos,
                    left: count,
                    next: None,
                    last_idx: None,
                };
                for _ in 0..count {
                    get_uvarint(data, &mut pos, "value exception")?;
                    pos += 8;
                }
                if pos > data.len() {
                    return Err(Error::truncated("value exception"));
                }
                exc.load_next(data, self.n)?;
                Values::Decimal {
                    pow: POW10[usize::from(e)],
                    block_pos: pos,
                    prev_first: 0,
                    exc,
                }
            }
            MODE_XOR => Values::Xor { block_pos: pos },
            _ => return Err(Error::corrupt("unknown value mode")),
        };
        Ok(())
    }

    /// Returns the error that ended iteration early, if any.
    pub(crate) fn error(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    /// Decodes the next block into the buffers; returns false at the end or on error.
    fn fill(&mut self) -> bool {
        if self.next_block >= self.n || self.err.is_some() {
            return false;
        }
        match self.decode_block() {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    fn decode_block(&mut self) -> Result<()> {
        let start = self.next_block;
        let cnt = (self.n - start).min(BLOCK);
        self.ts_cur
            .decode(self.data, self.n, start, &mut self.ts[..cnt])?;
        self.decode_values(start, cnt)?;
        self.next_block = start + cnt;
        self.len = cnt;
        self.pos = 0;
        Ok(())
    }

    /// Decodes the values of samples `start..start + cnt` (one block) into `self.vs`.
    fn decode_values(&mut self, start: usize, cnt: usize) -> Result<()> {
        let data = self.data;
        match &mut self.values {
            Values::Const(v) => self.vs[..cnt].fill(*v),
            Values::Decimal {
                pow,
                block_pos,
                prev_first,
                exc,
            } => {
                let h = read_block_header(data, block_pos, *prev_first, cnt)?;
                *prev_first = h.first;
                unpack(h.body, h.count, h.width, &mut self.deltas);
                if let Some(p) = &h.patches {
                    p.apply(h.width, &mut self.deltas);
                }
                decimals_from_packed(&h, *pow, &mut self.deltas, &mut self.vs[..cnt]);
                while let Some((idx, bits)) = exc.next {
                    if idx >= start + cnt {
                        break;
                    }
                    if let Some(v) = self.vs.get_mut(idx.wrapping_sub(start)) {
                        *v = f64::from_bits(bits);
                    }
                    exc.load_next(data, self.n)?;
                }
            }
            Values::Xor { block_pos } => {
                let body = xor_block(data, block_pos)?;
                let mut r = BitReader::new(body);
                let mut prev = r.read_bits(64, "first value")?;
                let (mut leading, mut trailing) = (0u8, 0u8);
                let (head, rest) = self.vs[..cnt].split_at_mut(1);
                head[0] = f64::from_bits(prev);
                for v in rest {
                    prev = xor_read(&mut r, prev, &mut leading, &mut trailing)?;
                    *v = f64::from_bits(prev);
                }
            }
        }
        Ok(())
    }

    /// Moves the value section past samples `start..start + cnt` (one block), without decoding
    /// them where the mode allows it.
    fn skip_values(&mut self, start: usize, cnt: usize) -> Result<()> {
        let data = self.data;
        match &mut self.values {
            Values::Const(_) => Ok(()),
            Values::Decimal {
                block_pos,
                prev_first,
                exc,
                ..
            } => {
                *prev_first = read_block_header(data, block_pos, *prev_first, cnt)?.first;
                while let Some((idx, _)) = exc.next {
                    if idx >= start + cnt {
                        break;
                    }
                    exc.load_next(data, self.n)?;
                }
                Ok(())
            }
            Values::Xor { block_pos } => xor_block(data, block_pos).map(|_| ()),
        }
    }

    /// Returns the sample last returned by `next` or `seek`, if any.
    fn current(&self) -> Option<(i64, f64)> {
        let i = self.pos.checked_sub(1)?;
        Some((*self.ts.get(i)?, *self.vs.get(i)?))
    }

    /// Skips whole blocks while the block after the next one starts at or before `t`.
    fn skip_blocks_before(&mut self, t: i64) -> Result<()> {
        while self.next_block + BLOCK < self.n {
            let after = self.next_block + BLOCK;
            let mut probe = self.ts_cur;
            probe.skip_to(self.data, self.n, after)?;
            if probe.at(after) > t {
                break;
            }
            self.skip_values(self.next_block, BLOCK)?;
            self.ts_cur = probe;
            self.next_block = after;
        }
        Ok(())
    }

    /// Returns the first sample at or after `t`, never moving backwards.
    pub(crate) fn seek(&mut self, t: i64) -> Option<(i64, f64)> {
        if let Some(cur) = self.current()
            && cur.0 >= t
        {
            return Some(cur);
        }
        loop {
            if let Some(k) = self.ts[self.pos..self.len].iter().position(|&x| x >= t) {
                let i = self.pos + k;
                self.pos = i + 1;
                return Some((self.ts[i], self.vs[i]));
            }
            self.pos = self.len;
            if self.err.is_some() {
                return None;
            }
            if let Err(e) = self.skip_blocks_before(t) {
                self.fail(e);
                return None;
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn fail(&mut self, e: Error) {
        self.err = Some(e);
        self.len = 0;
        self.pos = 0;
        self.n = 0;
    }
}

/// Returns the next XOR value block at `*pos` and advances `*pos` past it.
#[inline]
fn xor_block<'d>(data: &'d [u8], pos: &mut usize) -> Result<&'d [u8]> {
    let len = get_uvarint(data, pos, "xor block length")?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| pos.checked_add(l))
        .filter(|&e| e <= data.len())
        .ok_or(Error::truncated("xor block"))?;
    let body = &data[*pos..end];
    *pos = end;
    Ok(body)
}

/// `2^52 + 2^51`: adding an integer in `[-2^51, 2^51)` to this double's bit pattern yields
/// exactly `MAGIC + n`, so subtracting `MAGIC` converts `n` to `f64` exactly, in a form the
/// compiler can vectorise (unlike `i64 as f64` without AVX-512).
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// Turns a block's header and unpacked integers into values `n / pow`.
///
/// `packed[..out.len() - 1]` holds the unpacked integers on entry and is overwritten with the
/// scaled integers `n`. The prefix sum (delta blocks) is the only serial part; conversion and
/// division run in a separate, branch-free loop.
#[inline]
fn decimals_from_packed(h: &BlockHeader<'_>, pow: f64, packed: &mut [u64; BLOCK], out: &mut [f64]) {
    let Some((head, rest)) = out.split_first_mut() else {
        return;
    };
    let first = h.first;
    *head = first as f64 / pow;
    let (mut base, mut g) = (h.base, h.gcd as i64);
    if let Some(bitmap) = h.bitmap {
        // Scatter the k-th packed integer to the position of the k-th set bit; the cost is
        // proportional to the number of changes, not to the block length.
        let mut k = 0usize;
        let mut out = [0u64; BLOCK];
        for (half, mut word) in [(0usize, bitmap as u64), (64, (bitmap >> 64) as u64)] {
            while word != 0 {
                let i = half + word.trailing_zeros() as usize;
                word &= word - 1;
                let p = packed.get(k).copied().unwrap_or(0);
                k += 1;
                if let Some(o) = out.get_mut(i) {
                    *o = base.wrapping_add((p as i64).wrapping_mul(g)) as u64;
                }
            }
        }
        *packed = out;
        (base, g) = (0, 1);
    }
    let ns = &mut packed[..rest.len()];
    let mut mag = first ^ (first >> 63);
    if h.values {
        let b = first.wrapping_add(base);
        for p in ns.iter_mut() {
            let n = b.wrapping_add((*p as i64).wrapping_mul(g));
            mag |= n ^ (n >> 63);
            *p = n as u64;
        }
    } else {
        let mut acc = first;
        for p in ns.iter_mut() {
            acc = acc.wrapping_add(base.wrapping_add((*p as i64).wrapping_mul(g)));
            mag |= acc ^ (acc >> 63);
            *p = acc as u64;
        }
    }
    if mag < (1 << 51) {
        let magic = MAGIC.to_bits() as i64;
        if pow == 1.0 {
            for (v, n) in rest.iter_mut().zip(ns.iter()) {
                *v = f64::from_bits(magic.wrapping_add(*n as i64) as u64) - MAGIC;
            }
        } else {
            for (v, n) in rest.iter_mut().zip(ns.iter()) {
                *v = (f64::from_bits(magic.wrapping_add(*n as i64) as u64) - MAGIC) / pow;
            }
        }
    } else {
        for (v, n) in rest.iter_mut().zip(ns.iter()) {
            *v = *n as i64 as f64 / pow;
        }
    }
}

/// Reads a decimal block header at `*pos` and returns (first n, delta base, width, packed
/// bytes), advancing `*pos` past the block.
#[inline]
fn read_block_header<'d>(
    data: &'d [u8],
    pos: &mut usize,
    prev_first: i64,
    cnt: usize,
) -> Result<BlockHeader<'d>> {
    let d = get_varint(data, pos, "block first value")?;
    let base = get_varint(data, pos, "block base")?;
    let wb = *data.get(*pos).ok_or(Error::truncated("block width"))?;
    *pos += 1;
    let width = u32::from(wb & !BLOCK_EXTENDED);
    if width > 64 {
        return Err(Error::corrupt("block width above 64"));
    }
    let (mut values, mut gcd, mut bitmap, mut patch) = (false, 1u64, None, false);
    if wb & BLOCK_EXTENDED != 0 {
        let ext = *data.get(*pos).ok_or(Error::truncated("block flags"))?;
        *pos += 1;
        if ext & !(EXT_VALUES | EXT_GCD | EXT_SPARSE | EXT_PATCH) != 0
            || ext & (EXT_VALUES | EXT_SPARSE) == (EXT_VALUES | EXT_SPARSE)
        {
            return Err(Error::corrupt("bad block flags"));
        }
        values = ext & EXT_VALUES != 0;
        patch = ext & EXT_PATCH != 0;
        if ext & EXT_GCD != 0 {
            gcd = get_uvarint(data, pos, "block common factor")?;
        }
        if ext & EXT_SPARSE != 0 {
            let len = packed_len(cnt - 1, 1);
            let raw = data
                .get(*pos..*pos + len)
                .ok_or(Error::truncated("block bitmap"))?;
            *pos += len;
            let mut b = [0u8; 16];
            b[..len].copy_from_slice(raw);
            // cnt <= 128, so at most 127 bits.
            let mask = (1u128 << (cnt - 1)) - 1;
            bitmap = Some(u128::from_le_bytes(b) & mask);
        }
    }
    let count = bitmap.map_or(cnt - 1, |b: u128| b.count_ones() as usize);
    let mut patches = None;
    if patch {
        let np = usize::from(*data.get(*pos).ok_or(Error::truncated("patch count"))?);
        let hw = u32::from(*data.get(*pos + 1).ok_or(Error::truncated("patch width"))?);
        *pos += 2;
        if np > count || hw == 0 || width + hw > 64 {
            return Err(Error::corrupt("bad block patches"));
        }
        let pl = packed_len(np, PATCH_POS_BITS);
        let hl = packed_len(np, hw);
        let positions = data
            .get(*pos..*pos + pl)
            .ok_or(Error::truncated("patch positions"))?;
        let highs = data
            .get(*pos + pl..*pos + pl + hl)
            .ok_or(Error::truncated("patch values"))?;
        *pos += pl + hl;
        patches = Some(Patches {
            count: np,
            high_width: hw,
            positions,
            highs,
        });
    }
    let len = packed_len(count, width);
    let body = data
        .get(*pos..*pos + len)
        .ok_or(Error::truncated("packed block"))?;
    *pos += len;
    Ok(BlockHeader {
        first: prev_first.wrapping_add(d),
        base,
        gcd,
        values,
        bitmap,
        count,
        width,
        patches,
        body,
    })
}

/// Outliers of a patched block: positions (7 bits each) and high bits, both LSB-first.
struct Patches<'d> {
    count: usize,
    high_width: u32,
    positions: &'d [u8],
    highs: &'d [u8],
}

impl Patches<'_> {
    /// ORs the high bits into the unpacked low bits.
    fn apply(&self, low_width: u32, packed: &mut [u64; BLOCK]) {
        let mut pos_bit = 0usize;
        let mut high_bit = 0usize;
        for _ in 0..self.count {
            let p = read_lsb(self.positions, pos_bit, PATCH_POS_BITS) as usize;
            let h = read_lsb(self.highs, high_bit, self.high_width);
            pos_bit += PATCH_POS_BITS as usize;
            high_bit += self.high_width as usize;
            if let Some(x) = packed.get_mut(p) {
                *x |= h << low_width;
            }
        }
    }
}

/// Reads `width` (≤ 64) bits at bit offset `bit` of an LSB-first bit string; missing bytes
/// read as zero.
#[inline]
fn read_lsb(bytes: &[u8], bit: usize, width: u32) -> u64 {
    let start = bit >> 3;
    let mut buf = [0u8; 16];
    let avail = bytes.get(start..).unwrap_or(&[]);
    let n = avail.len().min(16);
    buf[..n].copy_from_slice(&avail[..n]);
    let x = (u128::from_le_bytes(buf) >> (bit & 7)) as u64;
    if width >= 64 {
        x
    } else {
        x & ((1u64 << width) - 1)
    }
}

/// A decimal block's header and packed bytes.
struct BlockHeader<'d> {
    /// The block's first scaled integer.
    first: i64,
    /// Frame-of-reference base of the packed integers.
    base: i64,
    /// Common factor of the packed integers.
    gcd: u64,
    /// Whether the packed integers are values relative to `first` (else deltas).
    values: bool,
    /// For sparse blocks, which deltas are non-zero (bit `i` for delta `i`).
    bitmap: Option<u128>,
    /// Number of packed integers.
    count: usize,
    /// High bits of the integers that do not fit `width`.
    patches: Option<Patches<'d>>,
    width: u32,
    body: &'d [u8],
}

impl Iterator for PackedIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.pos >= self.len && !self.fill() {
            return None;
        }
        let i = self.pos;
        self.pos += 1;
        Some((*self.ts.get(i)?, *self.vs.get(i)?))
    }
}
