//! Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way), with the `totp-rs` crate.
//!
//! A code is accepted once: the step it matched is claimed in the shared store (an atomic
//! counter, so on every replica at once), and the same step's code is refused afterwards.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds a code lasts.
pub const STEP_SECS: u64 = 30;

/// A user's TOTP generator.
#[derive(Clone, Debug)]
pub struct Generator {
    totp: Totp,
}

/// A code checked against a generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// It matches the time step with this number.
    Matches(u64),
    /// It is six digits but matches no step within the allowed skew.
    Wrong,
    /// It is not six digits.
    Malformed,
}

impl Generator {
    /// A generator for the base32 `secret`, labelled `account` at `issuer` in authenticator
    /// apps; `None` when the secret is not base32 of at least 128 bits.
    pub fn new(secret: &str, issuer: &str, account: &str) -> Option<Self> {
        let secret = Secret::try_from_base32(secret).ok()?;
        // `:` separates issuer and account in the otpauth label; neither may hold one.
        let clean = |text: &str| text.replace(':', " ");
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_skew(1)
            .with_step_duration(STEP_SECS)
            .with_secret(secret)
            .with_issuer(Some(clean(issuer)))
            .with_account_name(clean(account))
            .build()
            .ok()?;
        Some(Self { totp })
    }

    /// A fresh random secret (160 bits), base32.
    pub fn new_secret() -> String {
        Secret::generate().to_base32()
    }

    /// Checks `code` (spaces allowed, as apps show codes in groups) at `now` (Unix seconds).
    pub fn check(&self, code: &str, now: u64) -> Check {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Check::Malformed;
        }
        match self.totp.check(&code, now) {
            Some(step) => Check::Matches(step),
            None => Check::Wrong,
        }
    }

    /// The secret, base32, as authenticator apps take it typed.
    pub fn secret(&self) -> String {
        self.totp.secret().to_base32()
    }

    /// The code at `now` (for tests and the demo).
    pub fn code_at(&self, now: u64) -> String {
        self.totp.generate(now).to_string()
    }

    /// The `otpauth://` URI an authenticator app scans.
    pub fn uri(&self) -> String {
        self.totp.to_url().unwrap_or_default()
    }

    /// The URI as a QR code: an SVG document of black modules on white, no scripts or styles
    /// (so our CSP allows it inline).
    pub fn qr_svg(&self) -> Option<String> {
        let code =
            qrcode::QrCode::with_error_correction_level(self.uri().as_bytes(), qrcode::EcLevel::M)
                .ok()?;
        let svg = code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        // The document's XML declaration is not allowed inside HTML.
        Some(match svg.find("<svg") {
            Some(start) => svg[start..].to_owned(),
            None => svg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 secret, "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    fn generator() -> Generator {
        Generator::new(RFC_SECRET, "SSO", "alice").unwrap()
    }

    #[test]
    fn codes_match_the_rfc_test_vectors() {
        // Appendix B gives 8 digits; six-digit codes are their last six.
        let totp = generator();
        assert_eq!(totp.code_at(59), "287082");
        assert_eq!(totp.code_at(1_111_111_109), "081804");
        assert_eq!(totp.code_at(1_234_567_890), "005924");
        assert_eq!(totp.code_at(2_000_000_000), "279037");
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let totp = generator();
        let now = 1_234_567_890;
        let step = now / STEP_SECS;
        assert_eq!(totp.check(&totp.code_at(now), now), Check::Matches(step));
        assert_eq!(
            totp.check(&totp.code_at(now - 30), now),
            Check::Matches(step - 1)
        );
        assert_eq!(
            totp.check(&totp.code_at(now + 30), now),
            Check::Matches(step + 1)
        );
        assert_eq!(totp.check(&totp.code_at(now - 60), now), Check::Wrong);
        assert_eq!(totp.check(&totp.code_at(now + 60), now), Check::Wrong);
    }

    #[test]
    fn malformed_codes_are_told_apart_from_wrong_ones() {
        let totp = generator();
        for code in ["", "12345", "1234567", "12a456", "+12345", "１２３４５６"] {
            assert_eq!(totp.check(code, 59), Check::Malformed, "{code:?}");
        }
        assert_eq!(totp.check("287 082", 59), Check::Matches(1));
    }

    #[test]
    fn secrets_are_random_base32_and_the_uri_names_issuer_and_account() {
        let (a, b) = (Generator::new_secret(), Generator::new_secret());
        assert_ne!(a, b);
        let totp = Generator::new(&a, "SSO Center", "bob").unwrap();
        let uri = totp.uri();
        assert!(uri.starts_with("otpauth://totp/SSO%20Center:bob?"), "{uri}");
        assert!(uri.contains(&format!("secret={a}")), "{uri}");
        let svg = totp.qr_svg().unwrap();
        assert!(svg.starts_with("<svg") && !svg.contains("<script"));
        assert!(Generator::new("not base32!", "SSO", "bob").is_none());
    }
}
