//! The peer protocol: length-prefixed frames, each authenticated with HMAC-SHA256 under the
//! cluster's shared secret and carrying a timestamp and a nonce, so a frame from outside the
//! cluster, a modified frame or a replayed one is refused.
//!
//! Frame: `u32` big-endian length, then a 32-byte HMAC tag, then the JSON envelope. A response
//! names the nonce of its request, so it cannot be swapped for another.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::state::WireSlot;
use crate::Timestamp;
use crate::key::random_bytes;

/// Largest frame accepted (a snapshot page of large records).
const MAX_FRAME: usize = 16 * 1024 * 1024;
const TAG_BYTES: usize = 32;
/// How far a frame's timestamp may be from the receiver's clock.
const MAX_SKEW: Duration = Duration::from_secs(30);
/// Nonces remembered for replay detection (covers `MAX_SKEW` at high rates).
const NONCES_REMEMBERED: usize = 100_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Request {
    Push { slots: Vec<WireSlot> },
    Snapshot { after: Option<String>, limit: usize },
    Digest,
    Summary { bucket: usize },
    Fetch { keys: Vec<String> },
    Take { key: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Response {
    Ack,
    Page {
        slots: Vec<WireSlot>,
        next: Option<String>,
    },
    Digest {
        buckets: Vec<u64>,
    },
    Summary {
        entries: Vec<(String, u64)>,
    },
    Slots {
        slots: Vec<WireSlot>,
    },
    Taken {
        value: Option<String>,
    },
    Refused {
        reason: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope<T> {
    from: String,
    ts: u64,
    nonce: String,
    /// For responses: the nonce of the request answered.
    re: Option<String>,
    body: T,
}

/// Why a frame was not accepted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("peer connection failed")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes is larger than allowed")]
    TooLarge(usize),
    #[error("frame failed authentication")]
    Unauthenticated,
    #[error("frame is not a valid message")]
    Malformed,
    #[error("frame timestamp is outside the allowed skew")]
    Stale,
    #[error("frame was already received")]
    Replayed,
    #[error("response does not answer the request sent")]
    Mismatched,
}

/// Seals and opens frames for one node.
pub(crate) struct Codec {
    node: String,
    mac: Hmac<Sha256>,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// A verified message and the nonce it carried.
pub(crate) struct Opened<T> {
    pub(crate) from: String,
    pub(crate) nonce: String,
    pub(crate) body: T,
}

impl Codec {
    pub(crate) fn new(node: &str, secret: &[u8]) -> crate::Result<Self> {
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| crate::Error::Config("replication secret is not usable".to_owned()))?;
        Ok(Self {
            node: node.to_owned(),
            mac,
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }

    /// Writes `body` as a frame; returns the nonce it carries.
    pub(crate) async fn send<T: Serialize>(
        &self,
        io: &mut (impl AsyncWrite + Unpin),
        body: &T,
        re: Option<String>,
    ) -> Result<String, WireError> {
        let nonce = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        let envelope = Envelope {
            from: self.node.clone(),
            ts: Timestamp::now().as_millis(),
            nonce: nonce.clone(),
            re,
            body,
        };
        let payload = serde_json::to_vec(&envelope).map_err(|_| WireError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        let length = TAG_BYTES + payload.len();
        if length > MAX_FRAME {
            return Err(WireError::TooLarge(length));
        }
        let length = u32::try_from(length).map_err(|_| WireError::TooLarge(length))?;
        let mut frame = Vec::with_capacity(4 + TAG_BYTES + payload.len());
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(&tag);
        frame.extend_from_slice(&payload);
        io.write_all(&frame).await?;
        io.flush().await?;
        Ok(nonce)
    }

    /// Reads and verifies one frame. `re` is the nonce of the request a response must answer.
    pub(crate) async fn receive<T: for<'de> Deserialize<'de>>(
        &self,
        io: &mut (impl AsyncRead + Unpin),
        re: Option<&str>,
    ) -> Result<Opened<T>, WireError> {
        let length = usize::try_from(io.read_u32().await?).unwrap_or(usize::MAX);
        if !(TAG_BYTES..=MAX_FRAME).contains(&length) {
            return Err(WireError::TooLarge(length));
        }
        let mut frame = vec![0u8; length];
        io.read_exact(&mut frame).await?;
        let (tag, payload) = frame.split_at(TAG_BYTES);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_slice(tag)
            .map_err(|_| WireError::Unauthenticated)?;
        let envelope: Envelope<T> =
            serde_json::from_slice(payload).map_err(|_| WireError::Malformed)?;
        let skew = Timestamp::now().as_millis().abs_diff(envelope.ts);
        if u128::from(skew) > MAX_SKEW.as_millis() {
            return Err(WireError::Stale);
        }
        if envelope.re.as_deref() != re {
            return Err(WireError::Mismatched);
        }
        self.remember(&envelope.nonce)?;
        Ok(Opened {
            from: envelope.from,
            nonce: envelope.nonce,
            body: envelope.body,
        })
    }

    fn remember(&self, nonce: &str) -> Result<(), WireError> {
        let mut seen = super::lock(&self.seen);
        let (set, order) = &mut *seen;
        if !set.insert(nonce.to_owned()) {
            return Err(WireError::Replayed);
        }
        order.push_back(nonce.to_owned());
        if order.len() > NONCES_REMEMBERED
            && let Some(oldest) = order.pop_front()
        {
            set.remove(&oldest);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_tampering_is_refused() {
        let sender = Codec::new("a", b"secret").unwrap();
        let receiver = Codec::new("b", b"secret").unwrap();
        let mut frame = Vec::new();
        sender
            .send(&mut frame, &Request::Digest, None)
            .await
            .unwrap();

        let opened: Opened<Request> = receiver.receive(&mut frame.as_slice(), None).await.unwrap();
        assert_eq!(opened.from, "a");
        assert!(matches!(opened.body, Request::Digest));

        let replay = receiver
            .receive::<Request>(&mut frame.as_slice(), None)
            .await;
        assert!(matches!(replay, Err(WireError::Replayed)));

        let mut tampered = frame.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        let result = Codec::new("c", b"secret")
            .unwrap()
            .receive::<Request>(&mut tampered.as_slice(), None)
            .await;
        assert!(matches!(result, Err(WireError::Unauthenticated)));

        let outsider = Codec::new("c", b"other secret")
            .unwrap()
            .receive::<Request>(&mut frame.as_slice(), None)
            .await;
        assert!(matches!(outsider, Err(WireError::Unauthenticated)));
    }
}
