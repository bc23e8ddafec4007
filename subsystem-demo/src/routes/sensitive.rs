use actix_web::{HttpResponse, web};
use askama::Template;
use sso_client::MultiFactor;

use super::profile::utc_date_time;
use crate::pages::{Site, UserView};

#[derive(Template)]
#[template(path = "demo/sensitive.html")]
struct SensitivePage<'a> {
    site: &'a Site,
    user: Option<UserView>,
    me: UserView,
    auth_time: Option<String>,
    active: &'static str,
}

/// `GET /sensitive`: for users who gave a second factor only. The SDK sends anyone else to
/// the sign-in service to give one, and back here.
pub(crate) async fn get(site: web::Data<Site>, user: MultiFactor) -> HttpResponse {
    let me = UserView::from(&*user);
    super::render(&SensitivePage {
        site: &site,
        user: Some(me.clone()),
        me,
        auth_time: user
            .auth_time()
            .map(|secs| format!("{} ({secs})", utc_date_time(secs))),
        active: "sensitive",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::FactorsView;

    fn site() -> Site {
        Site {
            name: "app1".to_owned(),
            initial: "A".to_owned(),
            theme: "app1".to_owned(),
            node: "node-7".to_owned(),
            backend: "memory",
            logout_path: "/auth/logout".to_owned(),
            login_href: "/auth/login".to_owned(),
            stylesheet_href: "/static/demo.css?v=1".to_owned(),
        }
    }

    fn alice() -> UserView {
        UserView {
            sub: "u-1".to_owned(),
            display_name: "Alice".to_owned(),
            initial: "A".to_owned(),
            email: None,
            sid: Some("sid-42".to_owned()),
            csrf_token: "csrf-token-value".to_owned(),
            factors: FactorsView {
                acr: Some("urn:sso:acr:mfa".to_owned()),
                amr: "pwd, otp, <mfa>".to_owned(),
                second_factor: true,
            },
        }
    }

    #[test]
    fn the_sensitive_page_shows_how_the_user_authenticated() {
        let page = SensitivePage {
            site: &site(),
            user: Some(alice()),
            me: alice(),
            auth_time: Some("2026-11-22 11:45:48 UTC (1795347948)".to_owned()),
            active: "sensitive",
        };
        let html = page.render().unwrap();
        assert!(html.contains("<code>urn:sso:acr:mfa</code>"), "{html}");
        assert!(
            html.contains("pwd, otp, &#60;mfa&#62;"),
            "amr is escaped: {html}"
        );
        assert!(html.contains("2026-11-22 11:45:48 UTC (1795347948)"));
        assert!(html.contains(r#"href="/sensitive" aria-current="page""#));
        assert!(html.contains(r#"name="csrf_token" value="csrf-token-value""#));
    }
}
