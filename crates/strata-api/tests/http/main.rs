//! HTTP tests of the ingest, operations and query endpoints, against a real server on 127.0.0.1
//! backed by an in-memory store.

// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod interop;
mod ops;
mod query;
mod query_errors;
mod read;
mod support;
mod write;
