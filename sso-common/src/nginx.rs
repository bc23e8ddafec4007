//! A throwaway nginx for tests and benchmarks of forward auth: one process, in a temporary
//! directory of its own, with the snippets of `nginx/forward-auth/` at hand.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx binary: `NGINX_BIN`, by default Debian's `/usr/sbin/nginx`.
pub fn bin() -> String {
    std::env::var("NGINX_BIN").unwrap_or_else(|_| "/usr/sbin/nginx".to_owned())
}

/// The repository's root directory.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The directory of the forward-auth snippets (`server.conf`, `location.conf`).
pub fn snippets() -> PathBuf {
    repo().join("nginx/forward-auth")
}

/// A child process, killed (and reaped) when dropped.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already gone is fine: there is nothing left to stop.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// app3 (`app3/app3.py`, Python) listening on `port` of 127.0.0.1.
///
/// # Errors
/// When python3 cannot be started.
pub fn app3(port: u16) -> std::io::Result<KillOnDrop> {
    Command::new("python3")
        .arg(repo().join("app3/app3.py"))
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .map(KillOnDrop)
}

/// Waits until something listens on `port` of 127.0.0.1.
///
/// # Errors
/// When nothing does within 20 s.
pub fn wait_for_port(port: u16) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("port {port} never opened"),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// nginx running in the foreground in a temporary directory; stopped, and the directory
/// removed, when dropped.
#[derive(Debug)]
pub struct Nginx {
    // Dropped in this order: the process, then the directory it wrote to.
    _process: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `servers(dir)` inside its `http` block (after a preamble that keeps
    /// every file in `dir`), run through `launcher` (e.g. `["taskset", "-c", "0"]`, or
    /// nothing), and waits for `ports` to open.
    ///
    /// # Errors
    /// When the directory cannot be made, nginx cannot start, or a port never opens.
    pub fn start(
        servers: impl FnOnce(&Path) -> std::io::Result<String>,
        launcher: &[&str],
        ports: &[u16],
    ) -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path();
        let conf = path.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\npid {root}/nginx.pid;\n\
                 error_log {root}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
                 http {{\n    access_log off;\n    client_body_temp_path {root}/body;\n    \
                 proxy_temp_path {root}/proxy;\n    fastcgi_temp_path {root}/fastcgi;\n    \
                 uwsgi_temp_path {root}/uwsgi;\n    scgi_temp_path {root}/scgi;\n{servers}}}\n",
                root = path.display(),
                servers = servers(path)?,
            ),
        )?;
        let mut command = match launcher.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(bin());
                command
            }
            None => Command::new(bin()),
        };
        let process = KillOnDrop(
            command
                .arg("-p")
                .arg(path)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(path.join("error.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|error| {
                    std::io::Error::new(
                        error.kind(),
                        format!("cannot start nginx (Debian package nginx, or NGINX_BIN): {error}"),
                    )
                })?,
        );
        for &port in ports {
            wait_for_port(port)?;
        }
        Ok(Self {
            _process: process,
            _dir: dir,
        })
    }
}
