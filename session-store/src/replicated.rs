//! The replicated backend: every node holds every record and pushes its writes to its peers,
//! for small clusters (2–5 nodes) without Redis.
//!
//! # What it promises
//! - **Local reads and writes.** A write applies on the node that takes it and is pushed to
//!   every peer in the background; with [`ReplicationConfig::acknowledged_writes`] session
//!   writes (create, update, delete) wait until one peer confirms, up to
//!   [`ReplicationConfig::ack_timeout`], so a sign-in or sign-out survives the loss of the node
//!   that took it.
//! - **Convergence.** Every record carries a hybrid-logical-clock version and its origin node;
//!   the newest version wins everywhere, ties broken by node id. A delete leaves a tombstone that
//!   beats every write to that key, stale or concurrent (session keys are never reused), kept
//!   until the buried record would have expired plus a skew margin.
//! - **Repair.** Every [`ReplicationConfig::anti_entropy_interval`] each node compares hash-bucket
//!   digests with each peer and pulls the buckets that differ, so pushes lost to a crash or a
//!   partition are repaired within about one interval after peers can talk again.
//! - **Catch-up before ready.** A starting node pulls a paged snapshot from the first peer that
//!   answers before [`ReplicatedStore::is_ready`] turns true; writes arriving meanwhile are
//!   merged, not dropped. A node with no reachable peer starts alone.
//! - **One-time values stay single-use**: a key names the node that issued it and every take is
//!   served by that node, atomically. If that node is down, its values cannot be taken (an error),
//!   which for authorization codes means signing in again.
//! - **Authenticated peers**: every frame is HMAC-SHA256-signed with the shared secret, time-
//!   stamped and carries a nonce; unauthenticated, stale or replayed frames are refused.
//!
//! # What it does not promise
//! - No linearizability: two nodes may briefly disagree (read-your-writes holds on one node;
//!   sticky load balancing keeps a user on one node).
//! - Idle-deadline refreshes are pushed (at most once per [`Record::touch_granularity`]) but not
//!   repaired by anti-entropy, so after a partition a session may end up to that much earlier on
//!   a node that missed the refresh.
//! - Counters count every increment made anywhere, but two nodes that open a window at the same
//!   moment open two windows, each ending on its own schedule.
//! - Memory is not bounded beyond expiry: size the nodes for the sessions they hold.

mod hlc;
mod state;
mod wire;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use self::hlc::{Clock, Version};
use self::state::{
    CounterState, Merged, State, TOMBSTONE_MARGIN, Value, WireSlot, from_wire, to_wire,
};
use self::wire::{Codec, Request, Response, WireError};
pub(crate) use crate::lock;
use crate::{
    CounterStore, Error, IndexTag, MemoryStore, OneTimeKey, OneTimeStore, Record, Result, Session,
    SessionIndex, SessionKey, SessionStore, Timestamp,
};

/// Slots fetched per snapshot page.
const PAGE: usize = 1000;
/// Writes queued per peer before new ones are left to anti-entropy.
const QUEUE: usize = 1024;
/// Slots sent in one push frame.
const BATCH: usize = 512;
/// How long pushes to a peer that failed are left to anti-entropy before trying it again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A peer node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer's node id.
    pub id: String,
    /// Where its replication listener is.
    pub addr: SocketAddr,
}

/// How a node replicates.
#[derive(Clone)]
pub struct ReplicationConfig {
    /// This node's id: 1–32 characters of `a-z 0-9 -`, unique in the cluster.
    pub node_id: String,
    /// Where to listen for peers.
    pub listen: SocketAddr,
    /// The other nodes.
    pub peers: Vec<Peer>,
    /// The cluster's shared secret (at least 32 bytes), e.g. from a secrets file.
    pub secret: Vec<u8>,
    /// Whether session writes wait for one peer's acknowledgement.
    pub acknowledged_writes: bool,
    /// Longest wait for that acknowledgement; after it the write stands locally and a warning
    /// is logged.
    pub ack_timeout: Duration,
    /// Time between two digest comparisons with each peer.
    pub anti_entropy_interval: Duration,
    /// Longest time one peer request may take, connecting included.
    pub peer_timeout: Duration,
    /// How long a tombstone is kept for a record this node never saw.
    pub unknown_tombstone_ttl: Duration,
    /// Longest time an operation on a node that is still catching up waits for it to finish
    /// (see [`ReplicatedStore::is_ready`]); after that it is served from what the node has.
    pub ready_timeout: Duration,
}

