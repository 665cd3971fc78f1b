//! strata-proto (in progress).
