//! The `strata` binary (in progress).

fn main() {}
