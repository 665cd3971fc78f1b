//! Samples and Prometheus' staleness marker.

/// Bit pattern of the NaN that Prometheus writes to mark a series stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Returns Prometheus' staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Returns whether `v` is exactly Prometheus' staleness marker (not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond timestamp and a value kept bit-exact.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; NaN payloads are preserved.
    pub v: f64,
}

impl Sample {
    /// Returns a sample at `t` milliseconds with value `v`.
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
}

impl PartialEq for Sample {
    /// Compares timestamps and the exact value bits, so NaNs with equal payloads are equal.
    fn eq(&self, other: &Self) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

impl Eq for Sample {}
