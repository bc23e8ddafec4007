//! The center and two demo apps clicked through in a real headless Chromium: single sign-on and
//! single logout on every local-session backend, app3 behind nginx forward auth, the admin
//! console, the user's account page, and the mistakes and attacks a person meets on the way (a
//! wrong password, a tampered callback).

mod account;
mod axum;
mod callback;
mod console;
mod forward_auth;
mod login_form;
mod passkeys;
mod single_sign_on;
mod step_up;
mod totp;
