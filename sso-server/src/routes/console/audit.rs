//! The audit trail, newest first, a page at a time, filtered by user and event.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, ConsoleAdmin, ConsoleError, non_blank, page, utc};
use crate::audit::{Cursor, Event, Query};
use crate::i18n::Texts;
use crate::state::AppState;

/// Events per page.
const PAGE: u32 = 50;

/// The query of `GET /admin/audit-log`.
#[derive(Debug, Deserialize)]
pub struct Filter {
    username: Option<String>,
    event: Option<String>,
    /// Where the previous page ended.
    after: Option<String>,
}

/// An event as the page shows it.
struct Row {
    at: String,
    event: String,
    username: String,
    actor: String,
    client_id: String,
    ip: String,
    detail: String,
}

/// The audit page.
#[derive(Template)]
#[template(path = "sso/console/audit.html")]
struct AuditPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    username: &'a str,
    event: &'a str,
    events: Vec<&'static str>,
    rows: Vec<Row>,
    /// The link to the next page, when there may be one.
    next: Option<String>,
}

/// `GET /admin/audit-log?username=…&event=…&after=…`
pub async fn list(
    admin: ConsoleAdmin,
    req: HttpRequest,
    filter: web::Query<Filter>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let username = non_blank(filter.username.as_deref()).unwrap_or("");
    let event_name = non_blank(filter.event.as_deref()).unwrap_or("");
    let event = match event_name {
        "" => None,
        name => Some(Event::parse(name).ok_or_else(|| {
            ConsoleError::BadRequest(format!("there is no audit event {name:?}"))
        })?),
    };
    let after = match non_blank(filter.after.as_deref()) {
        Some(text) => Some(
            Cursor::parse(text)
                .ok_or_else(|| ConsoleError::BadRequest("the page link is malformed".to_owned()))?,
        ),
        None => None,
    };
    let found = state
        .audit
        .list(&Query {
            username: (!username.is_empty()).then(|| username.to_owned()),
            event,
            after,
            limit: PAGE,
            ..Query::default()
        })
        .await?;
    let next = found.next.as_ref().map(|cursor| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("username", username)
            .append_pair("event", event_name)
            .append_pair("after", &cursor.encode())
            .finish();
        format!("/admin/audit-log?{query}")
    });
    let rows = found
        .events
        .into_iter()
        .map(|recorded| Row {
            at: utc(recorded.at_ms),
            event: recorded.event,
            username: recorded.username.unwrap_or_default(),
            actor: recorded.actor.unwrap_or_default(),
            client_id: recorded.client_id.unwrap_or_default(),
            ip: recorded.ip.unwrap_or_default(),
            detail: match recorded.detail {
                serde_json::Value::Object(map) if map.is_empty() => String::new(),
                serde_json::Value::Null => String::new(),
                detail => detail.to_string(),
            },
        })
        .collect();
    let (chrome, cookie) = Chrome::new(&req, &state, &admin, "audit");
    let body = AuditPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        username,
        event: event_name,
        events: Event::ALL.iter().map(|event| event.as_str()).collect(),
        rows,
        next,
    };
    Ok(page(StatusCode::OK, cookie, &body))
}