impl fmt::Debug for ReplicationConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationConfig")
            .field("node_id", &self.node_id)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("acknowledged_writes", &self.acknowledged_writes)
            .finish_non_exhaustive()
    }
}

impl ReplicationConfig {
    /// A node `node_id` listening on `listen` with the given peers and secret, and defaults:
    /// unacknowledged writes (2 s ack timeout when enabled), anti-entropy every 2 s, 1 s peer
    /// timeout, unknown tombstones kept 24 h, operations wait up to 10 s for catch-up.
    pub fn new(node_id: &str, listen: SocketAddr, peers: Vec<Peer>, secret: Vec<u8>) -> Self {
        Self {
            node_id: node_id.to_owned(),
            listen,
            peers,
            secret,
            acknowledged_writes: false,
            ack_timeout: Duration::from_secs(2),
            anti_entropy_interval: Duration::from_secs(2),
            peer_timeout: Duration::from_secs(1),
            unknown_tombstone_ttl: Duration::from_secs(24 * 3600),
            ready_timeout: Duration::from_secs(10),
        }
    }

    fn validate(&self) -> Result<()> {
        let id_ok = |id: &str| {
            (1..=32).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !id_ok(&self.node_id) || !self.peers.iter().all(|peer| id_ok(&peer.id)) {
            return Err(Error::Config(
                "replication node ids must be 1-32 characters of a-z 0-9 -".to_owned(),
            ));
        }
        if self.peers.iter().any(|peer| peer.id == self.node_id) {
            return Err(Error::Config(
                "a node must not list itself as a peer".to_owned(),
            ));
        }
        if self.secret.len() < 32 {
            return Err(Error::Config(
                "the replication secret must be at least 32 bytes".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A node of the replicated store. Cloning is cheap; when the last clone is dropped the node
/// stops listening and replicating.
#[derive(Clone, Debug)]
pub struct ReplicatedStore {
    shared: Arc<Shared>,
    _tasks: Arc<Tasks>,
}

#[derive(Debug)]
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[derive(Debug)]
struct Shared {
    config: ReplicationConfig,
    local_addr: SocketAddr,
    clock: Clock,
    state: Mutex<State>,
    one_time: MemoryStore,
    codec: Codec,
    links: Vec<mpsc::Sender<Outgoing>>,
    /// Per peer: whether its last push succeeded. Writes wait for room in a healthy peer's
    /// queue (backpressure) but never for an unhealthy one's.
    healthy: Vec<AtomicBool>,
    ready: watch::Sender<bool>,
}

#[derive(Debug)]
struct Outgoing {
    slots: Vec<WireSlot>,
    ack: Option<mpsc::Sender<()>>,
}

/// Merges local writes into `state`; returns what changed, ready to push.
fn apply(state: &mut State, slots: Vec<(String, Version, Value)>) -> Result<Vec<WireSlot>> {
    let now = Timestamp::now();
    let mut wire = Vec::with_capacity(slots.len());
    for (key, version, value) in slots {
        if state.merge(&key, version, value, now) == Merged::Changed
            && let Some(slot) = state.get(&key, now)
        {
            wire.push(to_wire(&key, slot)?);
        }
    }
    Ok(wire)
}

impl ReplicatedStore {
    /// Starts a node: binds its listener, starts pushing, repairing and reclaiming, and pulls a
    /// snapshot from a peer in the background (see [`Self::is_ready`]). Must be called inside a
    /// Tokio runtime, which runs the node's tasks.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid configuration or outside a Tokio runtime,
    /// [`Error::Unavailable`] when the listener cannot be bound.
    pub fn start(config: ReplicationConfig) -> Result<Self> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("the replicated store must be started inside a Tokio runtime".to_owned())
        })?;
        let unavailable = |error: std::io::Error| Error::Unavailable(Box::new(error));
        let listener = std::net::TcpListener::bind(config.listen).map_err(unavailable)?;
        listener.set_nonblocking(true).map_err(unavailable)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener).map_err(unavailable)?
        };
        let local_addr = listener.local_addr().map_err(unavailable)?;
        let mut receivers = Vec::new();
        let mut links = Vec::new();
        for _ in &config.peers {
            let (tx, rx) = mpsc::channel(QUEUE);
            links.push(tx);
            receivers.push(rx);
        }
        let shared = Arc::new(Shared {
            clock: Clock::new(&config.node_id),
            codec: Codec::new(&config.node_id, &config.secret)?,
            state: Mutex::new(State::new()),
            one_time: MemoryStore::default(),
            healthy: links.iter().map(|_| AtomicBool::new(true)).collect(),
            links,
            ready: watch::Sender::new(false),
            local_addr,
            config,
        });
        let mut tasks = vec![runtime.spawn(serve(Arc::clone(&shared), listener))];
        for (index, rx) in receivers.into_iter().enumerate() {
            tasks.push(runtime.spawn(push_loop(Arc::clone(&shared), index, rx)));
        }
        tasks.push(runtime.spawn(bootstrap(Arc::clone(&shared))));
        tasks.push(runtime.spawn(anti_entropy(Arc::clone(&shared))));
        Ok(Self {
            shared,
            _tasks: Arc::new(Tasks(tasks)),
        })
    }

    /// Where the node listens for peers.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Whether the node has caught up with a peer (or found none) and may take traffic.
    pub fn is_ready(&self) -> bool {
        *self.shared.ready.borrow()
    }

    /// Waits until [`Self::is_ready`], at most `timeout`; returns whether it is.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.shared.ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|ready| *ready))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Holds an operation back until the node has caught up (at most
    /// [`ReplicationConfig::ready_timeout`]), so a node that just started never answers "no
    /// such session" for a session its peers hold.
    async fn caught_up(&self) {
        if !self.is_ready() && !self.wait_ready(self.shared.config.ready_timeout).await {
            tracing::warn!(
                node = %self.shared.config.node_id,
                "still catching up with peers; serving what this node holds"
            );
        }
    }

    /// Number of slots (records, tombstones, counters) held, for monitoring.
    pub fn len(&self) -> usize {
        lock(&self.shared.state).len()
    }

    /// Whether the node holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies a write locally, pushes it, and waits for an acknowledgement when asked to.
    async fn write(&self, slots: Vec<(String, Version, Value)>, acknowledged: bool) -> Result<()> {
        let wire = apply(&mut lock(&self.shared.state), slots)?;
        self.publish(wire, acknowledged).await;
        Ok(())
    }

    async fn publish(&self, wire: Vec<WireSlot>, acknowledged: bool) {
        if !wire.is_empty() {
            let wait = acknowledged && self.shared.config.acknowledged_writes;
            self.shared.broadcast(wire, wait).await;
        }
    }

    fn session_slot(key: &SessionKey) -> String {
        // One allocation, no formatting machinery: this runs on every signed-in request.
        ["s:", key.as_str()].concat()
    }

    /// The session under `key` as this node holds it, when reading it moves nothing:
    /// `Some(None)` when there is none, `None` when the load must move its deadline.
    fn load_unmoved(&self, key: &SessionKey) -> Option<Option<Session>> {
        let now = Timestamp::now();
        let state = lock(&self.shared.state);
        let Some(Value::Session(record)) = state
            .get(&Self::session_slot(key), now)
            .map(|slot| &slot.value)
        else {
            return Some(None);
        };
        if record.would_slide(now) {
            return None;
        }
        let record = record.as_ref().clone();
        drop(state);
        Some(Some(Session::new(key.clone(), record)))
    }

    fn tombstone(&self, state: &State, slot_key: &str, now: Timestamp) -> Value {
        let buried_until = match state.get(slot_key, now).map(|slot| &slot.value) {
            Some(Value::Session(record)) => record.absolute_expiry(),
            _ => now.saturating_add(self.shared.config.unknown_tombstone_ttl),
        };
        Value::Tombstone {
            until: buried_until.saturating_add(TOMBSTONE_MARGIN),
        }
    }
}

impl Shared {
    /// Queues `slots` for every peer; with `wait`, waits for the first acknowledgement.
    async fn broadcast(&self, slots: Vec<WireSlot>, wait: bool) {
        let (ack_tx, mut ack_rx) = mpsc::channel(self.links.len().max(1));
        for (link, healthy) in self.links.iter().zip(&self.healthy) {
            let outgoing = Outgoing {
                slots: slots.clone(),
                ack: wait.then(|| ack_tx.clone()),
            };
            if healthy.load(Ordering::Relaxed) {
                // A stopped push task means the store is shutting down: nothing to wait for.
                let _ = link.send(outgoing).await;
            } else if link.try_send(outgoing).is_err() {
                tracing::debug!("replication queue full; leaving the write to anti-entropy");
            }
        }
        drop(ack_tx);
        if wait && !self.links.is_empty() {
            let acked = tokio::time::timeout(self.config.ack_timeout, ack_rx.recv()).await;
            if !matches!(acked, Ok(Some(()))) {
                tracing::warn!(
                    node = %self.config.node_id,
                    "no peer acknowledged a session write; it stands on this node only for now"
                );
            }
        }
    }

