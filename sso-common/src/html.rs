//! Reading a server-rendered form the way a browser would, for tests and benchmarks that drive
//! the pages over HTTP (feature `testing`).

/// The value of the hidden input `name` in `html` (as the project's templates write it:
/// `name="…" value="…"`), with character references decoded; `None` when the page has no such
/// field or the value is not valid escaped text.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    unescape(&html[start..end])
}

/// Decodes the character references an HTML escaper writes (`&amp;`, `&#38;`, `&#x26;`, …).
fn unescape(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = at + rest[at..].find(';')?;
        let entity = &rest[at + 1..end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|n| n.parse().ok()))
                .and_then(char::from_u32)?,
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_inputs_are_found_and_decoded() {
        let page = r#"<input type="hidden" name="csrf_token" value="a&amp;b&#43;c&#x2F;d">"#;
        assert_eq!(hidden_input(page, "csrf_token").as_deref(), Some("a&b+c/d"));
        assert_eq!(hidden_input(page, "return_to"), None);
        assert_eq!(hidden_input(r#"name="x" value="&bogus;""#, "x"), None);
    }
}
