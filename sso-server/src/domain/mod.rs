//! Validated values: once constructed, they hold their invariants.

mod client_id;
mod language;
mod pkce;
mod redirect_uri;
mod username;

pub use client_id::ClientId;
pub use language::Language;
pub use pkce::{CodeChallenge, CodeVerifier};
pub use redirect_uri::RedirectUri;
pub use username::Username;

#[cfg(test)]
mod properties {
    //! Every constructor of a validated value answers for any input, and what it accepts holds
    //! the invariant its type promises.

    use proptest::prelude::*;
    use url::Url;

    use super::*;

    proptest! {
        #[test]
        fn redirect_uris_accepted_are_absolute_http_without_fragment(
            text in prop_oneof![
                "\\PC{0,200}",
                "(http|https|javascript|file)://[a-z.]{0,20}(:[0-9]{1,6})?/\\PC{0,40}(#\\PC{0,5})?",
            ],
            name in "\\PC{0,10}",
            value in "\\PC{0,20}",
        ) {
            if let Some(uri) = RedirectUri::parse(&text) {
                let url = Url::parse(uri.as_str()).unwrap();
                prop_assert!(matches!(url.scheme(), "http" | "https"));
                prop_assert!(url.fragment().is_none());
                let with = Url::parse(&uri.with_query(&[(&name, &value)])).unwrap();
                prop_assert_eq!(with.origin(), url.origin());
                prop_assert_eq!(with.path(), url.path());
            }
        }

        #[test]
        fn identifiers_and_pkce_values_answer_for_any_text(text in "\\PC{0,200}") {
            if let Some(id) = ClientId::parse(&text) {
                prop_assert_eq!(id.as_str(), text.as_str());
            }
            if let Ok(name) = Username::parse(&text) {
                prop_assert!(!name.as_str().is_empty());
            }
            if CodeChallenge::parse(&text).is_some() {
                prop_assert_eq!(text.len(), 43);
            }
            if let Some(verifier) = CodeVerifier::parse(&text) {
                use base64::Engine as _;
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
                let own = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                prop_assert!(CodeChallenge::parse(&own).unwrap().matches(&verifier));
                prop_assert!(!CodeChallenge::parse(&"A".repeat(43)).unwrap().matches(&verifier));
            }
            let _ = Language::negotiate(Some(&text));
        }
    }
}