    fn merge_wire(&self, slots: Vec<WireSlot>) -> usize {
        let now = Timestamp::now();
        let mut state = lock(&self.state);
        let mut changed = 0;
        for slot in slots {
            self.clock.observe(&slot.version);
            let Some(value) = from_wire(slot.value) else {
                continue;
            };
            if state.merge(&slot.key, slot.version, value, now) == Merged::Changed {
                changed += 1;
            }
        }
        changed
    }

    async fn respond(&self, request: Request) -> Response {
        match request {
            Request::Push { slots } => {
                self.merge_wire(slots);
                Response::Ack
            }
            Request::Snapshot { after, limit } => {
                let (slots, next) = lock(&self.state).page(after.as_deref(), limit.clamp(1, PAGE));
                Response::Page { slots, next }
            }
            Request::Digest => Response::Digest {
                buckets: lock(&self.state).digests(),
            },
            Request::Summary { bucket } => Response::Summary {
                entries: lock(&self.state).summary(bucket),
            },
            Request::Fetch { keys } => Response::Slots {
                slots: lock(&self.state).fetch(&keys[..keys.len().min(PAGE)]),
            },
            Request::Take { key } => match self.take_local(&key).await {
                Ok(value) => Response::Taken {
                    value: value.map(|bytes| STANDARD.encode(bytes)),
                },
                Err(_) => Response::Refused {
                    reason: "take failed".to_owned(),
                },
            },
        }
    }

