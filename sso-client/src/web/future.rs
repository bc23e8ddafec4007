//! The future of a request passing through the SDK, for both frameworks.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use session_store::SessionKey;

use crate::SsoClient;

pin_project! {
    /// The future of a request passing through the SDK's actix-web middleware or axum layer.
    #[project = SsoFutureProjection]
    pub enum SsoFuture<F, R, O, B> {
        /// A signed-in request whose session was loaded at once: the app's response, finished
        /// by `finish` as it arrives (a refusal for want of a second factor completed, the
        /// session's renewed cookie added when it has one).
        SignedIn {
            #[pin]
            response: F,
            client: SsoClient,
            renewed: Option<SessionKey>,
            finish: fn(&SsoClient, R, Option<&SessionKey>) -> O,
        },
        /// Any other request.
        Other {
            future: B,
        },
    }
}

impl<F, R, O, B, E> Future for SsoFuture<F, R, O, B>
where
    F: Future<Output = Result<R, E>>,
    B: Future<Output = Result<O, E>> + Unpin,
{
    type Output = Result<O, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            SsoFutureProjection::SignedIn {
                response,
                client,
                renewed,
                finish,
            } => {
                let response = ready!(response.poll(cx))?;
                Poll::Ready(Ok(finish(client, response, renewed.as_ref())))
            }
            SsoFutureProjection::Other { future } => Pin::new(future).poll(cx),
        }
    }
}
