//! Routes that require a second factor: the [`MultiFactor`] extractor's decision from a
//! request, and how the glues answer a [`StepUpRequired`].

use std::fmt;
use std::ops::Deref;

use super::request::{return_to_of, wants_html};
use super::routes::login_href;
use super::{Reply, pages};
use crate::{ACR_MFA, LoginOptions, Principal, ReturnTo, SsoClient};

/// The signed-in user of a request, who gave a second factor: an extractor (for actix-web,
/// and for axum with the `axum` feature) for routes that require one. Other requests are
/// answered with a [`StepUpRequired`]: a browser is sent to sign in with a second factor and
/// comes back.
///
/// It dereferences to the [`Principal`].
#[derive(Clone, Debug, PartialEq)]
pub struct MultiFactor(pub Principal);

impl MultiFactor {
    /// The principal.
    pub fn into_inner(self) -> Principal {
        self.0
    }
}

impl Deref for MultiFactor {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// A request whose route requires a second factor, from a session without one (or from no
/// session): the rejection of the `MultiFactor` extractors.
///
/// The SDK's middleware (actix-web) or layer (axum) answers it: a browser asking for a page is
/// sent to the sign-in route, which asks the center for a second factor and returns to the page;
/// other requests get `403` with the JSON error `insufficient_user_authentication` (RFC 9470),
/// or `401` without a session.
///
/// # Limitations
/// A browser comes back to the page only once: when the center signs the user in without the
/// second factor (it could not ask for one, or the user gave up), the callback shows a `403`
/// page instead of returning to the page, so a route never sends a browser round in circles.
#[derive(Clone, PartialEq, Eq)]
pub struct StepUpRequired {
    pub(crate) answer: StepUpAnswer,
}

/// How a [`StepUpRequired`] is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepUpAnswer {
    /// A browser asking for a page: a sign-in with a second factor, then back to the page.
    SignIn(ReturnTo),
    /// An API request with a session lacking the second factor: `403`.
    Insufficient,
    /// An API request without a session: `401`.
    Unauthenticated,
}

impl StepUpRequired {
    /// Whether the request had no session at all (answered `401` rather than `403`).
    pub fn is_unauthenticated(&self) -> bool {
        self.answer == StepUpAnswer::Unauthenticated
    }
}

impl fmt::Debug for StepUpRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StepUpRequired").field(&self.answer).finish()
    }
}

impl fmt::Display for StepUpRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a second factor is required")
    }
}

impl std::error::Error for StepUpRequired {}

/// What a request for a route requiring a second factor gets: the request's `principal` when
/// it has one, else a step-up. A browser asking for a page (`GET` or `HEAD` of `target`, with an
/// `accept` header that does not ask for JSON only) is sent to sign in with a second factor;
/// other requests are refused.
pub(crate) fn require_second_factor(
    principal: Option<&Principal>,
    method: &str,
    accept: Option<&[u8]>,
    target: Option<&str>,
) -> Result<MultiFactor, StepUpRequired> {
    let answer = match principal {
        Some(principal) if principal.has_second_factor() => {
            return Ok(MultiFactor(principal.clone()));
        }
        _ if matches!(method, "GET" | "HEAD") && wants_html(accept) => {
            StepUpAnswer::SignIn(return_to_of(target))
        }
        Some(_) => StepUpAnswer::Insufficient,
        None => StepUpAnswer::Unauthenticated,
    };
    Err(StepUpRequired { answer })
}

/// Whether the SDK's glue must answer `step_up` itself, as only it knows the sign-in route.
pub(crate) fn needs_client(step_up: &StepUpRequired) -> bool {
    matches!(step_up.answer, StepUpAnswer::SignIn(_))
}

/// The answer to `step_up` in an app protected with `client`: a redirect to the sign-in route
/// asking for a second factor and returning to the page, or a refusal.
pub(crate) fn reply(client: &SsoClient, step_up: &StepUpRequired) -> Reply {
    match &step_up.answer {
        StepUpAnswer::SignIn(return_to) => {
            let options = LoginOptions::default().second_factor();
            Reply::redirect(303, &login_href(client, return_to, &options))
        }
        _ => fallback(step_up),
    }
}