    /// Takes a one-time value issued by this node.
    async fn take_local(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let Some((node, local)) = key.split_once('.') else {
            return Ok(None);
        };
        match OneTimeKey::parse(local) {
            Some(local) if node == self.config.node_id => self.one_time.take(&local).await,
            _ => Ok(None),
        }
    }

    fn peer(&self, id: &str) -> Option<&Peer> {
        self.config.peers.iter().find(|peer| peer.id == id)
    }

    /// Opens a connection to `peer` for a series of requests.
    async fn connect(&self, peer: &Peer) -> Result<Link<'_>, WireError> {
        let stream = tokio::time::timeout(self.config.peer_timeout, TcpStream::connect(peer.addr))
            .await
            .map_err(|_| WireError::Io(std::io::ErrorKind::TimedOut.into()))??;
        Ok(Link {
            shared: self,
            stream,
        })
    }

    /// Sends one request to `peer` on a new connection.
    async fn call(&self, peer: &Peer, request: &Request) -> Result<Response, WireError> {
        self.connect(peer).await?.call(request).await
    }
}

/// A connection to a peer; each request is bounded by the peer timeout.
struct Link<'a> {
    shared: &'a Shared,
    stream: TcpStream,
}

impl Link<'_> {
    async fn call(&mut self, request: &Request) -> Result<Response, WireError> {
        let exchange = exchange(&self.shared.codec, &mut self.stream, request);
        tokio::time::timeout(self.shared.config.peer_timeout, exchange)
            .await
            .map_err(|_| WireError::Io(std::io::ErrorKind::TimedOut.into()))?
    }
}

async fn exchange(
    codec: &Codec,
    stream: &mut TcpStream,
    request: &Request,
) -> Result<Response, WireError> {
    let nonce = codec.send(stream, request, None).await?;
    Ok(codec.receive::<Response>(stream, Some(&nonce)).await?.body)
}

