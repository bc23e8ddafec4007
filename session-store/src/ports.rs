//! Ports for servers a test or benchmark starts itself (feature `testing`).
//!
//! A server that must know its own URL before it binds (the center names itself in its issuer)
//! is given a port found free a moment earlier. A port the kernel picked (a bind to port 0) lies
//! in its ephemeral range, which every outgoing connection also draws from: another test's
//! connection may take it before the server binds it. [`free_port`] looks below that range
//! instead, where the kernel hands out nothing by itself.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// The ports handed out: below Linux's default ephemeral range (32768–60999).
const FIRST: u16 = 20_000;
const END: u16 = 32_000;

/// A port of 127.0.0.1 that was free a moment ago, outside the kernel's ephemeral range; each
/// call in a process gives another one (counting on from a start that differs between
/// processes, so that test binaries running side by side rarely try the same ports).
///
/// # Panics
/// When no port of the range is free.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = END - FIRST;
    // The process id spreads the start of concurrent processes over the range.
    let start = u16::try_from(std::process::id() % u32::from(span)).unwrap_or(0);
    let _ = NEXT.compare_exchange(0, start + 1, Ordering::Relaxed, Ordering::Relaxed);
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = FIRST + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{END}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_distinct_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len());
        for port in ports {
            assert!((FIRST..END).contains(&port), "{port}");
            TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }

    #[test]
    fn a_taken_port_is_skipped() {
        let taken = TcpListener::bind(("127.0.0.1", free_port() + 1));
        let next = free_port();
        if let Ok(taken) = taken {
            assert_ne!(next, taken.local_addr().unwrap().port());
        }
    }
}
