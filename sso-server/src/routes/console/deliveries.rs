//! Single-logout deliveries not delivered yet, and "retry now".

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::users::CsrfOnly;
use super::{Chrome, ConsoleAdmin, ConsoleError, page, utc};
use crate::admin;
use crate::i18n::Texts;
use crate::slo::outbox::{Delivery, DeliveryState};
use crate::state::AppState;
use crate::web as webutil;

/// Most deliveries listed.
const LISTED: i64 = 200;

/// A delivery as the page shows it.
struct Row {
    id: String,
    client_id: String,
    username: String,
    sid: String,
    reason: String,
    state: &'static str,
    attempts: i64,
    last_error: String,
    next_attempt: String,
    created: String,
}

/// The deliveries page.
#[derive(Template)]
#[template(path = "sso/console/deliveries.html")]
struct DeliveriesPage<'a> {
    lang: &'a str,
    t: &'a Texts,
    chrome: Chrome,
    rows: Vec<Row>,
}

fn state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Retrying => "failed, retrying",
        DeliveryState::Delivered => "delivered",
        DeliveryState::GaveUp => "failed, given up",
    }
}

/// `GET /admin/deliveries`: pending and failed deliveries, oldest first.
pub async fn list(
    admin: ConsoleAdmin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let mut usernames: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::new();
    for delivery in state.outbox.undelivered(LISTED).await? {
        let Delivery {
            id,
            sid,
            user_id,
            client_id,
            reason,
            state: delivery_state,
            attempts,
            last_error,
            next_attempt_at,
            created_at,
            ..
        } = delivery;
        let username = match usernames.get(&user_id) {
            Some(name) => name.clone(),
            None => {
                let name = state
                    .users
                    .get(&user_id)
                    .await?
                    .map_or_else(|| user_id.clone(), |user| user.username);
                usernames.insert(user_id, name.clone());
                name
            }
        };
        rows.push(Row {
            id,
            client_id,
            username,
            sid,
            reason,
            state: state_name(delivery_state),
            attempts,
            last_error: last_error.unwrap_or_default(),
            next_attempt: if delivery_state == DeliveryState::GaveUp {
                "—".to_owned()
            } else {
                utc(next_attempt_at)
            },
            created: utc(created_at),
        });
    }
    let (chrome, cookie) = Chrome::new(&req, &state, &admin, "deliveries");
    let body = DeliveriesPage {
        lang: super::LANG,
        t: super::texts(),
        chrome,
        rows,
    };
    Ok(page(StatusCode::OK, cookie, &body))
}

/// `POST /admin/deliveries/{id}/retry`
pub async fn retry(
    admin: ConsoleAdmin,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    admin.check_csrf(&req, &state, form.csrf_token.as_deref())?;
    if id.is_empty() || id.len() > 64 {
        return Err(ConsoleError::BadRequest(
            "that is not a delivery id".to_owned(),
        ));
    }
    if !admin::retry_delivery(&state, &admin.user.username, &id).await? {
        return Err(ConsoleError::NotFound(
            "there is no undelivered delivery with that id".to_owned(),
        ));
    }
    Ok(webutil::see_other("/admin/deliveries"))
}
