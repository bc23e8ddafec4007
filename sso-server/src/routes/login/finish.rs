//! The end of every sign-in that starts a global session (a password, a passkey): the previous
//! session of the browser ends, a new one starts with the methods used, and the browser goes
//! back to the authorization request (or the center's page) it came from.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::audit::{Entry, Event};
use crate::domain::ClientId;
use crate::factors::{self, Amr};
use crate::metrics::{self, SignIn};
use crate::routes::login::form::FormId;
use crate::sessions::{GlobalSession, SignIn as SessionSignIn};
use crate::slo::EndReason;
use crate::state::AppState;
use crate::users::User;
use crate::web as webutil;

/// Where to go once signed in: `return_to` is the query of an authorization request, or a path
/// of the center (see [`webutil::local_path`]); empty for the center's signed-in page.
pub fn location(return_to: &str) -> String {
    if return_to.is_empty() {
        "/login/done".to_owned()
    } else if let Some(path) = webutil::local_path(return_to) {
        path.to_owned()
    } else {
        format!("/authorize?{return_to}")
    }
}

/// `path` of the center with `return_to` in its query, for the page to come back to.
pub fn with_return_to(path: &str, return_to: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{path}?{query}")
}

/// The authorization query or local path to resume; only ever appended to `/authorize?` or
/// used as a path, and rejected unless it is plain query text.
pub fn return_query(text: &str) -> &str {
    let plain = text.len() <= 8192
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'#' | b'"' | b'<' | b'>' | b'\\'));
    if plain { text } else { "" }
}

/// The client a sign-in is for, named in the authorization request it returns to.
pub fn client_id_of(return_to: &str) -> Option<ClientId> {
    url::form_urlencoded::parse(return_to.as_bytes())
        .find(|(name, _)| name == "client_id")
        .and_then(|(_, value)| ClientId::parse(&value))
}

/// Starts a global session for `user`, who authenticated by `methods` (RFC 8176), and
/// redirects to `return_to` (see [`location`]): the end of a sign-in without a password form
/// (a passkey). `user` must be enabled; the caller has checked.
///
/// # Errors
/// When the store or the database fails.
pub async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    methods: &[Amr],
    return_to: &str,
) -> anyhow::Result<HttpResponse> {
    let (session, latest) = begin(req, state, user, methods, None, return_to).await?;
    respond(state, &session, latest, return_to)
}

/// Ends the browser's previous session, starts `user`'s with `methods`, and settles it with
/// the other submissions of `form` (see [`crate::routes::login::form`]); returns the session
/// and whether it is the form's latest.
pub(super) async fn begin(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    methods: &[Amr],
    form: Option<&FormId>,
    return_to: &str,
) -> anyhow::Result<(GlobalSession, bool)> {
    // A sign-in never reuses a session id: the previous session, if any, ends here.
    if let Some(previous) = req.cookie(&state.settings.session.cookie_name)
        && let Some(previous) = state.sessions.current(previous.value()).await?
    {
        state.sessions.end(&previous.sid, EndReason::Logout).await?;
    }
    let groups: Vec<String> = state
        .users
        .groups(&user.id)
        .await?
        .into_iter()
        .map(String::from)
        .collect();
    let sign_in = SessionSignIn::from_request(
        req,
        &state.settings.login.trusted_proxies,
        factors::amr(methods),
    );
    let session = state.sessions.create(user, &groups, &sign_in).await?;
    let latest = match form {
        Some(form) => crate::routes::login::form::settle(state, form, &session).await?,
        None => true,
    };
    metrics::sign_in(SignIn::Success);
    let ip = sign_in.ip.as_deref();
    let mut entry = Entry::new(Event::SignInSucceeded)
        .user(&user.username)
        .from_address(ip, sign_in.user_agent.as_deref())
        .with("sid", session.sid.as_str())
        .with("amr", session.amr.join(" "));
    if let Some(client) = client_id_of(return_to) {
        entry = entry.client(client.as_str());
    }
    state.audit.record(entry).await;
    tracing::info!(
        ip,
        username = user.username,
        sid = session.sid,
        amr = session.amr.join(" "),
        superseded = !latest,
        "sign-in succeeded"
    );
    Ok((session, latest))
}

/// The redirect after `session` started, with its cookie unless a later submission of the
/// same form superseded it (its cookie must not replace the latest one's).
pub(super) fn respond(
    state: &AppState,
    session: &GlobalSession,
    latest: bool,
    return_to: &str,
) -> anyhow::Result<HttpResponse> {
    let mut response = webutil::see_other(&location(return_query(return_to)));
    if latest {
        let cookie = webutil::cookie(
            &state.settings.session.cookie_name,
            session.key.as_str().to_owned(),
            actix_web::cookie::SameSite::Lax,
        );
        response
            .add_cookie(&cookie)
            .map_err(|e| anyhow::anyhow!("cannot set cookie: {e}"))?;
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
