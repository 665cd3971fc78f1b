//! A small JSON writer that serializes answers straight into the response buffer, in the exact
//! formats of Prometheus' API: floats as strings in Go's shortest `'f'` form (`"+Inf"`, `"-Inf"`,
//! `"NaN"`), timestamps as float seconds with at most three decimals (`1435781451.781`).
//!
//! Answers are never built as a `serde_json::Value` first, so a large series list or matrix
//! exists once in memory: as the bytes of the response.

use std::fmt::Write as _;

use bytes::Bytes;
use strata_model::Labels;
use strata_promql::FloatHistogram;
use tokio::sync::mpsc;

/// Size of the chunks a streamed answer is sent in.
const CHUNK_BYTES: usize = 64 * 1024;

/// A JSON response body under construction: either one buffer, or (streaming) a buffer that
/// [`JsonBuf::checkpoint`] hands to the connection in chunks of about 64 KiB.
#[derive(Debug, Default)]
pub(crate) struct JsonBuf {
    out: String,
    tx: Option<mpsc::Sender<Bytes>>,
    gone: bool,
}

impl JsonBuf {
    /// Returns a buffer with room for `cap` bytes.
    pub(crate) fn with_capacity(cap: usize) -> Self {
        JsonBuf {
            out: String::with_capacity(cap),
            ..JsonBuf::default()
        }
    }

    /// Returns a streaming buffer that sends its chunks to `tx`. Only for blocking threads:
    /// sending waits for the connection to take the previous chunks.
    pub(crate) fn streaming(tx: mpsc::Sender<Bytes>) -> Self {
        JsonBuf {
            out: String::with_capacity(CHUNK_BYTES + 4096),
            tx: Some(tx),
            gone: false,
        }
    }

    /// Sends the buffered bytes if this is a streaming buffer holding a full chunk.
    pub(crate) fn checkpoint(&mut self) {
        if self.out.len() >= CHUNK_BYTES {
            self.send();
        }
    }

    /// Returns whether the client went away (a streaming buffer's receiver was dropped), so
    /// producers can stop early.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone
    }

    /// Sends whatever is buffered (streaming) and ends the stream.
    pub(crate) fn finish(mut self) {
        self.send();
    }

    fn send(&mut self) {
        let Some(tx) = &self.tx else {
            return;
        };
        if self.out.is_empty() || self.gone {
            self.out.clear();
            return;
        }
        let chunk = std::mem::replace(&mut self.out, String::with_capacity(CHUNK_BYTES + 4096));
        if tx.blocking_send(Bytes::from(chunk)).is_err() {
            self.gone = true;
        }
    }

    /// Appends raw JSON text (punctuation, keys known to need no escaping).
    pub(crate) fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Appends a JSON string literal, escaped.
    pub(crate) fn string(&mut self, s: &str) {
        self.out.reserve(s.len() + 2);
        self.out.push('"');
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let esc: Option<&str> = match b {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                b'\n' => Some("\\n"),
                b'\r' => Some("\\r"),
                b'\t' => Some("\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            self.out.push_str(&s[start..i]);
            match esc {
                Some(e) => self.out.push_str(e),
                None => {
                    let _ = write!(self.out, "\\u{b:04x}");
                }
            }
            start = i + 1;
        }
        self.out.push_str(&s[start..]);
        self.out.push('"');
    }

    /// Appends `"key":`.
    pub(crate) fn key(&mut self, k: &str) {
        self.string(k);
        self.out.push(':');
    }

    /// Appends an unsigned integer.
    pub(crate) fn uint(&mut self, v: u64) {
        let _ = write!(self.out, "{v}");
    }

    /// Appends a signed integer.
    pub(crate) fn int(&mut self, v: i64) {
        let _ = write!(self.out, "{v}");
    }

    /// Appends a float as a JSON number (for durations and statistics, never sample values).
    pub(crate) fn number(&mut self, v: f64) {
        if v.is_finite() {
            let _ = write!(self.out, "{v}");
        } else {
            self.out.push_str("null");
        }
    }

    /// Appends a sample value as Prometheus writes it: a string in Go's `strconv.FormatFloat(f,
    /// 'f', -1, 64)` form, or `"+Inf"`, `"-Inf"`, `"NaN"`.
    pub(crate) fn float_string(&mut self, v: f64) {
        self.out.push('"');
        push_go_float(&mut self.out, v);
        self.out.push('"');
    }

    /// Appends a millisecond timestamp as float seconds: `1435781451.781`, `-1.5`, `12`.
    pub(crate) fn timestamp(&mut self, t_ms: i64) {
        push_timestamp(&mut self.out, t_ms);
    }

    /// Appends a label set as a JSON object, in label order.
    pub(crate) fn labels(&mut self, labels: &Labels) {
        self.out.push('{');
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.key(&l.name);
            self.string(&l.value);
        }
        self.out.push('}');
    }

    /// Appends Prometheus' `"samples"` statistics object: the per-step reads (only with
    /// `per_step`, as Prometheus writes them for `stats=all`), the total and the peak.
    pub(crate) fn sample_stats(&mut self, s: &strata_promql::QueryStats, per_step: bool) {
        self.out.push('{');
        if per_step && !s.total_queryable_samples_per_step.is_empty() {
            self.out.push_str("\"totalQueryableSamplesPerStep\":[");
            for (i, (t, n)) in s.total_queryable_samples_per_step.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push('[');
                self.timestamp(*t);
                self.out.push(',');
                self.int(*n);
                self.out.push(']');
            }
            self.out.push_str("],");
        }
        self.out.push_str("\"totalQueryableSamples\":");
        self.int(s.total_queryable_samples);
        self.out.push_str(",\"peakSamples\":");
        self.int(s.peak_samples);
        self.out.push('}');
    }

    /// Appends `[t,"v"]`.
    pub(crate) fn point(&mut self, t_ms: i64, v: f64) {
        self.out.push('[');
        self.timestamp(t_ms);
        self.out.push(',');
        self.float_string(v);
        self.out.push(']');
    }

    /// Appends `[t,{histogram}]` in Prometheus' native histogram JSON form.
    pub(crate) fn histogram_point(&mut self, t_ms: i64, h: &FloatHistogram) {
        self.out.push('[');
        self.timestamp(t_ms);
        self.out.push_str(",{\"count\":");
        self.float_string(h.count);
        self.out.push_str(",\"sum\":");
        self.float_string(h.sum);
        let buckets = h.api_buckets();
        if !buckets.is_empty() {
            self.out.push_str(",\"buckets\":[");
            for (i, (rule, lo, hi, count)) in buckets.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push('[');
                self.uint(u64::from(*rule));
                self.out.push(',');
                self.float_string(*lo);
                self.out.push(',');
                self.float_string(*hi);
                self.out.push(',');
                self.float_string(*count);
                self.out.push(']');
            }
            self.out.push(']');
        }
        self.out.push_str("}]");
    }

    /// Returns the finished body.
    pub(crate) fn into_string(self) -> String {
        self.out
    }
}

