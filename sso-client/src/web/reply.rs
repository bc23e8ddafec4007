//! One answer of the SDK, in terms every web framework can write out.

use super::cookies::SetCookie;

/// A response the SDK writes itself: status, headers, a text body and the cookies to set or
/// delete. Header names are lower case; values are ASCII.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    pub(crate) cookies: Vec<SetCookie>,
}

impl Reply {
    /// An empty answer with `status`, never to be cached.
    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("cache-control", "no-store".to_owned())],
            body: String::new(),
            cookies: Vec::new(),
        }
    }

    /// A redirect to `location`, never to be cached.
    pub(crate) fn redirect(status: u16, location: &str) -> Self {
        Self::empty(status).with_header("location", location.to_owned())
    }

    /// A JSON body, never to be cached.
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        let mut reply =
            Self::empty(status).with_header("content-type", "application/json".to_owned());
        reply.body = body.to_string();
        reply
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn with_cookie(mut self, cookie: SetCookie) -> Self {
        self.cookies.push(cookie);
        self
    }
}
