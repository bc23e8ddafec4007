//! One headless Chromium per test, driven through its own chromedriver.
//!
//! Every wait is a poll with a bound ([`WAIT`]): a page that never comes fails the step with
//! what was seen last instead of hanging. A failed [`Browser::step`] saves a screenshot to
//! `target/e2e-screenshots/<test>-<step>.png` and names it in the panic message.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use url::Url;

/// The longest any wait lasts.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Flags for a headless Chromium on a machine that reaches nothing but loopback: without the
/// background-networking ones Chromium's own connections are refused and slow it down.
const CHROMIUM_ARGS: [&str; 12] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--lang=en-US",
    "--window-size=1280,900",
];

/// A command of WebDriver's WebAuthn extension, on the current session.
#[derive(Debug)]
struct WebAuthnCommand {
    /// Below `session/{id}/`.
    path: String,
    /// `None` for a GET.
    body: Option<Value>,
}

impl WebAuthnCommand {
    fn post(path: &str, body: Value) -> Self {
        Self {
            path: path.to_owned(),
            body: Some(body),
        }
    }

    fn get(path: String) -> Self {
        Self { path, body: None }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &Url) -> (http::Method, Option<String>) {
        match &self.body {
            Some(body) => (http::Method::POST, Some(body.to_string())),
            None => (http::Method::GET, None),
        }
    }
}

