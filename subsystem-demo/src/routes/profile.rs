use actix_web::{HttpResponse, web};
use askama::Template;
use serde_json::Value;
use sso_client::Principal;

use crate::pages::{Site, UserView};

#[derive(Template)]
#[template(path = "demo/profile.html")]
struct ProfilePage<'a> {
    site: &'a Site,
    user: Option<UserView>,
    me: UserView,
    groups: Vec<String>,
    claims: Vec<(String, String)>,
    active: &'static str,
}

/// `GET /profile` (signed-in users only): the user's claims and where the request was served.
pub(crate) async fn get(site: web::Data<Site>, user: Principal) -> HttpResponse {
    let me = UserView::from(&user);
    let groups = user.groups().into_iter().map(str::to_owned).collect();
    let claims = user
        .claims()
        .iter()
        .map(|(name, value)| (name.clone(), shown(name, value)))
        .collect();
    super::render(&ProfilePage {
        site: &site,
        user: Some(me.clone()),
        me,
        groups,
        claims,
        active: "profile",
    })
}

/// Claims that are dates (seconds since the epoch), shown with the date they stand for.
const DATE_CLAIMS: [&str; 4] = ["iat", "exp", "auth_time", "nbf"];

fn shown(name: &str, value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) if DATE_CLAIMS.contains(&name) => match number.as_u64() {
            Some(secs) => format!("{} ({secs})", utc_date_time(secs)),
            None => number.to_string(),
        },
        other => other.to_string(),
    }
}

/// `secs` since the epoch as `YYYY-MM-DD hh:mm:ss UTC` (proleptic Gregorian calendar).
pub(super) fn utc_date_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Days since 0000-03-01, so that leap days fall at the end of each 400-year era.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            name: "app1".to_owned(),
            initial: "A".to_owned(),
            theme: "app1".to_owned(),
            node: "node-7".to_owned(),
            backend: "redis",
            logout_path: "/auth/logout".to_owned(),
            login_href: "/auth/login".to_owned(),
            stylesheet_href: "/static/demo.css?v=1".to_owned(),
        }
    }

    fn alice() -> UserView {
        UserView {
            sub: "u-1".to_owned(),
            display_name: "Alice <script>".to_owned(),
            initial: "A".to_owned(),
            email: Some("alice@example.test".to_owned()),
            sid: Some("sid-42".to_owned()),
            csrf_token: "csrf-token-value".to_owned(),
            factors: crate::pages::FactorsView {
                acr: None,
                amr: String::new(),
                second_factor: false,
            },
        }
    }

    #[test]
    fn date_claims_are_shown_as_utc_dates() {
        assert_eq!(utc_date_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date_time(1_795_347_948), "2026-11-22 11:45:48 UTC");
        assert_eq!(
            shown("exp", &serde_json::json!(1_795_347_948)),
            "2026-11-22 11:45:48 UTC (1795347948)"
        );
        assert_eq!(shown("count", &serde_json::json!(3)), "3");
        assert_eq!(shown("name", &serde_json::json!("Alice")), "Alice");
    }

    #[test]
    fn a_user_without_groups_is_told_so() {
        let page = ProfilePage {
            site: &site(),
            user: Some(alice()),
            me: alice(),
            groups: Vec::new(),
            claims: Vec::new(),
            active: "profile",
        };
        assert!(page.render().unwrap().contains("No groups"));
    }

    #[test]
    fn the_profile_shows_claims_node_backend_and_a_csrf_protected_sign_out() {
        let page = ProfilePage {
            site: &site(),
            user: Some(alice()),
            me: alice(),
            groups: vec!["admins".to_owned(), "<staff>".to_owned()],
            claims: vec![("name".to_owned(), "<b>Alice</b>".to_owned())],
            active: "profile",
        };
        let html = page.render().unwrap();
        assert!(html.contains("<li>admins</li>"), "groups are listed");
        assert!(!html.contains("<staff>"), "group names are escaped");
        assert!(html.contains("node-7"));
        assert!(html.contains("redis"));
        assert!(html.contains("sid-42"));
        assert!(html.contains(r#"name="csrf_token" value="csrf-token-value""#));
        assert!(html.contains(r#"method="post" action="/auth/logout""#));
        assert!(!html.contains("<b>Alice</b>"), "claim values are escaped");
        assert!(!html.contains("Alice <script>"), "names are escaped");
        assert!(html.contains(r#"aria-current="page""#));
    }
}
