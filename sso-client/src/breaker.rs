//! A circuit breaker in front of the center: after repeated failures calls fail at once for a
//! while, then a single trial call decides whether to close the circuit again.
//!
//! Only the center's own failures count: no answer (refused or reset connections, the request
//! timing out) and server errors. A call whose caller went away before it finished (the
//! browser closed its connection, so actix-web dropped the request's future) proves nothing
//! about the center and counts neither way; otherwise anyone could open the circuit, and block
//! every sign-in, by resetting a few requests of their own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Error;
use crate::metrics::{self, Circuit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is under way; others fail at once until it reports.
    HalfOpen,
}

impl State {
    fn circuit(self) -> Circuit {
        match self {
            Self::Closed { .. } => Circuit::Closed,
            Self::HalfOpen => Circuit::HalfOpen,
            Self::Open { .. } => Circuit::Open,
        }
    }
}

/// Counts consecutive failures of calls to the center.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

/// Permission for one call; report its outcome with [`Permit::succeeded`] or
/// [`Permit::failed`]. A permit dropped without a report was abandoned by its caller: it counts
/// neither way, and an abandoned trial call hands the trial to the next caller. Timeouts of the
/// center must therefore be reported as failures by the code that sees them (the HTTP client's
/// own timeout does), not left to a dropped permit.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    reported: bool,
}

impl CircuitBreaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        metrics::circuit(Circuit::Closed);
        Self {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Permission to call the center now.
    ///
    /// # Errors
    /// [`Error::CircuitOpen`] while the circuit is open or a trial call is under way.
    pub(crate) fn acquire(&self) -> Result<Permit<'_>, Error> {
        self.acquire_at(Instant::now())
    }

    fn acquire_at(&self, now: Instant) -> Result<Permit<'_>, Error> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => {}
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                metrics::circuit(Circuit::HalfOpen);
            }
            State::Open { .. } | State::HalfOpen => return Err(Error::CircuitOpen),
        }
        Ok(Permit {
            breaker: self,
            reported: false,
        })
    }

    fn record(&self, success: bool, now: Instant) {
        let mut state = self.lock();
        let before = *state;
        *state = match (before, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (State::Closed { .. } | State::HalfOpen, false) => {
                tracing::warn!(
                    open_for = ?self.open_for,
                    "calls to the sign-in service keep failing; pausing them"
                );
                metrics::circuit_opened();
                State::Open {
                    until: now + self.open_for,
                }
            }
            (open @ State::Open { .. }, false) => open,
        };
        if state.circuit() != before.circuit() {
            metrics::circuit(state.circuit());
        }
    }

    /// A call was abandoned before it had an outcome: forget it. Only a trial call changes
    /// anything: the circuit stays open, but the next caller may try at once.
    fn abandon(&self, now: Instant) {
        let mut state = self.lock();
        if *state == State::HalfOpen {
            *state = State::Open { until: now };
            metrics::circuit(Circuit::Open);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Permit<'_> {
    pub(crate) fn succeeded(mut self) {
        self.reported = true;
        self.breaker.record(true, Instant::now());
    }

    pub(crate) fn failed(mut self) {
        self.reported = true;
        self.breaker.record(false, Instant::now());
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.abandon(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(breaker: &CircuitBreaker, now: Instant) {
        let mut permit = breaker.acquire_at(now).unwrap();
        permit.reported = true;
        breaker.record(false, now);
        drop(permit);
    }

    /// Whether a call would be let through now, without reporting an outcome.
    fn allows(breaker: &CircuitBreaker, now: Instant) -> bool {
        breaker
            .acquire_at(now)
            .map(|mut permit| permit.reported = true)
            .is_ok()
    }

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through_later() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(10));
        let start = Instant::now();
        fail(&breaker, start);
        fail(&breaker, start);
        assert!(allows(&breaker, start), "still closed below the threshold");
        fail(&breaker, start);
        assert!(matches!(breaker.acquire_at(start), Err(Error::CircuitOpen)));
        assert!(!allows(&breaker, start));

        let later = start + Duration::from_secs(11);
        let trial = breaker.acquire_at(later).unwrap();
        assert!(
            matches!(breaker.acquire_at(later), Err(Error::CircuitOpen)),
            "only one trial call at a time"
        );
        trial.succeeded();
        assert!(allows(&breaker, later));
    }

    #[test]
    fn a_failed_trial_reopens_and_a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(5));
        let start = Instant::now();
        fail(&breaker, start);
        breaker.acquire_at(start).unwrap().succeeded();
        fail(&breaker, start);
        assert!(allows(&breaker, start), "the success reset the count");
        fail(&breaker, start);
        assert!(!allows(&breaker, start));

        let later = start + Duration::from_secs(6);
        breaker.acquire_at(later).unwrap().failed();
        assert!(breaker.acquire().is_err(), "a failed trial reopens");
    }

    #[test]
    fn abandoned_calls_do_not_count_as_failures() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(5));
        let start = Instant::now();
        for _ in 0..10 {
            drop(breaker.acquire_at(start).unwrap());
        }
        fail(&breaker, start);
        assert!(
            allows(&breaker, start),
            "ten abandoned calls and one failure stay below a threshold of two"
        );
    }

    #[test]
    fn an_abandoned_trial_hands_the_trial_to_the_next_caller() {
        let breaker = CircuitBreaker::new(1, Duration::from_secs(5));
        let start = Instant::now();
        fail(&breaker, start);
        let later = start + Duration::from_secs(6);
        drop(breaker.acquire_at(later).unwrap());
        let trial = breaker
            .acquire_at(later)
            .expect("the circuit is not stuck half-open");
        assert!(
            matches!(breaker.acquire_at(later), Err(Error::CircuitOpen)),
            "still one trial at a time"
        );
        trial.succeeded();
        assert!(allows(&breaker, later));
    }
}