/// A Chromium session for one test.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    test: String,
    // Declared after `client`: the session is deleted and the driver stopped only after the
    // client is gone.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a Chromium with a fresh profile for `test`.
    ///
    /// # Errors
    /// When chromedriver or Chromium is missing or does not start within [`WAIT`].
    pub async fn start(test: &str) -> anyhow::Result<Self> {
        let profile = tempfile::tempdir()?;
        let mut driver = Driver::spawn()?;
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|&arg| arg.to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            bail!("capabilities are a JSON object");
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .with_context(|| format!("Chromium ({CHROMIUM}) did not start"))?;
        driver.session = client.session_id().await?;
        Ok(Self {
            client,
            test: test.to_owned(),
            _driver: driver,
            _profile: profile,
        })
    }

    /// Runs one step of the test. When it fails, saves a screenshot of the page as it is and
    /// panics with the error and the screenshot's path.
    pub async fn step<T>(&self, name: &str, step: impl Future<Output = anyhow::Result<T>>) -> T {
        match step.await {
            Ok(value) => value,
            Err(error) => {
                let shot = match self.screenshot(name).await {
                    Ok(path) => format!("screenshot: {}", path.display()),
                    Err(shot_error) => format!("no screenshot: {shot_error:#}"),
                };
                eprintln!("{shot}");
                panic!("step `{name}` of `{}` failed: {error:#}\n{shot}", self.test);
            }
        }
    }

    async fn screenshot(&self, step: &str) -> anyhow::Result<PathBuf> {
        let path = target_dir()
            .join("e2e-screenshots")
            .join(format!("{}-{step}.png", self.test));
        self.save_screenshot(&path).await?;
        Ok(path.canonicalize().unwrap_or(path))
    }

    /// Saves a PNG of what the window shows to `path`, creating its directory.
    ///
    /// # Errors
    /// When the browser cannot take it or the file cannot be written.
    pub async fn save_screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Saves what the page shows as `target/screenshots/{folder}/{name}.png`.
    ///
    /// # Errors
    /// When the browser does not take the screenshot or it cannot be written.
    pub async fn photograph(&self, folder: &str, name: &str) -> anyhow::Result<()> {
        let path = target_dir().join("screenshots").join(folder);
        self.save_screenshot(&path.join(format!("{name}.png")))
            .await
    }

    /// Sets the window to `width` × `height` pixels; the page is laid out again for it.
    ///
    /// # Errors
    /// When the browser refuses.
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client.set_window_size(width, height).await?;
        Ok(())
    }

    /// Adds a virtual authenticator to the browser (WebDriver's WebAuthn extension): a
    /// platform authenticator (CTAP2, internal) that keeps discoverable credentials and
    /// verifies its user every time without asking. Returns its id.
    ///
    /// # Errors
    /// When the browser refuses.
    pub async fn add_virtual_authenticator(&self) -> anyhow::Result<String> {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        let id = self
            .client
            .issue_cmd(WebAuthnCommand::post("webauthn/authenticator", options))
            .await?;
        id.as_str()
            .map(str::to_owned)
            .context("the virtual authenticator's id")
    }

    /// Sets whether virtual authenticator `authenticator` verifies its user: when it does not,
    /// every ceremony that requires user verification fails as if the user cancelled it.
    ///
    /// # Errors
    /// When the browser refuses.
    pub async fn set_user_verified(
        &self,
        authenticator: &str,
        verified: bool,
    ) -> anyhow::Result<()> {
        let path = format!("webauthn/authenticator/{authenticator}/uv");
        let body = json!({ "isUserVerified": verified });
        self.client
            .issue_cmd(WebAuthnCommand::post(&path, body))
            .await?;
        Ok(())
    }

    /// The credentials virtual authenticator `authenticator` keeps.
    ///
    /// # Errors
    /// When the browser refuses.
    pub async fn virtual_credentials(&self, authenticator: &str) -> anyhow::Result<Vec<Value>> {
        let path = format!("webauthn/authenticator/{authenticator}/credentials");
        let credentials = self.client.issue_cmd(WebAuthnCommand::get(path)).await?;
        match credentials {
            Value::Array(credentials) => Ok(credentials),
            other => bail!("credentials are a list, not {other}"),
        }
    }

    /// Runs `script`, the body of a function, in the page and returns what it returns.
    ///
    /// # Errors
    /// When the script throws or the browser fails.
    pub async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Opens `url` and waits until the page has loaded (after any redirects).
    ///
    /// # Errors
    /// When the browser cannot load it.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("cannot open {url}"))
    }

    /// The URL of the page shown.
    ///
    /// # Errors
    /// When the browser does not answer.
    pub async fn url(&self) -> anyhow::Result<Url> {
        Ok(self.client.current_url().await?)
    }

    /// Waits until the page shown is at a URL for which `wanted` holds; returns that URL.
    ///
    /// # Errors
    /// When no such page comes within [`WAIT`]; the error names `what` and the URL last seen.
    pub async fn wait_for_url(
        &self,
        what: &str,
        wanted: impl Fn(&Url) -> bool,
    ) -> anyhow::Result<Url> {
        let client = &self.client;
        let wanted = &wanted;
        poll(what, move || async move {
            let url = client.current_url().await?;
            Ok(if wanted(&url) {
                Ok(url)
            } else {
                Err(format!("at {url}"))
            })
        })
        .await
    }

    /// Waits until an element matching `css` is on the page; returns it.
    ///
    /// # Errors
    /// When none appears within [`WAIT`].
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        let client = &self.client;
        poll(&format!("an element `{css}`"), move || async move {
            let found = client.find_all(Locator::Css(css)).await?;
            Ok(match found.into_iter().next() {
                Some(element) => Ok(element),
                None => Err(format!("none at {}", client.current_url().await?)),
            })
        })
        .await
    }

    /// Waits until the first element matching `css` contains `text`.
    ///
    /// # Errors
    /// When it does not within [`WAIT`]; the error quotes the text last seen.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let client = &self.client;
        poll(&format!("`{css}` to say {text:?}"), move || async move {
            Ok(text_of(client, css, text).await?.map(|_| ()))
        })
        .await
    }

    /// Reloads the page until the first element matching `css` contains `text`: for changes
    /// made elsewhere, such as a single logout delivered in the background.
    ///
    /// # Errors
    /// When it does not within [`WAIT`].
    pub async fn reload_until_text(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let client = &self.client;
        let mut first = true;
        poll(
            &format!("`{css}` to say {text:?} after reloading"),
            move || {
                let reload = !std::mem::replace(&mut first, false);
                async move {
                    if reload {
                        client.refresh().await?;
                    }
                    Ok(text_of(client, css, text).await?.map(|_| ()))
                }
            },
        )
        .await
    }

    /// The text of the first element matching `css`, which must be on the page.
    ///
    /// # Errors
    /// When there is none.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let found = self.client.find_all(Locator::Css(css)).await?;
        match found.into_iter().next() {
            Some(element) => content(&element).await,
            None => bail!("no `{css}` at {}", self.url().await?),
        }
    }

    /// Whether an element matching `css` is on the page now (no waiting).
    ///
    /// # Errors
    /// When the browser does not answer.
    pub async fn has(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// Types `text` into the field matching `css`, waiting for it to appear.
    ///
    /// # Errors
    /// When the field does not appear within [`WAIT`] or takes no input.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.wait_for(css).await?;
        field.clear().await?;
        Ok(field.send_keys(text).await?)
    }

    /// Clicks the element matching `css`, waiting for it to appear.
    ///
    /// # Errors
    /// When it does not appear within [`WAIT`] or cannot be clicked.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        Ok(self.wait_for(css).await?.click().await?)
    }

    /// Waits for the center's login form, on a page at a URL for which `on_center` holds.
    ///
    /// # Errors
    /// When the browser does not get there within [`WAIT`].
    pub async fn wait_for_login_form(
        &self,
        on_center: impl Fn(&Url) -> bool,
    ) -> anyhow::Result<()> {
        self.wait_for_url("the center's login page", on_center)
            .await?;
        self.wait_for("input#password").await?;
        Ok(())
    }

    /// Fills in the center's login form and submits it.
    ///
    /// # Errors
    /// When the form is not on the page or cannot be used.
    pub async fn submit_login(&self, username: &str, password: &str) -> anyhow::Result<()> {
        self.fill("input#username", username).await?;
        self.fill("input#password", password).await?;
        self.click("form[action='/login'] button[type=submit]")
            .await
    }

    /// The HTTP status of the response the page shown was loaded from.
    ///
    /// # Errors
    /// When the browser does not report it.
    pub async fn status(&self) -> anyhow::Result<u64> {
        let status = self
            .client
            .execute(
                "return performance.getEntriesByType('navigation')[0].responseStatus;",
                Vec::new(),
            )
            .await?;
        status
            .as_u64()
            .with_context(|| format!("no response status, got {status}"))
    }
}

