//! Re-checks of cookie sessions with the center, one at a time per session on each node.
//!
//! A page that loads many assets at once sends them all with the same cookie; once that cookie
//! is due for its re-check, every one of them would ask the center, and so would every request
//! arriving before the browser stores the resealed cookie. Here the first request of a session
//! asks, the others wait for its answer, and a definite answer is remembered for the re-check
//! interval, so each node asks the center about a session at most once per interval. When the
//! center cannot be asked, that is remembered for a few seconds, so an outage costs each session
//! one attempt (and one log line) per node every few seconds, not one per request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Entries kept before stale ones are swept out.
const SWEEP_ABOVE: usize = 1024;

/// How long (seconds) an [`Verdict::Unknown`] stands before a request asks again: while the
/// center is down, each session asks (and logs) at most this often on each node, instead of on
/// every request.
const RETRY_UNKNOWN_SECS: u64 = 5;

/// What the center said of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Still backed by a center session, as of this time (seconds since the epoch).
    Confirmed(u64),
    /// No longer honoured: the session ends.
    Ended,
    /// The center could not be asked; the session stays, and a request asks again after
    /// [`RETRY_UNKNOWN_SECS`] (or the interval, if shorter).
    Unknown,
}

#[derive(Debug)]
struct Flight {
    started: u64,
    verdict: OnceCell<Verdict>,
}

/// The re-checks of one node, keyed by the session's access token.
#[derive(Debug, Default)]
pub(crate) struct Rechecks {
    flights: Mutex<HashMap<String, Arc<Flight>>>,
}

impl Rechecks {
    /// The verdict on the session holding `access_token`: the one given less than `interval`
    /// seconds before `now` on this node, or the one `ask` brings back. Concurrent callers for
    /// one session share a single `ask`; if the caller running it gives up (its request is
    /// dropped), a waiting one asks instead.
    pub(crate) async fn verdict<F, Fut>(
        &self,
        access_token: &str,
        now: u64,
        interval: u64,
        ask: F,
    ) -> Verdict
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Verdict>,
    {
        let flight = self.flight(access_token, now, interval);
        *flight.verdict.get_or_init(ask).await
    }

    fn flight(&self, access_token: &str, now: u64, interval: u64) -> Arc<Flight> {
        let fresh = |flight: &Flight| {
            let stands = match flight.verdict.get() {
                Some(Verdict::Unknown) => interval.min(RETRY_UNKNOWN_SECS),
                _ => interval,
            };
            now.saturating_sub(flight.started) < stands
        };
        let mut flights = lock(&self.flights);
        if let Some(flight) = flights.get(access_token).filter(|flight| fresh(flight)) {
            return Arc::clone(flight);
        }
        if flights.len() >= SWEEP_ABOVE {
            flights.retain(|_, flight| fresh(flight));
        }
        let flight = Arc::new(Flight {
            started: now,
            verdict: OnceCell::new(),
        });
        flights.insert(access_token.to_owned(), Arc::clone(&flight));
        flight
    }
}

/// A poisoned lock only means a panic elsewhere; the map is consistent at every step.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_question_and_remember_the_answer() {
        let rechecks = Arc::new(Rechecks::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (rechecks, asked) = (Arc::clone(&rechecks), Arc::clone(&asked));
                tokio::spawn(async move {
                    rechecks
                        .verdict("token", 100, 60, || async {
                            asked.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Verdict::Confirmed(100)
                        })
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Verdict::Confirmed(100));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);

        let later = rechecks
            .verdict("token", 159, 60, || async { Verdict::Ended })
            .await;
        assert_eq!(
            later,
            Verdict::Confirmed(100),
            "remembered within the interval"
        );
        let expired = rechecks
            .verdict("token", 160, 60, || async { Verdict::Ended })
            .await;
        assert_eq!(expired, Verdict::Ended, "asked again after the interval");
        let other = rechecks
            .verdict("other", 160, 60, || async { Verdict::Confirmed(160) })
            .await;
        assert_eq!(other, Verdict::Confirmed(160), "sessions are apart");
    }

    #[tokio::test]
    async fn an_unknown_verdict_stands_a_few_seconds_only() {
        let rechecks = Rechecks::default();
        let asked = AtomicUsize::new(0);
        for now in 100..100 + RETRY_UNKNOWN_SECS {
            let verdict = rechecks
                .verdict("token", now, 60, || async {
                    asked.fetch_add(1, Ordering::SeqCst);
                    Verdict::Unknown
                })
                .await;
            assert_eq!(verdict, Verdict::Unknown);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "the center asked once");
        let retried = rechecks
            .verdict("token", 100 + RETRY_UNKNOWN_SECS, 60, || async {
                Verdict::Confirmed(105)
            })
            .await;
        assert_eq!(retried, Verdict::Confirmed(105));

        let short = Rechecks::default();
        short
            .verdict("t", 100, 1, || async { Verdict::Unknown })
            .await;
        let next = short
            .verdict("t", 101, 1, || async { Verdict::Ended })
            .await;
        assert_eq!(next, Verdict::Ended, "never longer than the interval");
    }
}