/// Accepts peer connections; each connection carries requests one after another.
async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    connections.spawn(serve_connection(Arc::clone(&shared), stream, addr));
                }
                Err(error) => tracing::warn!(%error, "replication listener failed to accept"),
            },
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn serve_connection(shared: Arc<Shared>, mut stream: TcpStream, addr: SocketAddr) {
    loop {
        let request = match shared.codec.receive::<Request>(&mut stream, None).await {
            Ok(request) => request,
            Err(WireError::Io(_)) => return,
            Err(error) => {
                tracing::warn!(%addr, %error, "refused a replication frame");
                return;
            }
        };
        if shared.peer(&request.from).is_none() {
            tracing::warn!(%addr, from = %request.from, "refused a frame from an unknown node");
            return;
        }
        let response = shared.respond(request.body).await;
        if shared
            .codec
            .send(&mut stream, &response, Some(request.nonce))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Pushes queued writes to one peer over a kept-open connection, in batches. After a failure
/// the peer is marked unhealthy and, for [`RETRY_PAUSE`], writes for it are dropped (left to
/// anti-entropy) instead of each waiting for a connection attempt.
async fn push_loop(shared: Arc<Shared>, index: usize, mut queue: mpsc::Receiver<Outgoing>) {
    let peer = &shared.config.peers[index];
    let healthy = &shared.healthy[index];
    let mut connection: Option<Link<'_>> = None;
    let mut paused_until: Option<tokio::time::Instant> = None;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.iter().map(|o| o.slots.len()).sum::<usize>() < BATCH {
            match queue.try_recv() {
                Ok(outgoing) => batch.push(outgoing),
                Err(_) => break,
            }
        }
        if paused_until.is_some_and(|until| tokio::time::Instant::now() < until) {
            continue;
        }
        let request = Request::Push {
            slots: batch.iter().flat_map(|o| o.slots.iter().cloned()).collect(),
        };
        let link = match connection.as_mut() {
            Some(link) => Ok(link),
            None => shared
                .connect(peer)
                .await
                .map(|link| connection.insert(link)),
        };
        match link.map(|link| link.call(&request)) {
            Ok(call) => match call.await {
                Ok(Response::Ack) => {
                    healthy.store(true, Ordering::Relaxed);
                    paused_until = None;
                    for ack in batch.into_iter().filter_map(|o| o.ack) {
                        let _ = ack.try_send(());
                    }
                    continue;
                }
                outcome => tracing::debug!(peer = %peer.id, ?outcome, "push failed"),
            },
            Err(error) => tracing::debug!(peer = %peer.id, %error, "peer unreachable"),
        }
        connection = None;
        healthy.store(false, Ordering::Relaxed);
        paused_until = Some(tokio::time::Instant::now() + RETRY_PAUSE);
    }
}

/// Pulls a full snapshot from the first peer that answers, then reports ready.
async fn bootstrap(shared: Arc<Shared>) {
    for peer in &shared.config.peers {
        match pull_snapshot(&shared, peer).await {
            Ok(slots) => {
                tracing::info!(node = %shared.config.node_id, peer = %peer.id, slots, "caught up from peer");
                break;
            }
            Err(error) => {
                tracing::info!(node = %shared.config.node_id, peer = %peer.id, %error, "snapshot not available");
            }
        }
    }
    shared.ready.send_replace(true);
}

async fn pull_snapshot(shared: &Shared, peer: &Peer) -> Result<usize, WireError> {
    let mut link = shared.connect(peer).await?;
    let mut after = None;
    let mut total = 0;
    loop {
        let request = Request::Snapshot {
            after: after.take(),
            limit: PAGE,
        };
        match link.call(&request).await? {
            Response::Page { slots, next } => {
                total += slots.len();
                shared.merge_wire(slots);
                match next {
                    Some(key) => after = Some(key),
                    None => return Ok(total),
                }
            }
            _ => return Err(WireError::Malformed),
        }
    }
}

/// Periodically compares digests with every peer, pulls differing buckets and reclaims
/// expired slots.
async fn anti_entropy(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.config.anti_entropy_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        lock(&shared.state).purge(Timestamp::now());
        for peer in &shared.config.peers {
            if let Err(error) = repair_from(&shared, peer).await {
                tracing::debug!(peer = %peer.id, %error, "anti-entropy round failed");
            }
        }
    }
}

