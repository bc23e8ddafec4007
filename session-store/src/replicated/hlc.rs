//! A hybrid logical clock: versions that follow wall-clock time, never go backwards on a node,
//! and order after every version the node has seen from its peers.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The version of a replicated write. Ordered by wall time, then counter, then node id, so
/// every node picks the same winner between two writes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Version {
    pub(crate) wall: u64,
    pub(crate) counter: u32,
    pub(crate) node: String,
}

#[derive(Debug)]
pub(crate) struct Clock {
    node: String,
    last: Mutex<(u64, u32)>,
}

impl Clock {
    pub(crate) fn new(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            last: Mutex::new((0, 0)),
        }
    }

    /// A version later than every version this clock has issued or observed.
    pub(crate) fn tick(&self) -> Version {
        let physical = Timestamp::now().as_millis();
        let mut last = super::lock(&self.last);
        *last = if physical > last.0 {
            (physical, 0)
        } else {
            (last.0, last.1.saturating_add(1))
        };
        Version {
            wall: last.0,
            counter: last.1,
            node: self.node.clone(),
        }
    }

    /// Moves the clock past a version seen from a peer.
    pub(crate) fn observe(&self, seen: &Version) {
        let mut last = super::lock(&self.last);
        if (seen.wall, seen.counter) > *last {
            *last = (seen.wall, seen.counter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_follow_observed_ones() {
        let clock = Clock::new("a");
        let first = clock.tick();
        let second = clock.tick();
        assert!(second > first);
        let remote = Version {
            wall: first.wall + 60_000,
            counter: 7,
            node: "b".into(),
        };
        clock.observe(&remote);
        let third = clock.tick();
        assert!(third > remote, "{third:?} must order after {remote:?}");
    }

    #[test]
    fn ties_break_by_node_id() {
        let a = Version {
            wall: 5,
            counter: 1,
            node: "a".into(),
        };
        let b = Version {
            wall: 5,
            counter: 1,
            node: "b".into(),
        };
        assert!(b > a);
    }
}
