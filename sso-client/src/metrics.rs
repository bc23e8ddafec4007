//! The SDK's Prometheus series, all named `sso_client_*`, recorded through the [`metrics`]
//! facade. The SDK only records: the app installs a recorder (for example with
//! `sso_common::metrics::serve`, as the demo app does) and calls [`describe`] once for the help
//! texts. Without a recorder every record is a no-op.
//!
//! Nothing is recorded on the per-request session check: only sign-ins, sign-outs, single
//! logouts, calls to the center and store operations other than that read are counted.
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `sso_client_sign_ins_total` | | callbacks that ended in a local session |
//! | `sso_client_callbacks_refused_total` | `reason`: `invalid_state`, `refused`, `invalid_id_token`, `center_unavailable`, `circuit_open`, `center_protocol`, `store_error`, `other` | callbacks that did not |
//! | `sso_client_sign_outs_total` | | local sessions ended by their user (`POST` logout) |
//! | `sso_client_logout_tokens_total` | `outcome` | back-channel logout tokens: `accepted`, `invalid`, `replayed`, `center_unavailable`, `store_error`, `other` |
//! | `sso_client_slo_sessions_ended_total` | | local sessions ended by single logout |
//! | `sso_client_center_requests_total` | `endpoint`: `discovery`, `jwks`, `token`, `revocation`, `introspection`, `userinfo`; `outcome`: `ok`, `refused` (a `4xx`), `unavailable`, `malformed`, `circuit_open` (not tried) | calls to the center |
//! | `sso_client_center_request_duration_seconds` | `endpoint` | their time, when a call was made (histogram) |
//! | `sso_client_center_circuit_state` | | the breaker: 0 closed, 1 half-open (a trial call), 2 open |
//! | `sso_client_center_circuit_opened_total` | | times the breaker opened |
//! | `sso_client_store_operation_duration_seconds` | `backend`, `operation` | local-session store latency (histogram) |
//! | `sso_client_store_errors_total` | `backend`, `operation` | failed store operations |
//!
//! # Limitations
//! The series carry no client label: a process with two clients adds their figures up, and the
//! breaker gauge shows whichever breaker changed last.

use std::time::Instant;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use sso_common::metrics::StoreMetricNames;

use crate::Error;

/// An endpoint of the center the SDK calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// The JWKS.
    Jwks,
    /// The token endpoint: code exchanges and refreshes.
    Token,
    /// Token revocation (RFC 7009).
    Revocation,
    /// Token introspection (RFC 7662).
    Introspection,
    /// Userinfo, for the re-check of cookie sessions.
    Userinfo,
}

impl Endpoint {
    fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::Token => "token",
            Self::Revocation => "revocation",
            Self::Introspection => "introspection",
            Self::Userinfo => "userinfo",
        }
    }
}

/// How a call to the center ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A successful answer.
    Ok,
    /// A `4xx`: the center refused (a code, a token, this client).
    Refused,
    /// No answer, a timeout or a `5xx`.
    Unavailable,
    /// An answer no conforming provider sends (a body that does not parse).
    Malformed,
    /// Not tried: the circuit breaker is open.
    CircuitOpen,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Unavailable => "unavailable",
            Self::Malformed => "malformed",
            Self::CircuitOpen => "circuit_open",
        }
    }
}

/// The circuit breaker's state, as the gauge shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Circuit {
    Closed,
    HalfOpen,
    Open,
}

/// Describes every series once, so that the endpoint shows their help texts. Call it when the
/// app starts serving metrics; recording works without it.
pub fn describe() {
    describe_counter!(
        "sso_client_sign_ins_total",
        "Sign-in callbacks that ended in a local session"
    );
    describe_counter!(
        "sso_client_callbacks_refused_total",
        "Sign-in callbacks that did not end in a local session, by reason"
    );
    describe_counter!(
        "sso_client_sign_outs_total",
        "Local sessions ended by their user"
    );
    describe_counter!(
        "sso_client_logout_tokens_total",
        "Back-channel logout tokens received, by outcome"
    );
    describe_counter!(
        "sso_client_slo_sessions_ended_total",
        "Local sessions ended by single logout"
    );
    describe_counter!(
        "sso_client_center_requests_total",
        "Calls to the center by endpoint and outcome"
    );
    describe_histogram!(
        "sso_client_center_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one call to the center"
    );
    describe_gauge!(
        "sso_client_center_circuit_state",
        "Circuit breaker in front of the center: 0 closed, 1 half-open, 2 open"
    );
    describe_counter!(
        "sso_client_center_circuit_opened_total",
        "Times the circuit breaker in front of the center opened"
    );
    describe_histogram!(
        StoreMetricNames::CLIENT.duration,
        metrics::Unit::Seconds,
        "Time of one local-session store operation"
    );
    describe_counter!(
        StoreMetricNames::CLIENT.errors,
        "Local-session store operations that failed"
    );
}

