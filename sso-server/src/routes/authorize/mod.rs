//! `/authorize`: the start of the authorization code flow, and the single sign-on itself.

pub mod get;

use serde::Deserialize;

/// The query of an authorization request, as received.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    /// Requested authentication context classes, space-separated, most preferred first.
    pub acr_values: Option<String>,
    /// The longest time since the user last authenticated, in seconds, as text (checked by
    /// the handler).
    pub max_age: Option<String>,
}

impl AuthorizeQuery {
    /// The query to come back to after the login form, without `prompt=login` (the user has
    /// just logged in) so that it does not ask again.
    pub fn return_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let prompt = self.prompt.as_deref().filter(|p| *p != "login");
        for (name, value) in [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("acr_values", &self.acr_values),
            ("max_age", &self.max_age),
        ] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if let Some(prompt) = prompt {
            query.append_pair("prompt", prompt);
        }
        query.finish()
    }
}
