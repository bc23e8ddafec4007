//! The admin console: server-rendered pages at `/admin` for the members of the `admin` group,
//! signed in to the center like anyone else (no token, no scripts).
//!
//! - `GET /admin/users?q=…`, `POST /admin/users`: find and add users;
//!   `GET /admin/users/{username}` and `POST …/disable|enable|password|membership|factors/reset`
//! - `GET /admin/sessions?username=…`: a user's global sessions and the clients in each;
//!   `POST /admin/sessions/{sid}/end`, `POST /admin/users/{username}/sessions/end`
//! - `GET /admin/clients`, `POST /admin/clients`, `GET /admin/clients/{id}` and
//!   `POST …/uris|secret` (clients of the configuration file are read-only)
//! - `GET /admin/deliveries`, `POST /admin/deliveries/{id}/retry`: undelivered single logouts
//! - `GET /admin/audit-log?username=…&event=…&after=…`: the audit trail, a page at a time
//!
//! Every action goes through [`crate::admin`], like the admin API and the command line, and is
//! recorded with the administrator's username as its actor. Every form carries a CSRF token
//! bound to the administrator's session (see [`crate::csrf`]).
//!
//! The console's paths sit beside the admin API's (`/admin/users/{username}/sessions`,
//! `/admin/audit`, …) and never on them, so each path has one meaning.

pub mod access;
pub mod audit;
pub mod clients;
pub mod deliveries;
pub mod error;
pub mod sessions;
pub mod users;

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use askama::Template;

pub use access::ConsoleAdmin;
pub use error::ConsoleError;

use crate::i18n::Texts;
use crate::routes::{GET, GET_POST, POST};
use crate::state::AppState;
use crate::web as webutil;

/// Registers the console's pages; called before the admin API's scope, which owns every other
/// path under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin", GET).route(web::get().to(home)))
        .service(
            resource("/admin/users", GET_POST)
                .route(web::get().to(users::list))
                .route(web::post().to(users::create)),
        )
        .service(resource("/admin/users/{username}", GET).route(web::get().to(users::show)))
        .service(
            resource("/admin/users/{username}/disable", POST).route(web::post().to(users::disable)),
        )
        .service(
            resource("/admin/users/{username}/enable", POST).route(web::post().to(users::enable)),
        )
        .service(
            resource("/admin/users/{username}/password", POST)
                .route(web::post().to(users::password_reset)),
        )
        .service(
            resource("/admin/users/{username}/membership", POST)
                .route(web::post().to(users::groups)),
        )
        .service(
            resource("/admin/users/{username}/sessions/end", POST)
                .route(web::post().to(sessions::end_all)),
        )
        .service(
            resource("/admin/users/{username}/factors/reset", POST)
                .route(web::post().to(users::reset_factors)),
        )
        .service(resource("/admin/sessions", GET).route(web::get().to(sessions::list)))
        .service(
            resource("/admin/sessions/{sid}/end", POST).route(web::post().to(sessions::end_one)),
        )
        .service(
            resource("/admin/clients", GET_POST)
                .route(web::get().to(clients::list))
                .route(web::post().to(clients::create)),
        )
        .service(resource("/admin/clients/{id}", GET).route(web::get().to(clients::show)))
        .service(
            resource("/admin/clients/{id}/uris", POST).route(web::post().to(clients::change_uris)),
        )
        .service(
            resource("/admin/clients/{id}/secret", POST)
                .route(web::post().to(clients::rotate_secret)),
        )
        .service(resource("/admin/deliveries", GET).route(web::get().to(deliveries::list)))
        .service(
            resource("/admin/deliveries/{id}/retry", POST).route(web::post().to(deliveries::retry)),
        )
        .service(resource("/admin/audit-log", GET).route(web::get().to(audit::list)));
}

/// A console path: another method than `allow` gets a 405 page with `Allow` (the center's
/// other `/admin/` paths answer the admin API's JSON).
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut response = ConsoleError::MethodNotAllowed.error_response();
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    }))
}

/// `GET /admin`: the users page.
async fn home(_: ConsoleAdmin) -> HttpResponse {
    webutil::see_other("/admin/users")
}

/// The language of the console's pages: English.
pub const LANG: &str = "en";

/// The texts of the console's pages (for the parts shared with the center's other pages).
pub fn texts() -> &'static Texts {
    crate::i18n::texts(crate::domain::Language::English)
}

/// What every console page shows around its content: the signed-in administrator, the current
/// section, and the CSRF token of its forms.
#[derive(Debug)]
pub struct Chrome {
    pub admin: String,
    /// The current section: `users`, `sessions`, `clients`, `deliveries` or `audit`.
    pub section: &'static str,
    pub csrf_token: String,
}

impl Chrome {
    /// The chrome of a page of `section` for `admin`, and the CSRF cookie to set when the
    /// browser has none yet.
    pub fn new(
        req: &HttpRequest,
        state: &AppState,
        admin: &ConsoleAdmin,
        section: &'static str,
    ) -> (Self, Option<Cookie<'static>>) {
        let (csrf_token, cookie) = admin.csrf_token(req, state);
        let chrome = Self {
            admin: admin.user.username.clone(),
            section,
            csrf_token,
        };
        (chrome, cookie)
    }

    /// `aria-current` of the navigation link to `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// A console page: `template` rendered with `status`, plus the CSRF `cookie` when the browser
/// needs one.
fn page(
    status: StatusCode,
    cookie: Option<Cookie<'static>>,
    template: &impl Template,
) -> HttpResponse {
    let mut response = webutil::page(status, template);
    if let Some(cookie) = cookie
        && let Err(error) = response.add_cookie(&cookie)
    {
        tracing::error!(%error, "cannot set CSRF cookie");
    }
    response
}

/// Lines of a text area, trimmed, blank ones left out.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.is_empty())
}

/// `text` trimmed, `None` when blank.
fn non_blank(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// Milliseconds since the epoch as a UTC date and time, `YYYY-MM-DD HH:MM:SS`.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_764_558_336_999), "2025-12-01 03:05:36");
        assert_eq!(utc(-1_000), "1969-12-31 23:59:59");
    }

    #[test]
    fn text_areas_give_their_non_blank_lines() {
        let text = " http://a.test/cb \r\n\r\n  http://b.test/cb\n";
        assert_eq!(
            lines(text).collect::<Vec<_>>(),
            ["http://a.test/cb", "http://b.test/cb"]
        );
        assert_eq!(non_blank(Some("  ")), None);
        assert_eq!(non_blank(Some(" x ")), Some("x"));
    }
}
