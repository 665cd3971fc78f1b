//! strata-storage (in progress).
