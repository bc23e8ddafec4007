//! A short, readable name for a browser from its `User-Agent` ("Chrome on Linux"), for the
//! user's list of sessions.
//!
//! # Limitations
//! Only the browsers and systems people commonly use are told apart, by the tokens their
//! `User-Agent` carries; anything else is unknown. The header is the browser's own claim, so
//! the name is a hint for the user, never a security decision.

/// What a `User-Agent` tells: the browser and the operating system, when recognised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agent {
    pub browser: Option<&'static str>,
    pub os: Option<&'static str>,
}

/// Browsers, by a token of their `User-Agent`. Order matters: browsers built on Chromium also
/// name Chrome and Safari, and Chrome names Safari, so the more specific come first.
const BROWSERS: [(&str, &str); 12] = [
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Operating systems, by a token of the `User-Agent`. iOS names Mac OS X and Android names
/// Linux, so they come first.
const SYSTEMS: [(&str, &str); 8] = [
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// Command-line clients, which name themselves first.
const TOOLS: [(&str, &str); 3] = [("curl/", "curl"), ("Wget/", "Wget"), ("python-", "Python")];

/// The browser and operating system `user_agent` names.
pub fn parse(user_agent: &str) -> Agent {
    if let Some((_, tool)) = TOOLS
        .iter()
        .find(|(token, _)| user_agent.starts_with(token))
    {
        return Agent {
            browser: Some(tool),
            os: None,
        };
    }
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(token, _)| user_agent.contains(token))
            .map(|(_, name)| *name)
    };
    // Safari is only Safari when it says which version it is; Chromium-based browsers and
    // in-app web views say "Safari/" without "Version/".
    let browser =
        find(&BROWSERS).filter(|&name| name != "Safari" || user_agent.contains("Version/"));
    Agent {
        browser,
        os: find(&SYSTEMS),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn agent(browser: &'static str, os: &'static str) -> Agent {
        Agent {
            browser: Some(browser),
            os: Some(os),
        }
    }

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36",
                agent("Chrome", "Linux"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
                agent("Edge", "Windows"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                agent("Safari", "macOS"),
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                agent("Firefox", "Linux"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                agent("Safari", "iOS"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                agent("Chrome", "iOS"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Mobile Safari/537.36",
                agent("Chrome", "Android"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) \
                 SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
                agent("Samsung Internet", "Android"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                agent("Opera", "Windows"),
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36",
                agent("Chrome", "ChromeOS"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 HeadlessChrome/131.0.0.0 Safari/537.36",
                agent("Chrome", "Linux"),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(parse(header), expected, "{header}");
        }
    }

    #[test]
    fn tools_and_unknown_agents() {
        assert_eq!(
            parse("curl/8.5.0"),
            Agent {
                browser: Some("curl"),
                os: None
            }
        );
        assert_eq!(parse(""), Agent::default());
        assert_eq!(parse("SomeBot/1.0"), Agent::default());
        // A web view names Safari's engine without being Safari.
        assert_eq!(
            parse(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Mobile/15E148"
            ),
            Agent {
                browser: None,
                os: Some("iOS")
            }
        );
    }

    proptest! {
        #[test]
        fn any_text_gives_an_answer(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }
    }
}
