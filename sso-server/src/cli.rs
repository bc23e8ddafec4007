//! The command line: `serve`, `user …`, `client …`, `forward-auth …` and `keys rotate`, all on
//! one binary.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use jsonwebtoken::Algorithm;
use session_store::{MemoryStore, SharedStore};
use tokio::sync::Notify;

use crate::admin::{self, CLI_ACTOR};
use crate::audit::AuditLog;
use crate::clients::{NewClient, TokenPolicy};
use crate::config::{
    AccessTokenFormat, ForwardAuthSettings, GrantType, Layered as _, Settings, SigningAlg,
    StoreBackend,
};
use crate::domain::{ClientId, RedirectUri, Username};
use crate::forward_auth::hosts::{HostRegistry, ProtectedHost};
use crate::keys::Keys;
use crate::startup::{Application, build_state, build_store};
use crate::state::AppState;
use crate::users::{AddUserError, GroupChange, GroupName, NewUser, Password};

/// The authentication center.
#[derive(Debug, Parser)]
#[command(name = "sso-server", version, about)]
pub struct Cli {
    /// Configuration file (TOML); `SSO_*` environment variables override it.
    #[arg(long, env = "SSO_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Add the demo users (alice, bob) and clients (app1, app2) first.
        #[arg(long)]
        demo: bool,
        /// Password of the demo users; a random one is generated and printed if not given.
        #[arg(long, env = "DEMO_PASSWORD", requires = "demo")]
        demo_password: Option<String>,
        /// Key (base32) of the demo user bob's authenticator app; a random one is made (and
        /// kept) if not given. Printed either way.
        #[arg(long, env = "DEMO_TOTP_KEY", requires = "demo")]
        demo_totp_key: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage clients (the applications that sign in through the center).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage hosts protected through nginx `auth_request` (forward auth).
    ForwardAuth {
        #[command(subcommand)]
        command: ForwardAuthCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from stdin, or generated and printed.
    Add {
        username: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password; ends the user's sessions (with single logout).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user; ends the user's sessions (with single logout).
    Disable { username: String },
    /// Remove a user's second factors (authenticator app, passkeys, recovery codes); ends the
    /// user's sessions (with single logout).
    ResetFactors { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// List users.
    List,
    /// Show a user's groups, or change them (`set`, `add`, `remove`); a change makes the user's
    /// forward-auth sessions sign in again, so protected hosts see the new groups.
    Groups {
        username: String,
        #[command(subcommand)]
        command: Option<GroupsCommand>,
    },
}

#[derive(Debug, Subcommand)]
enum GroupsCommand {
    /// The user is in exactly these groups (comma-separated; "" for none).
    Set { groups: String },
    /// The user is in these groups too (comma-separated).
    Add { groups: String },
    /// The user is no longer in these groups (comma-separated).
    Remove { groups: String },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client, replacing one with the same id; a confidential client's secret is
    /// read from stdin, or generated and printed.
    Add {
        client_id: String,
        #[arg(long)]
        name: Option<String>,
        /// An exact redirect URI (repeatable); needed for the authorization_code grant.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// An exact URI to return to after logout (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where logout tokens are POSTed.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// How id_tokens and logout tokens for this client are signed.
        #[arg(long, value_enum, default_value = "rs256")]
        id_token_alg: SigningAlg,
        /// A grant type the client may use (repeatable); authorization_code and refresh_token
        /// when none is given.
        #[arg(long = "grant-type", value_enum)]
        grant_types: Vec<GrantType>,
        /// A scope its client_credentials tokens may carry (repeatable).
        #[arg(long = "client-credentials-scope")]
        client_credentials_scopes: Vec<String>,
        /// The form of its access tokens.
        #[arg(long, value_enum, default_value = "opaque")]
        access_token_format: AccessTokenFormat,
        /// Grant scope offline_access: refresh tokens that outlive the sign-in.
        #[arg(long)]
        offline_access: bool,
        /// A public client: no secret, PKCE required.
        #[arg(long, conflicts_with = "secret_stdin")]
        public: bool,
        /// Read the secret from the first line of standard input.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List client ids.
    List,
    /// Remove a client.
    Remove { client_id: String },
}

#[derive(Debug, Subcommand)]
enum ForwardAuthCommand {
    /// Register a protected host entry, replacing one with the same name; running centers
    /// verify its hosts within seconds.
    Add {
        name: String,
        /// A host name served by the entry, without scheme or port (repeatable).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// A user allowed in (repeatable); with no users and no groups, every signed-in user is.
        #[arg(long = "allow-user")]
        users: Vec<String>,
        /// A group whose members are allowed in (repeatable).
        #[arg(long = "allow-group")]
        groups: Vec<String>,
        /// Idle timeout of a session on these hosts, in seconds.
        #[arg(long, default_value_t = ForwardAuthSettings::default_idle_timeout_secs())]
        idle_timeout_secs: u64,
        /// Absolute lifetime of a session on these hosts, in seconds.
        #[arg(long, default_value_t = ForwardAuthSettings::default_absolute_timeout_secs())]
        absolute_timeout_secs: u64,
        /// Whether signing in to these hosts needs a second factor (default: `login.mfa`).
        #[arg(long, value_enum)]
        mfa: Option<crate::factors::MfaPolicy>,
    },
    /// List protected host entries.
    List,
    /// Remove a protected host entry.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add new signing keys; the previous ones stay published for verification.
    Rotate,
}

/// Parses the command line and runs it.
///
/// # Errors
/// When the configuration is invalid or the command fails.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("cannot load configuration")?;
    match cli.command {
        Command::Serve {
            demo,
            demo_password,
            demo_totp_key,
        } => {
            let application = Application::build(settings).await?;
            if demo {
                let ports = application.state().settings.demo.app_ports.clone();
                let state = application.state();
                seed_demo(state, demo_password, demo_totp_key.as_deref(), &ports).await?;
            }
            tracing::info!(port = application.port(), "listening");
            application.run_until_stopped().await
        }
        Command::User { command } => user(settings, command).await,
        Command::Client { command } => client(settings, command).await,
        Command::ForwardAuth { command } => forward_auth(settings, command).await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let pool = crate::db::connect(&settings.database).await?;
            let kids = Keys::rotate(&settings.tokens.key_store(pool)).await?;
            say(&format!("new signing keys: {}", kids.join(", ")))
        }
    }
}

fn say(line: &str) -> anyhow::Result<()> {
    writeln!(std::io::stdout(), "{line}").context("cannot write to stdout")
}

/// A secret from the first line of stdin (at least `min_len` characters), or a generated one
/// (returned twice: to use, and to print).
fn read_secret(from_stdin: bool, min_len: usize) -> anyhow::Result<(String, Option<String>)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read standard input")?;
        let line = line.trim_end_matches(['\r', '\n']);
        anyhow::ensure!(
            line.chars().count() >= min_len,
            "the secret must be at least {min_len} characters"
        );
        Ok((line.to_owned(), None))
    } else {
        let generated = admin::generate_secret();
        Ok((generated.clone(), Some(generated)))
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<(Password, Option<String>)> {
    let (password, generated) = read_secret(from_stdin, 8)?;
    Ok((Password::new(password), generated))
}

async fn client(settings: Settings, command: ClientCommand) -> anyhow::Result<()> {
    let pool = crate::db::connect(&settings.database).await?;
    let audit = AuditLog::new(pool.clone(), settings.audit.retention());
    let client_changed = |id: &str, action: &str| admin::client_changed(CLI_ACTOR, id, action);
    let clients = crate::clients::ClientRegistry::with_configured(pool, &settings.clients)?;
    let client_id = |text: &str| {
        ClientId::parse(text).with_context(|| format!("{text:?} is not a valid client id"))
    };
    let uri = |text: &String| {
        RedirectUri::parse(text).with_context(|| format!("{text:?} is not an absolute http(s) URI"))
    };
    match command {
        ClientCommand::Add {
            client_id: id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            id_token_alg,
            grant_types,
            client_credentials_scopes,
            access_token_format,
            offline_access,
            public,
            secret_stdin,
        } => {
            let grant_types = if grant_types.is_empty() {
                crate::config::ClientSettings::default_grant_types()
            } else {
                grant_types
            };
            let tokens = TokenPolicy::new(
                grant_types,
                client_credentials_scopes,
                access_token_format,
                offline_access,
            )
            .map_err(anyhow::Error::msg)?;
            let (secret, generated) = if public {
                (None, None)
            } else {
                let (secret, generated) = read_secret(secret_stdin, 32)?;
                (Some(secret), generated)
            };
            clients
                .upsert(NewClient {
                    id: client_id(&id)?,
                    name: name.unwrap_or_else(|| id.clone()),
                    secret,
                    redirect_uris: redirect_uris.iter().map(uri).collect::<Result<_, _>>()?,
                    post_logout_redirect_uris: post_logout_redirect_uris
                        .iter()
                        .map(uri)
                        .collect::<Result<_, _>>()?,
                    backchannel_logout_uri: backchannel_logout_uri.as_ref().map(uri).transpose()?,
                    id_token_alg: id_token_alg.into(),
                    tokens,
                })
                .await?;
            audit.record(client_changed(&id, "register")).await;
            say(&format!("registered client {id}"))?;
            if let Some(secret) = generated {
                say(&format!("secret: {secret}"))?;
            }
            Ok(())
        }
        ClientCommand::List => {
            for client in clients.list().await? {
                if client.configured {
                    say(&format!("{}\t(configuration file)", client.id))?;
                } else {
                    say(&client.id)?;
                }
            }
            Ok(())
        }
        ClientCommand::Remove { client_id: id } => {
            anyhow::ensure!(clients.remove(&client_id(&id)?).await?, "no client {id}");
            audit.record(client_changed(&id, "remove")).await;
            say(&format!("removed client {id}"))
        }
    }
}

async fn forward_auth(settings: Settings, command: ForwardAuthCommand) -> anyhow::Result<()> {
    let pool = crate::db::connect(&settings.database).await?;
    let configured = crate::forward_auth::hosts::from_settings(&settings.forward_auth)?;
    let registry = HostRegistry::load(pool, configured).await?;
    match command {
        ForwardAuthCommand::Add {
            name,
            hosts,
            users,
            groups,
            idle_timeout_secs,
            absolute_timeout_secs,
            mfa,
        } => {
            let entry = ProtectedHost::new(
                &name,
                &hosts,
                &users,
                &groups,
                (idle_timeout_secs, absolute_timeout_secs),
            )
            .map_err(|why| anyhow::anyhow!("{name}: {why}"))?
            .with_mfa(mfa);
            registry.upsert(&entry).await?;
            say(&format!("registered protected host entry {name}"))
        }
        ForwardAuthCommand::List => {
            for entry in registry.list().await? {
                let list = |items: Vec<&str>| items.join(",");
                let source = if entry.configured {
                    "\t(configuration file)"
                } else {
                    ""
                };
                say(&format!(
                    "{}\thosts={}\tusers={}\tgroups={}{source}",
                    entry.name,
                    list(entry.hosts.iter().map(|h| h.as_str()).collect()),
                    list(entry.allowed_users.iter().map(String::as_str).collect()),
                    list(entry.allowed_groups.iter().map(GroupName::as_str).collect()),
                ))?;
            }
            Ok(())
        }
        ForwardAuthCommand::Remove { name } => {
            anyhow::ensure!(
                registry.remove(&name).await?,
                "no protected host entry {name}"
            );
            say(&format!("removed protected host entry {name}"))
        }
    }
}

async fn cli_state(settings: Settings) -> anyhow::Result<AppState> {
    let pool = crate::db::connect(&settings.database).await?;
    let store: Arc<dyn SharedStore> = match settings.store.backend {
        // A command is not a replica: it must not take the running center's replication port.
        StoreBackend::Replicated => Arc::new(MemoryStore::default()),
        StoreBackend::Memory | StoreBackend::Redis => build_store(&settings)?,
    };
    build_state(settings, pool, store, Arc::new(Notify::new())).await
}

fn username(text: &str) -> anyhow::Result<Username> {
    Username::parse(text).map_err(anyhow::Error::msg)
}

async fn user(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
    let state = cli_state(settings).await?;
    match command {
        UserCommand::Add {
            username: name,
            name: display,
            email,
            password_stdin,
        } => {
            let username = username(&name)?;
            let (password, generated) = read_password(password_stdin)?;
            let user = NewUser {
                name: display.unwrap_or_else(|| name.clone()),
                email: email.unwrap_or_default(),
                username,
            };
            match admin::add_user(&state, CLI_ACTOR, user, password).await {
                Ok(user) => say(&format!("added {} ({})", user.username, user.id))?,
                Err(AddUserError::Exists(name)) => anyhow::bail!("a user named {name} exists"),
                Err(AddUserError::Unexpected(error)) => return Err(error),
            }
            if let Some(password) = generated {
                say(&format!("password: {password}"))?;
            }
            Ok(())
        }
        UserCommand::Passwd {
            username: name,
            password_stdin,
        } => {
            let username = username(&name)?;
            let (password, generated) = read_password(password_stdin)?;
            let ended = admin::set_password(&state, CLI_ACTOR, &username, password).await?;
            say_ended(&name, ended)?;
            if let Some(password) = generated {
                say(&format!("password: {password}"))?;
            }
            Ok(())
        }
        UserCommand::Disable { username: name } => {
            let ended = admin::set_disabled(&state, CLI_ACTOR, &username(&name)?, true).await?;
            say_ended(&name, ended)
        }
        UserCommand::ResetFactors { username: name } => {
            let user = state
                .users
                .find(&username(&name)?)
                .await?
                .with_context(|| format!("no user named {name}"))?;
            let (had, ended) = admin::reset_factors(&state, CLI_ACTOR, &user).await?;
            let what = if had {
                "factors reset"
            } else {
                "had no factors"
            };
            say(&format!("{name}: {what}; {ended} session(s) ended"))
        }
        UserCommand::Enable { username: name } => {
            let enabled = admin::set_disabled(&state, CLI_ACTOR, &username(&name)?, false).await?;
            anyhow::ensure!(enabled.is_some(), "no user named {name}");
            say(&format!("enabled {name}"))
        }
        UserCommand::Groups {
            username: name,
            command,
        } => {
            let username = username(&name)?;
            let list = |text: &str| GroupName::parse_list(text).map_err(anyhow::Error::msg);
            let groups = match command {
                None => {
                    let user = state
                        .users
                        .find(&username)
                        .await?
                        .with_context(|| format!("no user named {name}"))?;
                    state.users.groups(&user.id).await?
                }
                Some(command) => {
                    let change = match command {
                        GroupsCommand::Set { groups } => GroupChange::Set(list(&groups)?),
                        GroupsCommand::Add { groups } => GroupChange::Add(list(&groups)?),
                        GroupsCommand::Remove { groups } => GroupChange::Remove(list(&groups)?),
                    };
                    let (_, groups) = admin::change_groups(&state, CLI_ACTOR, &username, &change)
                        .await?
                        .with_context(|| format!("no user named {name}"))?;
                    groups
                }
            };
            let names: Vec<&str> = groups.iter().map(GroupName::as_str).collect();
            say(&format!("{name}\t{}", names.join(",")))
        }
        UserCommand::List => {
            for user in state.users.list().await? {
                let status = if user.disabled { "disabled" } else { "active" };
                say(&format!(
                    "{}\t{}\t{}\t{}\t{status}",
                    user.username, user.id, user.name, user.email
                ))?;
            }
            Ok(())
        }
    }
}

/// Tells how many sessions of `name` ended (the running server delivers the single logout
/// from the outbox); an error when there is no such user.
fn say_ended(name: &str, ended: Option<usize>) -> anyhow::Result<()> {
    let ended = ended.with_context(|| format!("no user named {name}"))?;
    say(&format!("{name}: {ended} session(s) ended"))
}

/// Demo users alice and bob, and a demo client `appN` at `http://appN.localhost:PORT` for each
/// of `ports`.
async fn seed_demo(
    state: &AppState,
    password: Option<String>,
    totp_key: Option<&str>,
    ports: &[u16],
) -> anyhow::Result<()> {
    let password = password.unwrap_or_else(crate::crypto::random_id);
    for (name, display) in [("alice", "Alice Liddell"), ("bob", "Bob Builder")] {
        let username = username(name)?;
        let hash = state.hasher.hash(Password::new(password.clone())).await?;
        if !state
            .users
            .set_password_hash(&username, hash.clone())
            .await?
        {
            let user = NewUser {
                username,
                name: display.to_owned(),
                email: format!("{name}@example.test"),
            };
            match state.users.add(user, hash).await {
                Ok(_) | Err(AddUserError::Exists(_)) => {}
                Err(AddUserError::Unexpected(error)) => return Err(error),
            }
        }
    }
    say(&format!("demo users: alice, bob; password: {password}"))?;
    let bob = state
        .users
        .find(&username("bob")?)
        .await?
        .context("the demo user bob")?;
    let totp = state.factors.ensure_totp(&bob, totp_key).await?;
    say(&format!(
        "bob has an authenticator app: add the key {} to yours (or {}), and give its code where a second factor is asked",
        totp.secret(),
        totp.uri()
    ))?;
    for (n, port) in (1..).zip(ports) {
        let base = format!("http://app{n}.localhost:{port}");
        let uri =
            |path: &str| RedirectUri::parse(&format!("{base}{path}")).context("invalid demo URI");
        let secret = format!("app{n}-demo-secret");
        let id = ClientId::parse(&format!("app{n}")).context("invalid demo client id")?;
        if state.clients.is_configured(&id) {
            say(&format!(
                "demo client: app{n} comes from the configuration file"
            ))?;
            continue;
        }
        state
            .clients
            .upsert(NewClient {
                id,
                name: format!("Demo app {n}"),
                secret: Some(secret.clone()),
                redirect_uris: vec![uri("/auth/callback")?],
                post_logout_redirect_uris: vec![uri("/")?],
                backchannel_logout_uri: Some(uri("/auth/backchannel-logout")?),
                id_token_alg: Algorithm::RS256,
                tokens: TokenPolicy::default(),
            })
            .await?;
        say(&format!("demo client: app{n} secret {secret} at {base}"))?;
    }
    Ok(())
}
