/// The languages of the pages: English and Simplified Chinese.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
    SimplifiedChinese,
}

impl Language {
    /// The best language for an `Accept-Language` header: the highest-weighted tag that is
    /// Chinese (any `zh` except the traditional variants `zh-Hant`, `zh-TW`, `zh-HK`, `zh-MO`)
    /// or English; English when nothing matches.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let mut best: Option<(f32, Self)> = None;
        for item in accept_language.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let language = if tag == "zh" || tag.starts_with("zh-") {
                let traditional = ["zh-hant", "zh-tw", "zh-hk", "zh-mo"]
                    .iter()
                    .any(|t| tag.starts_with(t));
                (!traditional).then_some(Self::SimplifiedChinese)
            } else if tag == "en" || tag.starts_with("en-") {
                Some(Self::English)
            } else {
                None
            };
            if let Some(language) = language
                && weight > 0.0
                && best.is_none_or(|(w, _)| weight > w)
            {
                best = Some((weight, language));
            }
        }
        best.map_or(Self::English, |(_, language)| language)
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::SimplifiedChinese => "zh-Hans",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_weight_and_defaults_to_english() {
        assert_eq!(Language::negotiate(None), Language::English);
        assert_eq!(
            Language::negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Language::SimplifiedChinese
        );
        assert_eq!(
            Language::negotiate(Some("en-US,en;q=0.9,zh-CN;q=0.8")),
            Language::English
        );
        assert_eq!(
            Language::negotiate(Some("fr,zh;q=0.5")),
            Language::SimplifiedChinese
        );
        assert_eq!(Language::negotiate(Some("zh-TW")), Language::English);
        assert_eq!(Language::negotiate(Some("de")), Language::English);
    }
}
