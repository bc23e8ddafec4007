//! Where local sessions live, and how single logout ends them on each backend.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_store::{
    CookieStore, CounterStore, IndexTag, KeyRing, MemoryStore, RedisStore, ReplicatedStore,
    Revocation, RevocationList, SessionIndex, SessionStore,
};
use sso_common::metrics::{MeteredStore, StoreMetricNames};

/// The local-session backend of a subsystem.
///
/// | backend | single logout | across nodes |
/// |---|---|---|
/// | [`LocalSessions::memory`] | deletes the sessions of the `sid` | one node only |
/// | [`LocalSessions::redis`] | deletes the sessions of the `sid` | every node (shared) |
/// | [`LocalSessions::replicated`] | deletes the sessions of the `sid`; the delete replicates | every node (peer to peer) |
/// | [`LocalSessions::cookie`] | revokes the `sid` in a revocation list | every node sharing the list, and every node within [`SessionSettings::recheck_secs`](crate::SessionSettings::recheck_secs) |
///
/// The same store also remembers logout-token ids, so a replayed token is refused on every
/// node that shares it.
///
/// A session's tokens (the id token for sign-out, the access and refresh tokens) never travel
/// in a cookie: server-side backends keep them in the session record, and cookie sessions keep
/// them in a record of the store given to [`LocalSessions::cookie`], named by the cookie, so the
/// cookie carries only what a request needs.
pub struct LocalSessions {
    kind: Kind,
}

enum Kind {
    Indexed {
        store: Arc<dyn SessionStore>,
        index: Arc<dyn SessionIndex>,
        counters: Arc<dyn CounterStore>,
        backend: &'static str,
    },
    Cookie {
        ring: Box<KeyRing>,
        counters: Arc<dyn CounterStore>,
        vault: Arc<dyn SessionIndex>,
        revocation: Arc<dyn Revocation>,
        revoker: Arc<dyn RevokeTag>,
    },
}

impl fmt::Debug for LocalSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.kind {
            Kind::Indexed { backend, .. } => backend,
            Kind::Cookie { .. } => &"cookie",
        };
        f.debug_struct("LocalSessions")
            .field("backend", backend)
            .finish()
    }
}

impl LocalSessions {
    /// Sessions in this process (single node, demos, tests).
    pub fn memory(store: MemoryStore) -> Self {
        Self::indexed(store, "memory")
    }

    /// Sessions in Redis, shared by every node: single logout on one node ends the sessions
    /// on all of them.
    pub fn redis(store: RedisStore) -> Self {
        Self::indexed(store, "redis")
    }

    /// Sessions on every node of a small cluster without Redis, replicated peer to peer: single
    /// logout on one node deletes the sessions everywhere.
    pub fn replicated(store: ReplicatedStore) -> Self {
        Self::indexed(store, "replicated")
    }

