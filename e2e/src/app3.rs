//! app3 (`app3/app3.py`, Python) behind a real nginx with the forward-auth snippets of
//! `nginx/forward-auth/`, reached as `http://app3.localhost:PORT`: nginx asks the center before
//! every request. Both processes run on loopback ports in a temporary directory and end with
//! the [`App3`] value.

use anyhow::Context as _;
use sso_common::nginx::{self, KillOnDrop, Nginx};

use crate::stack::{Site, free_port};

/// app3 and its nginx, running.
#[derive(Debug)]
pub struct App3 {
    /// app3 as the browser reaches it, through nginx.
    pub site: Site,
    // Dropped in this order: nginx, then app3.
    _nginx: Nginx,
    _app: KillOnDrop,
}

impl App3 {
    /// Starts app3 and an nginx in front of it that asks the center at `center_port` (on
    /// 127.0.0.1, which the center must trust as a proxy) before every request, with one
    /// server for `app3.localhost` including the snippets exactly as
    /// `nginx/forward-auth/README.md` says.
    ///
    /// # Errors
    /// When python3 or nginx is missing or either does not open its port within 20 s.
    pub fn start(center_port: u16) -> anyhow::Result<Self> {
        let (app_port, nginx_port) = (free_port(), free_port());
        let app = nginx::app3(app_port).context("python3 must be installed to run app3")?;
        nginx::wait_for_port(app_port)?;
        let snippets = nginx::snippets();
        let nginx = Nginx::start(
            |_| {
                Ok(format!(
                    r#"    server {{
        listen 127.0.0.1:{nginx_port};
        server_name app3.localhost;
        set $sso_center http://127.0.0.1:{center_port};
        include {snippets}/server.conf;
        location / {{
            include {snippets}/location.conf;
            proxy_pass http://127.0.0.1:{app_port};
        }}
    }}
"#,
                    snippets = snippets.display(),
                ))
            },
            &[],
            &[nginx_port],
        )?;
        Ok(Self {
            site: Site {
                origin: format!("http://app3.localhost:{nginx_port}").parse()?,
            },
            _nginx: nginx,
            _app: app,
        })
    }
}
