//! The local-session backend the configuration asks for.

use anyhow::Context as _;
use session_store::{KeyRing, MemoryStore, RedisStore, ReplicatedStore};
use sso_client::LocalSessions;

use crate::config::{Settings, StoreBackend};

/// Key id of the cookie-session key.
const COOKIE_KEY_ID: &str = "k1";

/// Builds the local sessions for `settings`. Nothing connects yet: Redis is dialled on first use,
/// and a replicated node catches up with its peers in the background. Must run inside the
/// server's Tokio runtime.
///
/// # Errors
/// When a Redis or Sentinel URL or cookie key is malformed, or the replication listener cannot be bound.
pub(crate) fn local_sessions(settings: &Settings) -> anyhow::Result<LocalSessions> {
    let store = &settings.store;
    let redis = || -> anyhow::Result<Option<RedisStore>> {
        store
            .redis()
            .map(|config| {
                RedisStore::new(
                    config
                        .with_prefix(
                            store
                                .prefix
                                .clone()
                                .unwrap_or_else(|| format!("{}:", settings.name)),
                        )
                        .with_local_cache(store.local_cache),
                )
                .context("store.redis_url or store.sentinels")
            })
            .transpose()
    };
    Ok(match store.backend {
        StoreBackend::Memory => LocalSessions::memory(MemoryStore::default()),
        StoreBackend::Redis => LocalSessions::redis(
            redis()?.context("store.redis_url or store.sentinels is required")?,
        ),
        StoreBackend::Replicated => {
            let config = store.replication.store_config(settings.node())?;
            LocalSessions::replicated(ReplicatedStore::start(config).context("store.replication")?)
        }
        StoreBackend::Cookie => {
            let key = store
                .cookie_key
                .as_ref()
                .context("store.cookie_key is required")?;
            let ring = KeyRing::new(COOKIE_KEY_ID, key.expose()).context("store.cookie_key")?;
            match redis()? {
                Some(shared) => LocalSessions::cookie(ring, shared),
                None => {
                    tracing::warn!(
                        "cookie sessions without store.redis_url: single logout revokes sessions \
                         on this node only"
                    );
                    LocalSessions::cookie(ring, MemoryStore::default())
                }
            }
        }
    })
}
