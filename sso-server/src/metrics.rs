//! The center's Prometheus series, all named `sso_*`, recorded through the `metrics` facade
//! into the process's recorder ([`sso_common::metrics`]) and served on `metrics.listen`.
//!
//! Every label takes a bounded set of values: the route is actix's matched pattern (never the
//! raw path), outcomes and reasons are enums here.
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `sso_http_requests_total` | `route`, `method`, `status` | requests answered |
//! | `sso_http_request_duration_seconds` | `route`, `method` | time to answer (histogram) |
//! | `sso_sign_ins_total` | `outcome` | password sign-ins: [`SignIn`] |
//! | `sso_password_hash_duration_seconds` | `operation` | argon2id `hash` or `verify` (histogram) |
//! | `sso_global_sessions_started_total` | | global sessions started |
//! | `sso_global_sessions_ended_total` | `reason` | ended, by [`EndReason`] |
//! | `sso_authorization_codes_total` | `outcome` | [`Code`]: issued, exchanged, refused |
//! | `sso_slo_deliveries_total` | `outcome` | logout attempts: [`DeliveryOutcome`] |
//! | `sso_slo_outbox_pending` | | deliveries not yet delivered nor given up |
//! | `sso_slo_outbox_oldest_age_seconds` | | age of the oldest of them (0 when none) |
//! | `sso_store_operation_duration_seconds` | `backend`, `operation` | store latency (histogram) |
//! | `sso_store_errors_total` | `backend`, `operation` | failed store operations |
//! | `sso_signatures_total` | `algorithm` | JWTs signed (id, access, logout tokens) |

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, http::Method};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use session_store::SharedStore;
use sso_common::metrics::{MeteredStore, StoreMetricNames};

use crate::config::StoreBackend;
use crate::slo::EndReason;

/// How a password sign-in ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in.
    Success,
    /// Wrong password or unknown user: told apart nowhere, here neither.
    WrongPassword,
    /// Refused by the login attempt limits before the password was checked.
    Limited,
    /// Right password of a disabled user.
    Disabled,
}

impl SignIn {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::WrongPassword => "wrong_password",
            Self::Limited => "limited",
            Self::Disabled => "disabled",
        }
    }
}

/// What happened to an authorization code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Issued by `/authorize`.
    Issued,
    /// Exchanged for tokens at `/token`.
    Exchanged,
    /// Refused at `/token`: unknown, expired, replayed, or a binding did not match.
    Refused,
}

/// The outcome of one single-logout delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The client acknowledged the logout token.
    Delivered,
    /// It failed and will be tried again.
    Retrying,
    /// It failed for the last time.
    GaveUp,
}

/// Describes every series once, so that the endpoint shows their help texts.
pub fn describe() {
    describe_counter!(
        "sso_http_requests_total",
        "HTTP requests answered by the center"
    );
    describe_histogram!(
        "sso_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time the center took to answer an HTTP request"
    );
    describe_counter!("sso_sign_ins_total", "Password sign-ins by outcome");
    describe_histogram!(
        "sso_password_hash_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one argon2id hash or verification"
    );
    describe_counter!(
        "sso_global_sessions_started_total",
        "Global sessions started"
    );
    describe_counter!(
        "sso_global_sessions_ended_total",
        "Global sessions ended, by reason"
    );
    describe_counter!(
        "sso_authorization_codes_total",
        "Authorization codes issued, exchanged and refused"
    );
    describe_counter!(
        "sso_slo_deliveries_total",
        "Single-logout delivery attempts by outcome"
    );
    describe_gauge!(
        "sso_slo_outbox_pending",
        "Single-logout deliveries neither delivered nor given up"
    );
    describe_gauge!(
        "sso_slo_outbox_oldest_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest single-logout delivery neither delivered nor given up"
    );
    describe_histogram!(
        StoreMetricNames::CENTER.duration,
        metrics::Unit::Seconds,
        "Time of one session store operation"
    );
    describe_counter!(
        StoreMetricNames::CENTER.errors,
        "Session store operations that failed"
    );
    describe_counter!("sso_signatures_total", "JWTs signed, by algorithm");
}

/// Counts a password sign-in.
pub fn sign_in(outcome: SignIn) {
    counter!("sso_sign_ins_total", "outcome" => outcome.as_str()).increment(1);
}

/// Records the time of one password `operation` (`hash` or `verify`).
pub fn password_hashed(operation: &'static str, took: Duration) {
    histogram!("sso_password_hash_duration_seconds", "operation" => operation)
        .record(took.as_secs_f64());
}

/// Counts a global session started.
pub fn session_started() {
    counter!("sso_global_sessions_started_total").increment(1);
}

/// Counts a global session ended.
pub fn session_ended(reason: EndReason) {
    counter!("sso_global_sessions_ended_total", "reason" => reason.as_str()).increment(1);
}

/// Counts an authorization code event.
pub fn code(event: Code) {
    let outcome = match event {
        Code::Issued => "issued",
        Code::Exchanged => "exchanged",
        Code::Refused => "refused",
    };
    counter!("sso_authorization_codes_total", "outcome" => outcome).increment(1);
}

/// Counts a single-logout delivery attempt.
pub fn slo_delivery(outcome: DeliveryOutcome) {
    let outcome = match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Retrying => "retrying",
        DeliveryOutcome::GaveUp => "gave_up",
    };
    counter!("sso_slo_deliveries_total", "outcome" => outcome).increment(1);
}

/// Sets the outbox gauges: deliveries waiting and the age of the oldest.
pub fn outbox(pending: u64, oldest_age: Duration) {
    #[allow(clippy::cast_precision_loss)] // a count far below 2^52
    gauge!("sso_slo_outbox_pending").set(pending as f64);
    gauge!("sso_slo_outbox_oldest_age_seconds").set(oldest_age.as_secs_f64());
}

/// Counts a JWT signed with `algorithm` (`RS256`, `EdDSA`).
pub fn signed(algorithm: &'static str) {
    counter!("sso_signatures_total", "algorithm" => algorithm).increment(1);
}

/// `store`, timed: its series carry the configured backend.
pub fn metered_store(store: Arc<dyn SharedStore>, backend: StoreBackend) -> Arc<dyn SharedStore> {
    let backend = match backend {
        StoreBackend::Memory => "memory",
        StoreBackend::Redis => "redis",
        StoreBackend::Replicated => "replicated",
    };
    Arc::new(MeteredStore::new(store, backend, StoreMetricNames::CENTER))
}

/// Middleware counting and timing every request by its route pattern, method and status.
/// Paths no route matched share the route `unmatched`, so that scanners cannot grow the series.
///
/// # Errors
/// The inner service's.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(response) => (
            response.request().match_pattern(),
            response.status().as_u16(),
        ),
        Err(error) => (None, error.as_response_error().status_code().as_u16()),
    };
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    histogram!(
        "sso_http_request_duration_seconds",
        "route" => route.clone(),
        "method" => method
    )
    .record(started.elapsed().as_secs_f64());
    counter!(
        "sso_http_requests_total",
        "route" => route,
        "method" => method,
        "status" => status.to_string()
    )
    .increment(1);
    result
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
