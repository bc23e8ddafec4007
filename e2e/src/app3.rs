//! app3 (`app3/app3.py`, Python) behind a real nginx with the forward-auth snippets of
//! `nginx/forward-auth/`, reached as `http://app3.localhost:PORT`: nginx asks the center before
//! every request. Both processes run on loopback ports in a temporary directory and end with
//! the [`App3`] value.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::stack::{Site, free_port};

/// The nginx binary: `NGINX_BIN`, by default Debian's `/usr/sbin/nginx`.
fn nginx_bin() -> String {
    std::env::var("NGINX_BIN").unwrap_or_else(|_| "/usr/sbin/nginx".to_owned())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process, killed when this is dropped.
#[derive(Debug)]
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        // Already gone is fine: there is nothing left to stop.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// app3 and its nginx, running.
#[derive(Debug)]
pub struct App3 {
    /// app3 as the browser reaches it, through nginx.
    pub site: Site,
    // Dropped in this order: nginx, app3, then the directory nginx wrote to.
    _nginx: Running,
    _app: Running,
    _dir: tempfile::TempDir,
}

impl App3 {
    /// Starts app3 and an nginx in front of it that asks the center at `center_port` (on
    /// 127.0.0.1, which the center must trust as a proxy) before every request.
    ///
    /// # Errors
    /// When python3 or nginx is missing or either does not open its port within 20 s.
    pub fn start(center_port: u16) -> anyhow::Result<Self> {
        let (app_port, nginx_port) = (free_port()?, free_port()?);
        let app = Running(
            Command::new("python3")
                .arg(repo().join("app3/app3.py"))
                .args(["--port", &app_port.to_string()])
                .stdout(Stdio::null())
                .spawn()
                .context("python3 must be installed to run app3")?,
        );
        let dir = tempfile::tempdir()?;
        let conf = dir.path().join("nginx.conf");
        std::fs::write(
            &conf,
            nginx_conf(dir.path(), nginx_port, center_port, app_port),
        )?;
        let nginx = Running(
            Command::new(nginx_bin())
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("nginx must be installed (Debian package nginx, or NGINX_BIN)")?,
        );
        wait_for_port(app_port)?;
        wait_for_port(nginx_port)?;
        Ok(Self {
            site: Site {
                origin: format!("http://app3.localhost:{nginx_port}").parse()?,
            },
            _nginx: nginx,
            _app: app,
            _dir: dir,
        })
    }
}

fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The whole nginx configuration: one server for `app3.localhost` with the snippets included
/// exactly as `nginx/forward-auth/README.md` says.
fn nginx_conf(dir: &Path, nginx_port: u16, center_port: u16, app_port: u16) -> String {
    format!(
        r#"daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{nginx_port};
        server_name app3.localhost;
        set $sso_center http://127.0.0.1:{center_port};
        include {snippets}/server.conf;
        location / {{
            include {snippets}/location.conf;
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
}}
"#,
        dir = dir.display(),
        snippets = repo().join("nginx/forward-auth").display(),
    )
}
