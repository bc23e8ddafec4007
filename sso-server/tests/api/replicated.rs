//! Two replicas whose global sessions, codes and counters live in the replicated store (peer
//! to peer, no Redis) behave as one center.

use std::net::SocketAddr;
use std::sync::Arc;

use session_store::{Peer, ReplicatedStore, ReplicationConfig, SharedStore};

use crate::receiver::reserve_port;
use crate::redis::two_replicas_act_as_one_center;

const SECRET: &[u8] = b"center-replication-test-secret-0123456789";

fn node(me: &str, port: u16, peer: &str, peer_port: u16) -> Arc<dyn SharedStore> {
    let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let peers = vec![Peer {
        id: peer.to_owned(),
        addr: addr(peer_port),
    }];
    let mut config = ReplicationConfig::new(me, addr(port), peers, SECRET.to_vec());
    config.acknowledged_writes = true;
    Arc::new(ReplicatedStore::start(config).unwrap())
}

#[tokio::test]
async fn two_replicas_replicating_peer_to_peer_act_as_one_center() {
    let (port_a, port_b) = (reserve_port(), reserve_port());
    two_replicas_act_as_one_center(
        node("sso-a", port_a, "sso-b", port_b),
        node("sso-b", port_b, "sso-a", port_a),
    )
    .await;
}
