//! The installation tokens of one run, by app (see [`super::App::cache_key`]).
//!
//! Sources fetched at the same time that share an app installation wait for
//! one request: each key has its own lock, held while its token is asked for.
//! A token is reused until 80% of its lifetime has passed, and never longer
//! than an hour, as fluxcd/pkg `cache.TokenCache` does (the kubelet's rule
//! for ServiceAccount tokens).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Token;

/// The longest a token is reused (fluxcd/pkg `cache.TokenMaxDuration`).
pub const MAX_REUSE: Duration = Duration::from_secs(3600);

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

struct Cached {
    token: Token,
    until: Instant,
}

/// Installation tokens, shared by the fetches of one run.
#[derive(Clone, Default)]
pub struct TokenCache {
    slots: Arc<Mutex<HashMap<[u8; 32], Slot>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        write!(f, "TokenCache({n} apps)")
    }
}

/// How long a token that is valid for `lifetime` more is reused.
pub fn reuse_for(lifetime: Duration) -> Duration {
    (lifetime * 8 / 10).min(MAX_REUSE)
}

impl TokenCache {
    /// The token cached under `key`, or the one `fetch` gets (with how long
    /// it is valid), cached. A failed fetch is not cached.
    pub async fn get_or_fetch<E, F, Fut>(&self, key: [u8; 32], fetch: F) -> Result<Token, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Token, Duration), E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.until) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        *cached = Some(Cached {
            token: token.clone(),
            until: Instant::now() + reuse_for(lifetime),
        });
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn get(
        cache: &TokenCache,
        key: u8,
        calls: &AtomicU32,
        lifetime: Duration,
    ) -> Result<Token, String> {
        cache
            .get_or_fetch([key; 32], || async {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok((Token::new(format!("token-{key}-{n}")), lifetime))
            })
            .await
    }

    #[tokio::test]
    async fn one_request_per_app_however_many_sources_ask_at_once() {
        let cache = TokenCache::default();
        let calls = AtomicU32::new(0);
        let hour = Duration::from_secs(3600);
        let (a, b, c) = tokio::join!(
            get(&cache, 1, &calls, hour),
            get(&cache, 1, &calls, hour),
            get(&cache, 1, &calls, hour)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(a.unwrap().expose(), "token-1-1");
        assert_eq!(b.unwrap(), c.unwrap());
        // Another app (installation, key or API): its own request.
        assert_eq!(
            get(&cache, 2, &calls, hour).await.unwrap().expose(),
            "token-2-2"
        );
        assert_eq!(
            get(&cache, 1, &calls, hour).await.unwrap().expose(),
            "token-1-1"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_token_past_80_percent_of_its_lifetime_is_asked_for_again() {
        let cache = TokenCache::default();
        let calls = AtomicU32::new(0);
        // 0.8 × 0 s: stale at once.
        get(&cache, 1, &calls, Duration::ZERO).await.unwrap();
        let again = get(&cache, 1, &calls, Duration::from_secs(60)).await;
        assert_eq!(again.unwrap().expose(), "token-1-2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(reuse_for(Duration::from_secs(100)), Duration::from_secs(80));
        // GitHub's tokens live an hour: reused 48 min; never more than 1 h.
        assert_eq!(
            reuse_for(Duration::from_secs(3600)),
            Duration::from_secs(2880)
        );
        assert_eq!(reuse_for(Duration::from_secs(86400)), MAX_REUSE);
    }

    #[tokio::test]
    async fn a_failed_request_is_not_cached() {
        let cache = TokenCache::default();
        let failed: Result<Token, String> = cache
            .get_or_fetch([7; 32], || async { Err("401".to_string()) })
            .await;
        assert_eq!(failed.unwrap_err(), "401");
        let calls = AtomicU32::new(0);
        let ok = get(&cache, 7, &calls, Duration::from_secs(60)).await;
        assert_eq!(ok.unwrap().expose(), "token-7-1");
    }
}
