//! strata-rpc (in progress).
