use std::fmt;

use url::Url;

/// An absolute `http(s)` URI without a fragment, compared byte for byte with the registered
/// ones: no normalisation is applied before matching, so `…/cb` and `…/cb/` differ.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Accepts a URI; `None` unless it is an absolute http(s) URL without a fragment.
    pub fn parse(text: &str) -> Option<Self> {
        let url = Url::parse(text).ok()?;
        let valid = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.fragment().is_none()
            && text.len() <= 2048;
        valid.then(|| Self(text.to_owned()))
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URI with `params` appended to its query.
    pub fn with_query(&self, params: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&self.0).expect("validated at construction");
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in params {
                query.append_pair(name, value);
            }
        }
        url.into()
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("{text:?} is not an absolute http(s) URI"))
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.0
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_http_uris_only() {
        assert!(RedirectUri::parse("http://app1.localhost:8081/auth/callback").is_some());
        assert!(RedirectUri::parse("https://a.example/cb?x=1").is_some());
        assert!(RedirectUri::parse("/relative").is_none());
        assert!(RedirectUri::parse("javascript:alert(1)").is_none());
        assert!(RedirectUri::parse("https://a.example/cb#frag").is_none());
    }

    #[test]
    fn appends_query_parameters_encoded() {
        let uri = RedirectUri::parse("https://a.example/cb?x=1").unwrap();
        assert_eq!(
            uri.with_query(&[("code", "a b"), ("state", "s&t")]),
            "https://a.example/cb?x=1&code=a+b&state=s%26t"
        );
    }
}
