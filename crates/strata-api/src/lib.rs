//! strata-api (in progress).