    /// Sessions in any store with an index; `backend` names it for display.
    pub fn indexed<S>(store: S, backend: &'static str) -> Self
    where
        S: SessionIndex + CounterStore + Clone + 'static,
    {
        Self {
            kind: Kind::Indexed {
                store: Arc::new(store.clone()),
                index: Arc::new(store.clone()),
                counters: Arc::new(store),
                backend,
            },
        }
    }

    /// Sessions sealed into the cookie itself with `ring`. Single logout puts the `sid` on a
    /// revocation list kept in `shared` (use a store every node shares, such as Redis, so a
    /// logout reaches them all); each node checks the list when it opens a session cookie.
    /// The session's tokens are kept in `shared` too, and deleted there by single logout.
    pub fn cookie<C>(ring: KeyRing, shared: C) -> Self
    where
        C: SessionIndex + CounterStore + Clone + 'static,
    {
        let list = Arc::new(RevocationList::new(shared.clone()));
        Self {
            kind: Kind::Cookie {
                ring: Box::new(ring),
                vault: Arc::new(shared.clone()),
                counters: Arc::new(shared),
                revocation: list.clone(),
                revoker: list,
            },
        }
    }

    /// The backend ready for use with session cookies named `cookie_name`. Every store
    /// operation but the per-request read is timed (`sso_client_store_*`, see
    /// [`crate::metrics`]).
    pub(crate) fn into_backend(self, cookie_name: &str) -> Backend {
        match self.kind {
            Kind::Indexed {
                store,
                index,
                counters,
                backend,
            } => Backend {
                store: metered(Arc::clone(&store), backend),
                reader: store,
                ending: Ending::Delete(metered(index, backend)),
                counters: metered(counters, backend),
                vault: None,
                name: backend,
            },
            Kind::Cookie {
                ring,
                counters,
                vault,
                revocation,
                revoker,
            } => {
                // The SDK's records hold no text an attacker chooses (see `CookieStore`'s
                // compression notes): only the user's claims and the session's own values.
                let store: Arc<dyn SessionStore> = Arc::new(
                    CookieStore::new(cookie_name, *ring)
                        .with_revocation(revocation)
                        .with_compression(),
                );
                let vault: Arc<dyn SessionIndex> = metered(vault, "cookie");
                Backend {
                    store: metered(Arc::clone(&store), "cookie"),
                    reader: store,
                    ending: Ending::Revoke(revoker, Arc::clone(&vault)),
                    counters: metered(counters, "cookie"),
                    vault: Some(vault),
                    name: "cookie",
                }
            }
        }
    }
}

/// `store`, timed under `backend`.
fn metered<S: ?Sized>(store: Arc<S>, backend: &'static str) -> Arc<MeteredStore<S>> {
    Arc::new(MeteredStore::new(store, backend, StoreMetricNames::CLIENT))
}

/// Revokes tags in a revocation list, whatever store keeps it.
#[async_trait]
trait RevokeTag: Send + Sync + fmt::Debug {
    async fn revoke_tag(&self, tag: &IndexTag, duration: Duration) -> session_store::Result<()>;
}

#[async_trait]
impl<C: CounterStore + 'static> RevokeTag for RevocationList<C> {
    async fn revoke_tag(&self, tag: &IndexTag, duration: Duration) -> session_store::Result<()> {
        self.revoke(tag, duration).await
    }
}

#[derive(Debug)]
enum Ending {
    Delete(Arc<dyn SessionIndex>),
    /// Revoke the tag, and delete the token records of the sessions carrying it.
    Revoke(Arc<dyn RevokeTag>, Arc<dyn SessionIndex>),
}

/// A resolved backend.
#[derive(Debug)]
pub(crate) struct Backend {
    /// The store, timed.
    pub(crate) store: Arc<dyn SessionStore>,
    /// The same store untimed, for the read every signed-in request makes: timing it would
    /// cost a measurable share of an in-process read.
    pub(crate) reader: Arc<dyn SessionStore>,
    pub(crate) counters: Arc<dyn CounterStore>,
    /// Where the tokens of client-side sessions are kept.
    pub(crate) vault: Option<Arc<dyn SessionIndex>>,
    pub(crate) name: &'static str,
    ending: Ending,
}

impl Backend {
    /// Whether sessions live in the browser, so only a re-check with the center can end a
    /// copy that missed a single logout.
    pub(crate) fn is_client_side(&self) -> bool {
        matches!(self.ending, Ending::Revoke(..))
    }

    /// Ends every local session tagged `tag` and returns how many it ended: sessions deleted,
    /// or for cookie sessions the token records deleted (one per session signed in with
    /// tokens). A revocation lasts `lifetime`, the longest a session can live.
    pub(crate) async fn end_tagged(
        &self,
        tag: &IndexTag,
        lifetime: Duration,
    ) -> session_store::Result<usize> {
        match &self.ending {
            Ending::Delete(index) => {
                let deleted = index.delete_by_tag(tag).await?;
                tracing::info!(tag = tag.as_str(), deleted, "local sessions ended");
                Ok(deleted)
            }
            Ending::Revoke(list, vault) => {
                list.revoke_tag(tag, lifetime).await?;
                let forgotten = vault.delete_by_tag(tag).await?;
                tracing::info!(tag = tag.as_str(), forgotten, "local sessions revoked");
                Ok(forgotten)
            }
        }
    }
}
