//! What every page shows: the site around the content and the signed-in user.

use sso_client::Principal;

/// Facts about this app and node, shown on every page.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub(crate) name: String,
    pub(crate) initial: String,
    /// Picks the colour scheme (`app2` has its own, so the two apps are easy to tell apart).
    pub(crate) theme: String,
    pub(crate) node: String,
    pub(crate) backend: &'static str,
    pub(crate) logout_path: String,
    pub(crate) login_href: String,
    pub(crate) stylesheet_href: String,
}

/// The signed-in user as the pages show them.
#[derive(Clone, Debug)]
pub(crate) struct UserView {
    pub(crate) sub: String,
    pub(crate) display_name: String,
    pub(crate) initial: String,
    pub(crate) email: Option<String>,
    pub(crate) sid: Option<String>,
    pub(crate) csrf_token: String,
    /// How the user authenticated: the `acr` and `amr` of their sign-in.
    pub(crate) factors: FactorsView,
}

/// How the user authenticated, as the pages show it.
#[derive(Clone, Debug)]
pub(crate) struct FactorsView {
    pub(crate) acr: Option<String>,
    /// The `amr` values, comma-separated; empty when the sign-in service did not say.
    pub(crate) amr: String,
    pub(crate) second_factor: bool,
}

impl From<&Principal> for FactorsView {
    fn from(user: &Principal) -> Self {
        Self {
            acr: user.acr().map(str::to_owned),
            amr: user.amr().join(", "),
            second_factor: user.has_second_factor(),
        }
    }
}

impl From<&Principal> for UserView {
    fn from(user: &Principal) -> Self {
        Self {
            sub: user.sub().to_owned(),
            display_name: user.display_name().to_owned(),
            initial: first_letter(user.display_name()),
            email: user.email().map(str::to_owned),
            sid: user.sid().map(str::to_owned),
            csrf_token: user.csrf_token().to_owned(),
            factors: FactorsView::from(user),
        }
    }
}

/// The first letter of `text`, for avatars.
pub(crate) fn first_letter(text: &str) -> String {
    text.chars()
        .find(|c| c.is_alphanumeric())
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect())
}
