//! Sends one remote_write 1.0 body, retrying 5xx, 429 and connection errors with bounded backoff.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue};
use strata_proto::{PROTOBUF_CONTENT_TYPE, REMOTE_WRITE_VERSION_1, REMOTE_WRITE_VERSION_HEADER};
use tokio::time::Instant;

/// First retry delay; doubled on each further retry.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Largest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Characters of an error answer's body kept for the report.
const ERROR_BODY_CHARS: usize = 300;

/// Returns the headers of a remote_write 1.0 request.
pub(crate) fn remote_write_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(PROTOBUF_CONTENT_TYPE),
    );
    h.insert(
        REMOTE_WRITE_VERSION_HEADER,
        HeaderValue::from_static(REMOTE_WRITE_VERSION_1),
    );
    h
}

/// Builds the HTTP client: no proxy (the target is on loopback), pooled keep-alive connections.
pub(crate) fn build_client(
    request_timeout: Duration,
    pool_size: usize,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(pool_size)
        .build()?)
}

/// What happened to the attempts of one or more requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SendStats {
    /// Requests answered 2xx.
    pub(crate) requests_ok: u64,
    /// Requests given up on: a final 4xx, retries exhausted, or the deadline reached.
    pub(crate) requests_failed: u64,
    /// Attempts repeated after a retryable failure.
    pub(crate) retries: u64,
    /// Non-2xx answers by HTTP status, counting every attempt.
    pub(crate) errors_by_status: BTreeMap<u16, u64>,
    /// Attempts that got no HTTP answer (connection refused or reset, timeout).
    pub(crate) transport_errors: u64,
    /// The first error seen (status and start of the body, or the transport error).
    pub(crate) first_error: Option<String>,
}

impl SendStats {
    /// Adds `other`'s counts to these.
    pub(crate) fn merge(&mut self, other: &SendStats) {
        self.requests_ok += other.requests_ok;
        self.requests_failed += other.requests_failed;
        self.retries += other.retries;
        self.transport_errors += other.transport_errors;
        for (status, n) in &other.errors_by_status {
            *self.errors_by_status.entry(*status).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    fn note_error(&mut self, msg: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(msg());
        }
    }
}

/// Whether an answer's status asks the sender to try again (remote_write's contract).
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// Returns the delay before retry number `attempt` (0-based): 50 ms doubling up to 2 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    BACKOFF_MIN
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX)
}

/// Sends `body` to `url` until it is accepted, refused for good, `max_retries` retries are spent or
/// `deadline` passes. Returns whether it was accepted; counts everything in `stats`.
pub(crate) async fn send_with_retries(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
    max_retries: u32,
    deadline: Instant,
    stats: &mut SendStats,
) -> bool {
    let headers = remote_write_headers();
    let mut attempt = 0u32;
    loop {
        let request = client.post(url).headers(headers.clone()).body(body.clone());
        let retryable = match request.send().await {
            Ok(resp) if resp.status().is_success() => {
                // Drain the (normally empty) body so the connection can be reused.
                let _ = resp.bytes().await;
                stats.requests_ok += 1;
                return true;
            }
            Ok(resp) => {
                let status = resp.status();
                *stats.errors_by_status.entry(status.as_u16()).or_default() += 1;
                let text = resp.text().await.unwrap_or_default();
                stats.note_error(|| {
                    let snippet: String = text.trim().chars().take(ERROR_BODY_CHARS).collect();
                    format!("HTTP {status}: {snippet}")
                });
                is_retryable(status)
            }
            Err(e) => {
                stats.transport_errors += 1;
                stats.note_error(|| format!("transport: {e}"));
                true
            }
        };
        let delay = backoff(attempt);
        if !retryable || attempt >= max_retries || Instant::now() + delay >= deadline {
            stats.requests_failed += 1;
            return false;
        }
        stats.retries += 1;
        attempt += 1;
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(50));
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(5), Duration::from_millis(1600));
        assert_eq!(backoff(6), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn retries_server_errors_and_429_only() {
        assert!(is_retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_retryable(StatusCode::BAD_REQUEST));
        assert!(!is_retryable(StatusCode::PAYLOAD_TOO_LARGE));
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_first_error() {
        let mut a = SendStats {
            requests_ok: 1,
            first_error: Some("a".into()),
            ..Default::default()
        };
        a.errors_by_status.insert(500, 2);
        let mut b = SendStats {
            requests_ok: 2,
            retries: 3,
            first_error: Some("b".into()),
            ..Default::default()
        };
        b.errors_by_status.insert(500, 1);
        b.errors_by_status.insert(400, 1);
        a.merge(&b);
        assert_eq!(a.requests_ok, 3);
        assert_eq!(a.retries, 3);
        assert_eq!(a.errors_by_status.get(&500), Some(&3));
        assert_eq!(a.errors_by_status.get(&400), Some(&1));
        assert_eq!(a.first_error.as_deref(), Some("a"));
    }
}