/// Where cargo puts build output for this workspace when `CARGO_TARGET_DIR` is not set.
/// The workspace's target directory (`CARGO_TARGET_DIR` when set), where tests keep what they
/// leave for a reader (screenshots).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// The text of `element` as written in the page (not as styled: no `text-transform`), with
/// runs of white space collapsed.
async fn content(element: &Element) -> anyhow::Result<String> {
    let text = element.prop("textContent").await?.unwrap_or_default();
    Ok(words(&text))
}

/// `text` with its runs of white space made single spaces.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Ok(text)` when the first element matching `css` contains `wanted`, otherwise `Err` with
/// what is there instead.
async fn text_of(
    client: &Client,
    css: &str,
    wanted: &str,
) -> anyhow::Result<Result<String, String>> {
    let found = client.find_all(Locator::Css(css)).await?;
    let Some(element) = found.into_iter().next() else {
        return Ok(Err(format!(
            "no such element at {}",
            client.current_url().await?
        )));
    };
    let text = match element.prop("textContent").await {
        Ok(text) => words(&text.unwrap_or_default()),
        // The page changed between finding the element and reading it (a form was posted, a
        // redirect followed): look again.
        Err(error) if error.is_stale_element_reference() => {
            return Ok(Err("a page that changed while it was read".to_owned()));
        }
        Err(error) => return Err(error.into()),
    };
    Ok(if text.contains(wanted) {
        Ok(text)
    } else {
        Err(format!(
            "it says {text:?} at {}",
            client.current_url().await?
        ))
    })
}

/// Calls `probe` every [`POLL`] until it returns `Ok(Ok(value))`, for at most [`WAIT`].
/// `Ok(Err(seen))` means "not yet" and describes what was seen; `Err` stops at once.
async fn poll<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Result<T, String>>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match probe().await? {
            Ok(value) => return Ok(value),
            Err(seen) if tokio::time::Instant::now() >= deadline => {
                bail!("waited {WAIT:?} for {what}; last {seen}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// A chromedriver process of our own, in a process group of its own so that nothing it
/// started outlives the test.
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
}

impl Driver {
    fn spawn() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {CHROMEDRIVER}: install the Debian packages chromium and \
                     chromium-driver"
                )
            })?;
        let mut driver = Self {
            child,
            port,
            session: None,
        };
        driver.wait_until_listening()?;
        Ok(driver)
    }

    fn wait_until_listening(&mut self) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait()? {
                bail!("{CHROMEDRIVER} exited at start: {status}");
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "{CHROMEDRIVER} did not listen on port {} within {WAIT:?}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ends the WebDriver session, which closes Chromium and removes its temporary files.
    fn delete_session(&self, session: &str) -> std::io::Result<()> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(WAIT))?;
        write!(
            stream,
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )?;
        // chromedriver answers once Chromium has quit; the connection may stay open after that.
        let mut response = Vec::new();
        let mut buffer = [0; 1024];
        while !response.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = stream.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..read]);
        }
        Ok(())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && let Err(error) = self.delete_session(&session)
        {
            eprintln!("cannot end the WebDriver session: {error}");
        }
        // Whatever is left of the group (chromedriver, and Chromium if it did not quit).
        let group = format!("-{}", self.child.id());
        if let Err(error) = Command::new("kill").args(["-KILL", "--", &group]).status() {
            eprintln!("cannot stop chromedriver: {error}");
        }
        let _ = self.child.wait();
    }
}
