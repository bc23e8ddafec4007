//! One typed configuration from layers: built-in defaults (the struct's `Default`), an optional
//! TOML file, then environment variables `PREFIX_<SECTION>__<KEY>` (double underscore between
//! levels, case-insensitive), e.g. `SSO_HTTP__PORT=8080`. An environment value that parses as a
//! TOML number or boolean is taken as one, anything else as a string; a TOML array or table can
//! be given in TOML syntax (`SSO_LOGIN__TRUSTED_PROXIES=["10.0.0.1"]`).
//!
//! Secrets have `_file` variants (`database.url_file`, `SSO_DATABASE__URL_FILE`) read by
//! [`resolve_secret`], trailing newline removed; setting both is an error. Unknown keys are
//! rejected by the target struct (`#[serde(deny_unknown_fields)]`), so a typo fails loudly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use session_store::{Peer, ReplicationConfig};

use crate::Secret;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file or a value is not valid TOML of the expected shape (or names an unknown key).
    #[error("configuration is not valid: {0}")]
    Parse(#[source] toml::de::Error),
    /// An environment variable with the prefix does not name a key.
    #[error("environment variable {0} does not name a configuration key")]
    BadEnvKey(String),
    /// A secret file could not be read.
    #[error("cannot read secret file {path} for {key}")]
    SecretFile {
        /// The setting.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Both a secret and its `_file` variant are set.
    #[error("{0} and {0}_file are both set; set one")]
    SecretTwice(&'static str),
    /// A value is out of bounds or settings contradict each other.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Where the layers come from.
#[derive(Clone, Copy, Debug)]
pub struct Layers<'a> {
    /// Prefix of the environment variables, e.g. `SSO_`.
    pub env_prefix: &'a str,
    /// The variable naming the file (not itself a key), e.g. `SSO_CONFIG`.
    pub file_var: &'a str,
}

impl Layers<'_> {
    /// Reads `file` (if any) and applies the prefixed variables of `env` on top.
    ///
    /// # Errors
    /// When the file cannot be read or parsed, a variable does not name a key, or the result
    /// does not fit `T` (including unknown keys).
    pub fn load<T: DeserializeOwned>(
        &self,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<T, ConfigError> {
        let mut table = match file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?
                .parse::<toml::Table>()
                .map_err(ConfigError::Parse)?,
            None => toml::Table::new(),
        };
        let overrides: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with(self.env_prefix) && key != self.file_var)
            .collect();
        for (key, value) in overrides {
            self.apply(&mut table, &key, &value)?;
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(ConfigError::Parse)
    }

    /// Sets the key that `PREFIX_A__B__C` names to `value`.
    fn apply(&self, table: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
        let path: Vec<String> = var[self.env_prefix.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let bad_key = || ConfigError::BadEnvKey(var.to_owned());
        if path.iter().any(String::is_empty) {
            return Err(bad_key());
        }
        let Some((last, sections)) = path.split_last() else {
            return Err(bad_key());
        };
        let mut current = table;
        for section in sections {
            current = current
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(bad_key)?;
        }
        current.insert(last.clone(), env_value(value));
        Ok(())
    }
}

/// `text` as a TOML number, boolean, array or inline table if it is one, else as a string.
fn env_value(text: &str) -> toml::Value {
    let parsed = format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("v"))
        .filter(|value| !matches!(value, toml::Value::String(_) | toml::Value::Datetime(_)));
    parsed.unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

/// A configuration loaded from [`Layers`]: give the layers and what to do once the values are
/// read (secret files, then checks); `load` and `load_from` come with it.
pub trait Layered: DeserializeOwned {
    /// Where the layers come from.
    const LAYERS: Layers<'static>;

    /// Fills each secret given as a file (see [`resolve_secret`]).
    ///
    /// # Errors
    /// When a secret file cannot be read, or a secret is given both ways.
    fn resolve_secret_files(&mut self) -> Result<(), ConfigError>;

    /// Checks the loaded values, secrets included.
    ///
    /// # Errors
    /// When a value is out of bounds or the values do not fit together.
    fn validate(&self) -> Result<(), ConfigError>;

    /// Loads from `file` (if any) and the process environment.
    ///
    /// # Errors
    /// When the file cannot be read, a key is unknown, a value has the wrong type, a secret
    /// file is missing, or [`Layered::validate`] refuses the values.
    fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Loads from `file` (if any) and the given environment.
    ///
    /// # Errors
    /// As [`Layered::load`].
    fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut settings: Self = Self::LAYERS.load(file, env)?;
        settings.resolve_secret_files()?;
        settings.validate()?;
        Ok(settings)
    }
}

/// Fills `value` from `file` when one is given: the file's content, trailing newline removed.
///
/// # Errors
/// When both are set, or the file cannot be read.
pub fn resolve_secret(
    key: &'static str,
    value: &mut Option<Secret>,
    file: Option<PathBuf>,
) -> Result<(), ConfigError> {
    let Some(path) = file else {
        return Ok(());
    };
    if value.is_some() {
        return Err(ConfigError::SecretTwice(key));
    }
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
        key,
        path,
        source,
    })?;
    *value = Some(Secret::new(text.trim_end_matches(['\r', '\n'])));
    Ok(())
}

