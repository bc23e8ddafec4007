//! The few responses the SDK writes itself: fixed pages that never include internal details.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f4f5f7;color:#1f2933;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:32rem;margin:1rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 4px 24px rgba(15,23,42,.08)}
h1{margin:0 0 .5rem;font-size:1.4rem}
p{margin:0 0 1rem;color:#52606d}
a{display:inline-block;padding:.6rem 1.1rem;border-radius:8px;background:#2456d6;color:#fff;text-decoration:none;font-weight:600}
a:focus-visible{outline:3px solid #93b4ff;outline-offset:2px}
</style>
</head>
<body>
<main aria-labelledby="title">
<h1 id="title">{{ title }}</h1>
<p>{{ message }}</p>
<a href="{{ action_href }}">{{ action_label }}</a>
</main>
</body>
</html>"#
)]
struct Page<'a> {
    title: &'a str,
    message: &'a str,
    action_href: &'a str,
    action_label: &'a str,
}

fn page(status: StatusCode, page: &Page<'_>) -> HttpResponse {
    let body = page.render().unwrap_or_else(|error| {
        tracing::error!(%error, "rendering an SDK page failed");
        page.title.to_owned()
    });
    let mut response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    no_store(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Marks a response as never to be cached.
pub(crate) fn no_store<B>(response: &mut HttpResponse<B>) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `503`: the center cannot be reached, so nobody can sign in right now.
pub(crate) fn unavailable(retry_href: &str) -> HttpResponse {
    let mut response = page(
        StatusCode::SERVICE_UNAVAILABLE,
        &Page {
            title: "Sign-in service unavailable",
            message: "The sign-in service cannot be reached at the moment, so you cannot sign in \
                      right now. If you are already signed in, you can keep working. Please try \
                      again in a minute.",
            action_href: retry_href,
            action_label: "Try again",
        },
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}

/// `400`: a callback this browser did not start, or whose sign-in expired or was refused.
pub(crate) fn sign_in_failed(retry_href: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        &Page {
            title: "Sign-in could not be completed",
            message: "This sign-in link is invalid, has expired, or was not started in this \
                      browser. Nothing was changed. Please start signing in again.",
            action_href: retry_href,
            action_label: "Sign in again",
        },
    )
}

/// `400`: a sign-out form without this session's CSRF token.
pub(crate) fn sign_out_refused(home_href: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        &Page {
            title: "Sign-out not confirmed",
            message: "The sign-out request did not come from this site's own form, so you are \
                      still signed in. Use the sign-out button on the site to sign out.",
            action_href: home_href,
            action_label: "Back to the site",
        },
    )
}

/// `413` for a form larger than any form of the SDK, `408` for one that did not arrive in time.
pub(crate) fn form_not_received(status: StatusCode, home_href: &str) -> HttpResponse {
    let (title, message) = if status == StatusCode::PAYLOAD_TOO_LARGE {
        (
            "Request too large",
            "The form sent is larger than this site accepts. Nothing was changed.",
        )
    } else {
        (
            "Request not received in time",
            "The form did not arrive in time. Nothing was changed. Please try again.",
        )
    };
    page(
        status,
        &Page {
            title,
            message,
            action_href: home_href,
            action_label: "Back to the site",
        },
    )
}

/// `500`: something failed on our side; the details are in the log only.
pub(crate) fn internal_error(home_href: &str) -> HttpResponse {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        &Page {
            title: "Something went wrong",
            message: "The request could not be completed. Please try again later.",
            action_href: home_href,
            action_label: "Back to the site",
        },
    )
}

/// `401` with a JSON body, for API requests without a session.
pub(crate) fn unauthenticated_json() -> HttpResponse {
    let mut response = HttpResponse::Unauthorized()
        .json(serde_json::json!({"error": "unauthenticated", "message": "sign-in required"}));
    no_store(&mut response);
    response
}

/// A JSON error for the back-channel logout endpoint (`invalid_request` and similar).
pub(crate) fn json_error(status: StatusCode, error: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status).json(serde_json::json!({ "error": error }));
    no_store(&mut response);
    response
}