/// The answer to `step_up` without the SDK's glue to complete it: the refusals as they are,
/// and for a page a `403` page.
pub(crate) fn fallback(step_up: &StepUpRequired) -> Reply {
    match &step_up.answer {
        StepUpAnswer::SignIn(_) => pages::second_factor_required("/"),
        StepUpAnswer::Insufficient => pages::insufficient_authentication_json(ACR_MFA),
        StepUpAnswer::Unauthenticated => pages::unauthenticated_json(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use session_store::MemoryStore;

    use super::*;
    use crate::{LocalSessions, Secret, SsoConfig};

    fn principal(claims: serde_json::Value) -> Principal {
        Principal::from_claims(claims.as_object().unwrap().clone()).unwrap()
    }

    fn client() -> SsoClient {
        let mut config = SsoConfig::new(
            "http://127.0.0.1:9",
            "app1",
            Secret::new("secret"),
            "http://app1.localhost:8081".parse().unwrap(),
        );
        config.paths.login = "/sso/sign-in".to_owned();
        SsoClient::new(config, LocalSessions::memory(MemoryStore::default())).unwrap()
    }

    fn location(reply: &Reply) -> &str {
        reply
            .headers
            .iter()
            .find(|(name, _)| *name == "location")
            .map(|(_, value)| value.as_str())
            .expect("a location")
    }

    #[test]
    fn a_session_with_a_second_factor_passes() {
        let totp = principal(json!({"sub": "u", "acr": ACR_MFA, "amr": ["pwd", "otp", "mfa"]}));
        for method in ["GET", "POST"] {
            let passed = require_second_factor(Some(&totp), method, None, Some("/s")).unwrap();
            assert_eq!(passed.0, totp);
            assert_eq!(passed.sub(), "u", "it derefs to the principal");
        }
    }

    #[test]
    fn a_page_without_the_second_factor_signs_in_again_asking_for_it() {
        let client = client();
        let password = principal(json!({"sub": "u", "acr": crate::ACR_PASSWORD, "amr": ["pwd"]}));
        for principal in [Some(&password), None] {
            let refused = require_second_factor(
                principal,
                "GET",
                Some(b"text/html"),
                Some("/sensitive?tab=2"),
            )
            .unwrap_err();
            assert!(needs_client(&refused));
            let reply = reply(&client, &refused);
            assert_eq!(reply.status, 303);
            assert_eq!(
                location(&reply),
                "/sso/sign-in?return_to=%2Fsensitive%3Ftab%3D2&acr_values=urn%3Asso%3Aacr%3Amfa"
            );
        }
        let off_site =
            require_second_factor(None, "HEAD", None, Some("//evil.example")).unwrap_err();
        assert_eq!(
            location(&reply(&client, &off_site)),
            "/sso/sign-in?return_to=%2F&acr_values=urn%3Asso%3Aacr%3Amfa"
        );
    }

    #[test]
    fn api_requests_without_the_second_factor_are_refused() {
        let client = client();
        let password = principal(json!({"sub": "u", "amr": ["pwd"]}));
        let json_get = require_second_factor(
            Some(&password),
            "GET",
            Some(b"application/json"),
            Some("/s"),
        )
        .unwrap_err();
        let post = require_second_factor(Some(&password), "POST", None, Some("/s")).unwrap_err();
        for refused in [json_get, post] {
            assert!(!needs_client(&refused));
            let reply = reply(&client, &refused);
            assert_eq!(reply.status, 403);
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["error"], "insufficient_user_authentication");
            assert_eq!(body["acr_values"], ACR_MFA);
        }
        let anonymous = require_second_factor(None, "POST", None, Some("/s")).unwrap_err();
        assert_eq!(reply(&client, &anonymous).status, 401);
    }
}