/// Appends `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus' spellings of the
/// non-finite values. Rust's `Display` for `f64` is also the shortest round-tripping decimal
/// without an exponent, so only the special values differ.
pub(crate) fn push_go_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends a millisecond timestamp as seconds with the fraction's trailing zeros kept to three
/// digits exactly as Prometheus' `jsonutil.MarshalTimestamp` does.
pub(crate) fn push_timestamp(out: &mut String, t_ms: i64) {
    let mut t = i128::from(t_ms);
    if t < 0 {
        out.push('-');
        t = -t;
    }
    let _ = write!(out, "{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let mut digits = format!("{frac:03}");
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(v: f64) -> String {
        let mut s = String::new();
        push_go_float(&mut s, v);
        s
    }

    fn ts(t: i64) -> String {
        let mut s = String::new();
        push_timestamp(&mut s, t);
        s
    }

    #[test]
    fn floats_follow_go_shortest_f_format() {
        assert_eq!(go(2.0), "2");
        assert_eq!(go(0.1), "0.1");
        assert_eq!(go(-0.0), "-0");
        assert_eq!(go(1e21), "1000000000000000000000");
        assert_eq!(go(1e-7), "0.0000001");
        assert_eq!(go(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(go(f64::INFINITY), "+Inf");
        assert_eq!(go(f64::NEG_INFINITY), "-Inf");
        assert_eq!(go(f64::NAN), "NaN");
        assert_eq!(go(f64::from_bits(0x7ff0_0000_0000_0002)), "NaN");
    }

    #[test]
    fn timestamps_are_float_seconds() {
        assert_eq!(ts(1_435_781_451_781), "1435781451.781");
        assert_eq!(ts(1_435_781_451_100), "1435781451.1");
        assert_eq!(ts(1_435_781_451_000), "1435781451");
        assert_eq!(ts(1_435_781_451_005), "1435781451.005");
        assert_eq!(ts(-1_500), "-1.5");
        assert_eq!(ts(0), "0");
        assert_eq!(ts(i64::MIN), "-9223372036854775.808");
    }

    #[test]
    fn strings_are_escaped() {
        let mut b = JsonBuf::default();
        b.string("a\"b\\c\nd\u{1}é");
        assert_eq!(b.into_string(), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
