//! strata-raft (in progress).