/// One anti-entropy round with `peer` on one connection: compare bucket digests, then the
/// fingerprints inside differing buckets, and pull only the slots that differ.
async fn repair_from(shared: &Shared, peer: &Peer) -> Result<(), WireError> {
    let mut link = shared.connect(peer).await?;
    let Response::Digest { buckets: theirs } = link.call(&Request::Digest).await? else {
        return Err(WireError::Malformed);
    };
    let mine = lock(&shared.state).digests();
    let mut changed = 0;
    for bucket in (0..mine.len()).filter(|&b| theirs.get(b) != mine.get(b)) {
        let Response::Summary { entries } = link.call(&Request::Summary { bucket }).await? else {
            return Err(WireError::Malformed);
        };
        let wanted = lock(&shared.state).differing(&entries);
        for keys in wanted.chunks(PAGE) {
            let request = Request::Fetch {
                keys: keys.to_vec(),
            };
            if let Response::Slots { slots } = link.call(&request).await? {
                changed += shared.merge_wire(slots);
            }
        }
    }
    if changed > 0 {
        tracing::info!(peer = %peer.id, changed, "anti-entropy repaired slots");
    }
    Ok(())
}

#[async_trait]
impl SessionStore for ReplicatedStore {
    async fn create(&self, record: Record) -> Result<Session> {
        self.caught_up().await;
        let key = SessionKey::generate();
        let version = self.shared.clock.tick();
        let value = Value::Session(Box::new(record.clone()));
        self.write(vec![(Self::session_slot(&key), version, value)], true)
            .await?;
        Ok(Session::new(key, record))
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<Session>> {
        self.caught_up().await;
        if let Some(found) = self.load_unmoved(key) {
            return Ok(found);
        }
        let now = Timestamp::now();
        let slot_key = Self::session_slot(key);
        let touched = {
            let mut state = lock(&self.shared.state);
            let Some(slot) = state.get(&slot_key, now) else {
                return Ok(None);
            };
            let Value::Session(record) = &slot.value else {
                return Ok(None);
            };
            let mut record = record.as_ref().clone();
            let moved = record.slide(now);
            let touched = if moved {
                state.extend(&slot_key, record.expires_at());
                state
                    .get(&slot_key, now)
                    .map(|slot| to_wire(&slot_key, slot))
                    .transpose()?
            } else {
                None
            };
            (record, touched)
        };
        let (record, touched) = touched;
        if let Some(slot) = touched {
            self.shared.broadcast(vec![slot], false).await;
        }
        Ok(Some(Session::new(key.clone(), record)))
    }

    /// Answers from this node's state once it has caught up with its peers, unless the load
    /// must move the session's deadline (which the peers are then told).
    fn load_presented_now(&self, presented: &[u8]) -> Option<Result<Option<Session>>> {
        if !self.is_ready() {
            return None;
        }
        let Some(key) = SessionKey::parse_bytes(presented) else {
            return Some(Ok(None));
        };
        self.load_unmoved(&key).map(Ok)
    }

    async fn update(&self, session: &mut Session) -> Result<bool> {
        self.caught_up().await;
        let now = Timestamp::now();
        let slot_key = Self::session_slot(session.key());
        let live = matches!(
            lock(&self.shared.state)
                .get(&slot_key, now)
                .map(|slot| &slot.value),
            Some(Value::Session(_))
        );
        if !live {
            return Ok(false);
        }
        session.record_mut().refresh(now);
        let value = Value::Session(Box::new(session.record().clone()));
        let version = self.shared.clock.tick();
        self.write(vec![(slot_key, version, value)], true).await?;
        Ok(true)
    }

    async fn delete(&self, key: &SessionKey) -> Result<()> {
        self.caught_up().await;
        let now = Timestamp::now();
        let slot_key = Self::session_slot(key);
        let tombstone = self.tombstone(&lock(&self.shared.state), &slot_key, now);
        let version = self.shared.clock.tick();
        self.write(vec![(slot_key, version, tombstone)], true).await
    }
}

#[async_trait]
impl SessionIndex for ReplicatedStore {
    async fn list_by_tag(&self, tag: &IndexTag) -> Result<Vec<SessionKey>> {
        self.caught_up().await;
        let keys = lock(&self.shared.state).tagged(tag, Timestamp::now());
        Ok(keys
            .iter()
            .filter_map(|key| key.strip_prefix("s:"))
            .filter_map(SessionKey::parse)
            .collect())
    }

