//! matrix-sdk's configuration of every request it makes (login, join, sync,
//! send, upload, key requests) from the sinks' one retry policy
//! ([`crate::notify::retry`]): its HTTP client retries the same cases
//! (`HttpError::retry_kind`: network errors when a retry limit is set, 429
//! and 5xx, 429's `retry_after_ms` first) with backoff from 0.5 s doubling.
//! The one call made before matrix-sdk has a session — whoami, which finds
//! the access token's device — goes through the policy itself.

use std::num::NonZeroUsize;

use matrix_sdk::config::RequestConfig;

use crate::notify::retry::RetryPolicy;

/// The policy as matrix-sdk's configuration of every request.
pub fn request_config(policy: &RetryPolicy) -> RequestConfig {
    RequestConfig::new()
        .timeout(policy.attempt_timeout)
        .retry_limit(policy.attempts)
        // Despite its name, matrix-sdk's longest single backoff.
        .max_retry_time(RetryPolicy::MAX_DELAY)
        // One request at a time: a fresh device's key upload then reaches
        // the homeserver before the query of its own keys, which would
        // otherwise race it and make matrix-sdk warn "Our own device might
        // have been deleted". A run makes a handful of requests.
        .max_concurrent_requests(NonZeroUsize::new(1))
}
