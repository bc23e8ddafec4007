use actix_web::{HttpResponse, web};
use askama::Template;
use sso_client::Principal;

use crate::pages::{Site, UserView};

#[derive(Template)]
#[template(path = "demo/home.html")]
struct HomePage<'a> {
    site: &'a Site,
    user: Option<UserView>,
    active: &'static str,
}

/// `GET /`: who is signed in, or a way to sign in.
pub(crate) async fn get(site: web::Data<Site>, user: Option<Principal>) -> HttpResponse {
    super::render(&HomePage {
        site: &site,
        user: user.as_ref().map(UserView::from),
        active: "home",
    })
}