    async fn delete_by_tag(&self, tag: &IndexTag) -> Result<usize> {
        self.caught_up().await;
        let now = Timestamp::now();
        let tombstones: Vec<(String, Version, Value)> = {
            let state = lock(&self.shared.state);
            state
                .tagged(tag, now)
                .into_iter()
                .map(|key| {
                    let tombstone = self.tombstone(&state, &key, now);
                    (key, self.shared.clock.tick(), tombstone)
                })
                .collect()
        };
        let deleted = tombstones.len();
        self.write(tombstones, true).await?;
        Ok(deleted)
    }
}

#[async_trait]
impl OneTimeStore for ReplicatedStore {
    async fn put_once(&self, value: Vec<u8>, ttl: Duration) -> Result<OneTimeKey> {
        let local = self.shared.one_time.put_once(value, ttl).await?;
        let key = format!("{}.{}", self.shared.config.node_id, local.as_str());
        OneTimeKey::parse(&key).ok_or_else(|| Error::Config("node id is not key-safe".to_owned()))
    }

    async fn take(&self, key: &OneTimeKey) -> Result<Option<Vec<u8>>> {
        let Some((node, _)) = key.as_str().split_once('.') else {
            return Ok(None);
        };
        if node == self.shared.config.node_id {
            return self.shared.take_local(key.as_str()).await;
        }
        let Some(peer) = self.shared.peer(node) else {
            return Ok(None);
        };
        let request = Request::Take {
            key: key.as_str().to_owned(),
        };
        match self.shared.call(peer, &request).await {
            Ok(Response::Taken { value }) => Ok(value.and_then(|text| STANDARD.decode(text).ok())),
            Ok(_) => Err(Error::Config(format!("peer {node} refused the take"))),
            Err(error) => Err(Error::Unavailable(Box::new(error))),
        }
    }
}

#[async_trait]
impl CounterStore for ReplicatedStore {
    async fn increment(&self, name: &str, window: Duration) -> Result<u64> {
        self.caught_up().await;
        let now = Timestamp::now();
        let slot_key = format!("c:{name}");
        let me = self.shared.config.node_id.clone();
        let (total, wire) = {
            let mut state = lock(&self.shared.state);
            let mut counter = match state.get(&slot_key, now).map(|slot| &slot.value) {
                Some(Value::Counter(current)) => current.clone(),
                _ => CounterState::default(),
            };
            counter.increment(&me, now, window, || self.shared.clock.tick());
            let total = counter.total(now);
            let version = self.shared.clock.tick();
            let wire = apply(
                &mut state,
                vec![(slot_key, version, Value::Counter(counter))],
            )?;
            (total, wire)
        };
        self.publish(wire, false).await;
        Ok(total)
    }

    async fn count(&self, name: &str) -> Result<u64> {
        self.caught_up().await;
        let state = lock(&self.shared.state);
        Ok(
            match state
                .get(&format!("c:{name}"), Timestamp::now())
                .map(|slot| &slot.value)
            {
                Some(Value::Counter(counter)) => counter.total(Timestamp::now()),
                _ => 0,
            },
        )
    }

    async fn reset(&self, name: &str) -> Result<()> {
        self.caught_up().await;
        let now = Timestamp::now();
        let slot_key = format!("c:{name}");
        let wire = {
            let mut state = lock(&self.shared.state);
            let Some(Value::Counter(current)) = state.get(&slot_key, now).map(|slot| &slot.value)
            else {
                return Ok(());
            };
            let mut cleared = current.clone();
            let version = self.shared.clock.tick();
            cleared.reset(version.clone());
            apply(
                &mut state,
                vec![(slot_key, version, Value::Counter(cleared))],
            )?
        };
        self.publish(wire, false).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