/// The `replication` settings of the replicated session store, shared by every binary that
/// offers it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSettings {
    /// Where to listen for peers.
    pub listen: Option<SocketAddr>,
    /// The other nodes: `[{ id = "sso-b", addr = "10.0.0.12:7000" }]`.
    pub peers: Vec<PeerSettings>,
    /// The shared secret authenticating peer traffic (at least 32 bytes).
    pub secret: Option<Secret>,
    /// A file holding the secret.
    pub secret_file: Option<PathBuf>,
    /// Whether session writes wait until one peer holds them.
    pub acknowledged_writes: bool,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        Self {
            listen: None,
            peers: Vec::new(),
            secret: None,
            secret_file: None,
            acknowledged_writes: true,
        }
    }
}

/// A peer node of the replicated store.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// The peer's node id.
    pub id: String,
    /// Its replication address.
    pub addr: SocketAddr,
}

impl ReplicationSettings {
    /// Reads the secret file, if one is given; `key` names the setting in errors.
    ///
    /// # Errors
    /// As [`resolve_secret`].
    pub fn resolve_secret_file(&mut self, key: &'static str) -> Result<(), ConfigError> {
        resolve_secret(key, &mut self.secret, self.secret_file.take())
    }

    /// The store configuration of node `node_id`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when the listener or the secret is missing.
    pub fn store_config(&self, node_id: &str) -> Result<ReplicationConfig, ConfigError> {
        let (Some(listen), Some(secret)) = (self.listen, self.secret.as_ref()) else {
            return Err(ConfigError::Invalid(
                "the replicated store needs replication.listen and replication.secret".to_owned(),
            ));
        };
        let peers = self
            .peers
            .iter()
            .map(|peer| Peer {
                id: peer.id.clone(),
                addr: peer.addr,
            })
            .collect();
        let mut config =
            ReplicationConfig::new(node_id, listen, peers, secret.expose().as_bytes().to_vec());
        config.acknowledged_writes = self.acknowledged_writes;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use serde::Deserialize;

    use super::*;

    const LAYERS: Layers<'static> = Layers {
        env_prefix: "APP_",
        file_var: "APP_CONFIG",
    };

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Settings {
        name: String,
        http: Http,
        peers: Vec<String>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Http {
        port: u16,
        secure: bool,
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_environment_overrides_the_file_with_typed_values() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "name = \"from-file\"\n[http]\nport = 1").unwrap();
        let settings: Settings = LAYERS
            .load(
                Some(file.path()),
                env(&[
                    ("APP_HTTP__PORT", "8080"),
                    ("APP_HTTP__SECURE", "true"),
                    ("APP_PEERS", r#"["a", "b"]"#),
                    ("APP_CONFIG", "not a key"),
                    ("OTHER", "ignored"),
                ]),
            )
            .unwrap();
        assert_eq!(settings.name, "from-file");
        assert_eq!(
            settings.http,
            Http {
                port: 8080,
                secure: true
            }
        );
        assert_eq!(settings.peers, ["a", "b"]);
    }

    #[test]
    fn strings_that_look_like_dates_stay_strings() {
        let settings: Settings = LAYERS
            .load(None, env(&[("APP_NAME", "1979-05-27")]))
            .unwrap();
        assert_eq!(settings.name, "1979-05-27");
    }

    #[test]
    fn unknown_keys_and_malformed_variables_are_errors() {
        let unknown = LAYERS.load::<Settings>(None, env(&[("APP_HTTP__PROT", "1")]));
        assert!(matches!(unknown, Err(ConfigError::Parse(_))), "{unknown:?}");
        let empty = LAYERS.load::<Settings>(None, env(&[("APP_HTTP____PORT", "1")]));
        assert!(matches!(empty, Err(ConfigError::BadEnvKey(_))), "{empty:?}");
        let not_a_section = LAYERS.load::<Settings>(None, env(&[("APP_NAME__X", "1")]));
        assert!(matches!(
            not_a_section,
            Err(ConfigError::Parse(_) | ConfigError::BadEnvKey(_))
        ));
    }

    #[test]
    fn replication_settings_need_a_listener_and_a_secret() {
        let mut settings: ReplicationSettings = toml::from_str(
            "listen = \"127.0.0.1:7001\"\npeers = [{ id = \"b\", addr = \"127.0.0.1:7002\" }]",
        )
        .unwrap();
        assert!(matches!(
            settings.store_config("a"),
            Err(ConfigError::Invalid(_))
        ));
        settings.secret = Some(Secret::new("0123456789abcdef0123456789abcdef"));
        let config = settings.store_config("a").unwrap();
        assert_eq!(config.peers[0].id, "b");
        assert!(config.acknowledged_writes);
    }

    #[test]
    fn secrets_come_from_files_but_not_from_both() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "s3cret").unwrap();
        let mut value = None;
        resolve_secret("db.url", &mut value, Some(file.path().to_owned())).unwrap();
        assert_eq!(value.as_ref().map(Secret::expose), Some("s3cret"));
        let twice = resolve_secret("db.url", &mut value, Some(file.path().to_owned()));
        assert!(matches!(twice, Err(ConfigError::SecretTwice("db.url"))));
        let missing = resolve_secret("x", &mut None, Some("/nonexistent/secret".into()));
        assert!(matches!(missing, Err(ConfigError::SecretFile { .. })));
    }
}