/// Counts a callback that ended in a local session.
pub(crate) fn signed_in() {
    counter!("sso_client_sign_ins_total").increment(1);
}

/// Counts a callback that did not, by its [`refusal`] reason.
pub(crate) fn callback_refused(error: &Error) {
    counter!("sso_client_callbacks_refused_total", "reason" => refusal(error)).increment(1);
}

/// The `reason` label of a refused callback: `invalid_state`, `refused` (by the center),
/// `invalid_id_token`, `center_unavailable`, `circuit_open`, `center_protocol`, `store_error`
/// or `other`.
pub(crate) fn refusal(error: &Error) -> &'static str {
    match error {
        Error::InvalidState => "invalid_state",
        Error::Refused(_) => "refused",
        Error::InvalidIdToken(_) => "invalid_id_token",
        Error::CenterUnavailable(_) => "center_unavailable",
        Error::CircuitOpen => "circuit_open",
        Error::CenterProtocol(_) => "center_protocol",
        Error::Store(_) => "store_error",
        _ => "other",
    }
}

/// Counts a local session ended by its user.
pub(crate) fn signed_out() {
    counter!("sso_client_sign_outs_total").increment(1);
}

/// Counts a back-channel logout token: `accepted` when `result` is `Ok`, else by its error;
/// `replayed` says whether the token was refused for a `jti` seen before.
pub(crate) fn logout_token(result: &Result<(), Error>, replayed: bool) {
    let outcome = match result {
        Ok(()) => "accepted",
        Err(_) if replayed => "replayed",
        Err(Error::InvalidLogoutToken(_)) => "invalid",
        Err(error) if error.is_center_unavailable() => "center_unavailable",
        Err(Error::Store(_)) => "store_error",
        Err(_) => "other",
    };
    counter!("sso_client_logout_tokens_total", "outcome" => outcome).increment(1);
}

/// Counts `ended` local sessions ended by single logout.
pub(crate) fn slo_sessions_ended(ended: usize) {
    counter!("sso_client_slo_sessions_ended_total").increment(ended as u64);
}

/// Counts a call to `endpoint` that was not made: the circuit is open.
pub(crate) fn center_call_skipped(endpoint: Endpoint) {
    counter!(
        "sso_client_center_requests_total",
        "endpoint" => endpoint.as_str(),
        "outcome" => Outcome::CircuitOpen.as_str()
    )
    .increment(1);
}

/// Times one call to the center, from its start to [`CenterCall::finish`]. A call dropped
/// before it finished (its caller went away) is not recorded.
#[derive(Debug)]
pub(crate) struct CenterCall {
    endpoint: Endpoint,
    started: Instant,
}

impl CenterCall {
    pub(crate) fn start(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            started: Instant::now(),
        }
    }

    /// Records the call's time and `outcome`.
    pub(crate) fn finish(self, outcome: Outcome) {
        let endpoint = self.endpoint.as_str();
        histogram!("sso_client_center_request_duration_seconds", "endpoint" => endpoint)
            .record(self.started.elapsed().as_secs_f64());
        counter!(
            "sso_client_center_requests_total",
            "endpoint" => endpoint,
            "outcome" => outcome.as_str()
        )
        .increment(1);
    }
}

/// Sets the breaker gauge to `state`.
pub(crate) fn circuit(state: Circuit) {
    let value = match state {
        Circuit::Closed => 0.0,
        Circuit::HalfOpen => 1.0,
        Circuit::Open => 2.0,
    };
    gauge!("sso_client_center_circuit_state").set(value);
}

/// Counts the breaker opening after failures (not its return to open when a trial call is
/// abandoned).
pub(crate) fn circuit_opened() {
    counter!("sso_client_center_circuit_opened_total").increment(1);
}
