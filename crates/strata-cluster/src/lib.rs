//! strata-cluster (in progress).
