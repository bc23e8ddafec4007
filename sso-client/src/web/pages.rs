//! The few pages the SDK writes itself: fixed texts that never include internal details.

use askama::Template;

use super::Reply;

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

fn page(status: u16, page: &Page<'_>) -> Reply {
    let body = page.render().unwrap_or_else(|error| {
        tracing::error!(%error, "rendering an SDK page failed");
        page.title.to_owned()
    });
    let mut reply = Reply::empty(status)
        .with_header("content-type", "text/html; charset=utf-8".to_owned())
        .with_header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
                .to_owned(),
        )
        .with_header("x-content-type-options", "nosniff".to_owned());
    reply.body = body;
    reply
}

/// `503`: the center cannot be reached, so nobody can sign in right now.
pub(crate) fn unavailable(retry_href: &str) -> Reply {
    page(
        503,
        &Page {
            title: "Sign-in service unavailable",
            message: "The sign-in service cannot be reached at the moment, so you cannot sign in \
                      right now. If you are already signed in, you can keep working. Please try \
                      again in a minute.",
            action_href: retry_href,
            action_label: "Try again",
        },
    )
    .with_header("retry-after", "30".to_owned())
}

/// `400`: a callback this browser did not start, or whose sign-in expired or was refused.
pub(crate) fn sign_in_failed(retry_href: &str) -> Reply {
    page(
        400,
        &Page {
            title: "Sign-in could not be completed",
            message: "This sign-in link is invalid, has expired, or was not started in this \
                      browser. Nothing was changed. Please start signing in again.",
            action_href: retry_href,
            action_label: "Sign in again",
        },
    )
}

/// `403`: the page asked for a second factor, and the sign-in ended without one.
pub(crate) fn second_factor_required(home_href: &str) -> Reply {
    page(
        403,
        &Page {
            title: "Second factor required",
            message: "This page is only shown after you confirm your identity with a second \
                      factor, such as a code from your authenticator app or a passkey. The \
                      sign-in service did not confirm one, so the page stays closed. You are \
                      still signed in to the rest of the site; set up a second factor at the \
                      sign-in service, or ask your administrator for help.",
            action_href: home_href,
            action_label: "Back to the site",
        },
    )
}

/// `403`, for a sign-in whose authentication is older than the page asked for (a center that
/// ignored `max_age`); `again_href` signs in afresh.
pub(crate) fn recent_sign_in_required(again_href: &str) -> Reply {
    page(
        403,
        &Page {
            title: "Recent sign-in required",
            message: "This page is only shown after a recent sign-in. The sign-in service \
                      reported an earlier one, so the page stays closed. You are still signed \
                      in to the rest of the site; sign in again to open it.",
            action_href: again_href,
            action_label: "Sign in again",
        },
    )
}

/// `403` with a JSON body, for API requests whose session lacks the second factor their
/// route requires (RFC 9470's error code).
pub(crate) fn insufficient_authentication_json(acr_values: &str) -> Reply {
    Reply::json(
        403,
        &serde_json::json!({
            "error": "insufficient_user_authentication",
            "message": "a second factor is required",
            "acr_values": acr_values,
        }),
    )
}

/// `400`: a sign-out form without this session's CSRF token.
pub(crate) fn sign_out_refused(home_href: &str) -> Reply {
    page(
        400,
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
pub(crate) fn form_not_received(status: u16, home_href: &str) -> Reply {
    let (title, message) = if status == 413 {
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
pub(crate) fn internal_error(home_href: &str) -> Reply {
    page(
        500,
        &Page {
            title: "Something went wrong",
            message: "The request could not be completed. Please try again later.",
            action_href: home_href,
            action_label: "Back to the site",
        },
    )
}

/// `401` with a JSON body, for API requests without a session.
pub(crate) fn unauthenticated_json() -> Reply {
    Reply::json(
        401,
        &serde_json::json!({"error": "unauthenticated", "message": "sign-in required"}),
    )
}

/// A JSON error for the back-channel logout endpoint (`invalid_request` and similar).
pub(crate) fn json_error(status: u16, error: &str) -> Reply {
    Reply::json(status, &serde_json::json!({ "error": error }))
}
