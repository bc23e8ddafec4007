//! Limits every HTTP server of the stack (the center and the apps) applies, so that slow or
//! idle clients cannot hold it: a time within which a request must arrive, head and body, and a
//! cap on concurrent connections per process.
//!
//! - The head of a connection's first request must arrive within the request timeout, or the
//!   server answers 408 and closes the connection.
//! - A body must arrive within the request timeout of the request's start ([`BodyDeadline`]);
//!   a handler reading a late body gets an error, the server answers 408, and a connection
//!   whose body was not read to the end is closed.
//! - Past the connection cap the server stops accepting until connections close; by default the
//!   cap leaves half of the process's open-files limit for everything else.
//!
//! # Limitations
//! The head of a later request on a kept-alive connection is bounded by the front proxy
//! (nginx's `client_header_timeout`), not here: the HTTP server times only first requests.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_core::Stream;
use tokio::time::Sleep;

/// The log filter of the binaries when `RUST_LOG` is not set: `info`, without the HTTP layer's
/// reports of connections a client broke (resets, unparsable requests), which it logs as
/// errors although nothing failed on our side; `RUST_LOG=info,actix_http=debug` shows them.
pub const DEFAULT_LOG_FILTER: &str = "info,actix_http::h1::dispatcher=off";

/// Connection limits, as configured (`http.request_timeout_ms`, `http.max_connections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time for a request to arrive, head and body, in milliseconds.
    pub request_timeout_ms: u64,
    /// Concurrent connections of the process; `0` derives it from the open-files limit.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            request_timeout_ms: 10_000,
            max_connections: 0,
        }
    }
}

/// Connections allowed when the open-files limit cannot be read.
const FALLBACK_CONNECTIONS: usize = 1_024;

impl ServerLimits {
    /// Time for a request to arrive.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// The connection cap of the process: as configured, or half the open-files limit.
    pub fn connections(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        soft.and_then(|limit| usize::try_from(limit / 2).ok())
            .map_or(FALLBACK_CONNECTIONS, |half| half.clamp(64, 25_000))
    }

    /// `server` with these limits, its worker count fixed to the machine's parallelism so that
    /// the per-worker connection cap adds up to the process's.
    pub fn apply<F, I, S, B>(
        &self,
        server: actix_web::HttpServer<F, I, S, B>,
    ) -> actix_web::HttpServer<F, I, S, B>
    where
        F: Fn() -> I + Send + Clone + 'static,
        I: actix_service::IntoServiceFactory<S, actix_http::Request>,
        S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
            + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: std::fmt::Debug,
        S::Response: Into<actix_http::Response<B>> + 'static,
        <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
        S::Service: 'static,
        B: MessageBody + 'static,
    {
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        server
            .workers(workers)
            .max_connections(self.connections().div_ceil(workers).max(1))
            .client_request_timeout(self.request_timeout())
    }

    /// The middleware that bounds the time to receive a body.
    pub fn body_deadline(&self) -> BodyDeadline {
        BodyDeadline {
            timeout: self.request_timeout(),
        }
    }
}

/// Middleware: a request's body must arrive within a time of the request's start; reading it
/// later fails with [`is_timeout`] true for the error.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadline {
    timeout: Duration,
}

impl BodyDeadline {
    /// Wraps the request's body in the deadline, then calls the rest of the chain (use with
    /// `actix_web::middleware::from_fn`).
    ///
    /// # Errors
    /// Those of the rest of the chain.
    pub async fn handle(
        self,
        mut req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
        let body = req.take_payload();
        let timed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Timed {
            body,
            deadline: Box::pin(tokio::time::sleep(self.timeout)),
        });
        req.set_payload(Payload::from(timed));
        next.call(req).await
    }
}

/// The message of the error a late body gives.
const TIMED_OUT: &str = "request body not received in time";

/// The raw value of the first cookie `name` in the `Cookie` header values `headers` (browsers
/// send the most specific first). Read straight from the headers rather than through a cookie
/// jar that parses, percent-decodes and copies every cookie of the request: our cookie values
/// are plain URL-safe text. The pairs are found with `memchr`, many bytes at a time: a sealed
/// cookie session is a kilobyte long and comes with every request.
pub fn cookie_value<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    headers
        .into_iter()
        .find_map(|header| cookie_in(header, name))
}

/// The value of cookie `name` in one `Cookie` header.
fn cookie_in<'a>(header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut rest = header;
    loop {
        rest = rest.trim_ascii_start();
        let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let (pair, after) = rest.split_at(end);
        if let Some(value) = pair.strip_prefix(name).and_then(|v| v.strip_prefix(b"=")) {
            return Some(value.trim_ascii_end());
        }
        rest = after.get(1..)?;
    }
}

/// Whether `error` is a body that did not arrive in time.
pub fn is_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

struct Timed {
    body: Payload,
    deadline: Pin<Box<Sleep>>,
}

impl Stream for Timed {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.body).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                TIMED_OUT,
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_room_under_the_open_files_limit() {
        let limits = ServerLimits::default();
        let cap = limits.connections();
        assert!(cap >= 64);
        if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
            assert!(u64::try_from(cap).unwrap() <= limit.max(128));
        }
        let set = ServerLimits {
            max_connections: 7,
            ..limits
        };
        assert_eq!(set.connections(), 7);
    }

    #[test]
    fn only_a_late_body_is_a_timeout() {
        let late = PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, TIMED_OUT));
        assert!(is_timeout(&late));
        assert!(!is_timeout(&PayloadError::Overflow));
        assert!(!is_timeout(&PayloadError::Incomplete(None)));
    }
}
