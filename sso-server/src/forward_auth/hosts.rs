//! Protected hosts: which host names the center answers for, and who may enter them.
//!
//! Entries come from the configuration (`[[forward_auth]]`) and from the database
//! (`sso-server forward-auth add`); a configured entry wins over a database entry with the
//! same name and cannot be changed through the registry, as with clients.
//!
//! The verify endpoint must not touch SQL, so it looks hosts up in an in-memory table that is
//! rebuilt from the database at most every [`RELOAD_INTERVAL`] (in the background, on use).
//! Sign-in reads the database directly, so a host registered a moment ago can sign users in
//! at once; a removed host stops verifying within the interval.

use crate::factors::MfaPolicy;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use session_store::Expiry;
use sqlx::{AnyPool, Row as _};

use super::request::HostName;
use crate::clients::Client;
use crate::config::{ConfigError, ForwardAuthSettings};
use crate::domain::{ClientId, RedirectUri, Username};
use crate::users::GroupName;

/// How stale the verify endpoint's view of database entries may get.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Prefix of the client id under which an entry's sign-ins go through `/authorize`.
const CLIENT_PREFIX: &str = "forward-auth.";

/// Where the center's sign-in answers on every protected host (nginx proxies it).
pub const CALLBACK_PATH: &str = "/_sso/callback";

/// A protected host entry, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedHost {
    /// 1–40 characters of letters, digits, `-`, `_` and `.`.
    pub name: String,
    pub hosts: BTreeSet<HostName>,
    /// Valid usernames.
    pub allowed_users: BTreeSet<String>,
    pub allowed_groups: BTreeSet<GroupName>,
    pub expiry: Expiry,
    /// Whether signing in to these hosts needs a second factor; `None`: the center's
    /// default (`login.mfa`).
    pub mfa: Option<MfaPolicy>,
    /// Registered by the configuration rather than the database.
    pub configured: bool,
}

impl ProtectedHost {
    /// Checks an entry: its name, host names, users and groups, and lifetimes.
    ///
    /// # Errors
    /// A sentence saying what is wrong.
    pub fn new(
        name: &str,
        hosts: &[String],
        allowed_users: &[String],
        allowed_groups: &[String],
        (idle_secs, absolute_secs): (u64, u64),
    ) -> Result<Self, String> {
        let name_ok = (1..=40).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err("the name must be 1-40 letters, digits, '-', '_' or '.'".to_owned());
        }
        if hosts.is_empty() {
            return Err("at least one host is needed".to_owned());
        }
        let hosts = hosts
            .iter()
            .map(|host| {
                HostName::parse(host)
                    .ok_or_else(|| format!("{host:?} is not a host name (no scheme, no port)"))
            })
            .collect::<Result<_, _>>()?;
        let allowed_users = allowed_users
            .iter()
            .map(|user| Username::parse(user).map(|user| user.as_str().to_owned()))
            .collect::<Result<_, _>>()?;
        let allowed_groups = allowed_groups
            .iter()
            .map(|group| GroupName::parse(group))
            .collect::<Result<_, _>>()?;
        if idle_secs == 0 || absolute_secs == 0 {
            return Err("session lifetimes must be at least one second".to_owned());
        }
        Ok(Self {
            name: name.to_owned(),
            hosts,
            allowed_users,
            allowed_groups,
            expiry: Expiry::new(
                Duration::from_secs(idle_secs),
                Duration::from_secs(absolute_secs),
            ),
            mfa: None,
            configured: false,
        })
    }

    /// The entry with second factors as `mfa` says (`None`: the center's default).
    #[must_use]
    pub fn with_mfa(mut self, mfa: Option<MfaPolicy>) -> Self {
        self.mfa = mfa;
        self
    }

    /// Whether a user with this name and these groups may enter: anyone signed in when the
    /// entry names no users and no groups.
    pub fn allows(&self, username: &str, groups: &[String]) -> bool {
        (self.allowed_users.is_empty() && self.allowed_groups.is_empty())
            || self.allowed_users.contains(username)
            || groups
                .iter()
                .any(|g| self.allowed_groups.iter().any(|a| a.as_str() == g))
    }

    /// The client id under which this entry's sign-ins go through `/authorize`.
    pub fn client_id(&self) -> ClientId {
        ClientId::parse(&format!("{CLIENT_PREFIX}{}", self.name))
            .expect("a checked entry name makes a valid client id")
    }
}

/// The configured entries, checked: each valid, names and host names distinct.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the entry and what is wrong with it.
pub fn from_settings(settings: &[ForwardAuthSettings]) -> Result<Vec<ProtectedHost>, ConfigError> {
    let entries = settings
        .iter()
        .map(|entry| {
            ProtectedHost::new(
                &entry.name,
                &entry.hosts,
                &entry.allowed_users,
                &entry.allowed_groups,
                (entry.idle_timeout_secs, entry.absolute_timeout_secs),
            )
            .map(|host| ProtectedHost {
                configured: true,
                mfa: entry.mfa,
                ..host
            })
            .map_err(|why| ConfigError::Invalid(format!("forward_auth {:?}: {why}", entry.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut names = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for entry in &entries {
        if !names.insert(&entry.name) {
            return Err(ConfigError::Invalid(format!(
                "forward_auth {:?} is configured twice",
                entry.name
            )));
        }
        if let Some(host) = entry.hosts.iter().find(|host| !hosts.insert(*host)) {
            return Err(ConfigError::Invalid(format!(
                "forward_auth host {host} is configured twice"
            )));
        }
    }
    Ok(entries)
}

/// Host name → entry, as the verify endpoint sees it.
type HostTable = HashMap<HostName, Arc<ProtectedHost>>;

/// The in-memory table and when it was built.
#[derive(Debug)]
struct Snapshot {
    table: Arc<HostTable>,
    built: Instant,
}

/// The configured entries and the `forward_auth_hosts` table.
#[derive(Clone, Debug)]
pub struct HostRegistry {
    pool: AnyPool,
    configured: Arc<Vec<ProtectedHost>>,
    snapshot: Arc<RwLock<Snapshot>>,
    reloading: Arc<AtomicBool>,
}

impl HostRegistry {
    /// The `configured` entries (see [`from_settings`]) and the entries in `pool`, loaded.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn load(pool: AnyPool, configured: Vec<ProtectedHost>) -> anyhow::Result<Self> {
        let registry = Self {
            pool,
            configured: Arc::new(configured),
            snapshot: Arc::new(RwLock::new(Snapshot {
                table: Arc::default(),
                built: Instant::now(),
            })),
            reloading: Arc::default(),
        };
        registry.reload().await?;
        Ok(registry)
    }

    /// Rebuilds the in-memory table from the configuration and the database.
    ///
    /// # Errors
    /// When the database fails; the previous table stays.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let mut table = HostTable::new();
        for entry in self.list().await? {
            let entry = Arc::new(entry);
            for host in &entry.hosts {
                // Configured entries come first in `list` and keep their hosts.
                table.entry(host.clone()).or_insert_with(|| entry.clone());
            }
        }
        let mut snapshot = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        *snapshot = Snapshot {
            table: Arc::new(table),
            built: Instant::now(),
        };
        Ok(())
    }

    /// The entry serving `host`, from memory (the verify endpoint). Starts a background reload
    /// when the table is older than [`RELOAD_INTERVAL`].
    pub fn cached(&self, host: &HostName) -> Option<Arc<ProtectedHost>> {
        let (table, stale) = {
            let snapshot = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
            (
                snapshot.table.clone(),
                snapshot.built.elapsed() >= RELOAD_INTERVAL,
            )
        };
        if stale && !self.reloading.swap(true, Ordering::AcqRel) {
            let registry = self.clone();
            tokio::spawn(async move {
                if let Err(error) = registry.reload().await {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "cannot reload protected hosts"
                    );
                }
                registry.reloading.store(false, Ordering::Release);
            });
        }
        table.get(host).cloned()
    }

    /// The entry serving `host`, read from the database now (sign-in).
    ///
    /// # Errors
    /// When the database fails or a stored entry is malformed.
    pub async fn fresh(&self, host: &HostName) -> anyhow::Result<Option<ProtectedHost>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .find(|entry| entry.hosts.contains(host)))
    }

    /// The client standing for the entry `client_id` names, if its `redirect_uri` is the
    /// callback on one of the entry's hosts: what `/authorize` accepts for a sign-in to a
    /// protected host.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn client(
        &self,
        client_id: &ClientId,
        redirect_uri: Option<&str>,
    ) -> anyhow::Result<Option<Client>> {
        let Some(name) = client_id.as_str().strip_prefix(CLIENT_PREFIX) else {
            return Ok(None);
        };
        let Some(uri) = redirect_uri.and_then(RedirectUri::parse) else {
            return Ok(None);
        };
        let Ok(url) = url::Url::parse(uri.as_str()) else {
            return Ok(None);
        };
        let on_host = url
            .host_str()
            .and_then(HostName::parse)
            .filter(|_| url.path() == CALLBACK_PATH && url.query().is_none());
        let Some(host) = on_host else {
            return Ok(None);
        };
        Ok(self
            .fresh(&host)
            .await?
            .filter(|entry| entry.name == name)
            .map(|entry| {
                let mut client = Client::protected_host(client_id.clone(), entry.name, uri);
                client.tokens.mfa = entry.mfa;
                client
            }))
    }

    fn configured_named(&self, name: &str) -> bool {
        self.configured.iter().any(|entry| entry.name == name)
    }

    /// Every entry: the configured ones first, then the database's that no configured entry
    /// shadows.
    ///
    /// # Errors
    /// When the database fails or a stored entry is malformed.
    pub async fn list(&self) -> anyhow::Result<Vec<ProtectedHost>> {
        let rows = sqlx::query(
            "SELECT name, hosts, allowed_users, allowed_groups, idle_timeout_secs, \
             absolute_timeout_secs, mfa FROM forward_auth_hosts ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .context("cannot list protected hosts")?;
        let mut entries: Vec<ProtectedHost> = self.configured.as_ref().clone();
        for row in &rows {
            let name: String = row.try_get("name")?;
            if self.configured_named(&name) {
                continue;
            }
            let list = |column: &str| -> anyhow::Result<Vec<String>> {
                let text: String = row.try_get(column)?;
                serde_json::from_str(&text).with_context(|| format!("{name}: bad {column}"))
            };
            let secs = |column: &str| -> anyhow::Result<u64> {
                Ok(u64::try_from(row.try_get::<i64, _>(column)?)?)
            };
            let entry = ProtectedHost::new(
                &name,
                &list("hosts")?,
                &list("allowed_users")?,
                &list("allowed_groups")?,
                (secs("idle_timeout_secs")?, secs("absolute_timeout_secs")?),
            )
            .map_err(|why| anyhow::anyhow!("protected host {name}: {why}"))?;
            let mfa: Option<String> = row.try_get("mfa")?;
            let mfa = match mfa.as_deref() {
                None => None,
                Some(text) => Some(MfaPolicy::parse(text).with_context(|| {
                    format!("protected host {name}: unknown mfa policy {text:?}")
                })?),
            };
            let entry = entry.with_mfa(mfa);
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Registers an entry in the database, replacing one with the same name.
    ///
    /// # Errors
    /// When the database fails, the name is a configured entry's, or a host name is already
    /// served by another entry.
    pub async fn upsert(&self, entry: &ProtectedHost) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.configured_named(&entry.name),
            "{} is registered by the configuration file; change it there",
            entry.name
        );
        for other in self.list().await? {
            if other.name != entry.name
                && let Some(host) = entry.hosts.iter().find(|h| other.hosts.contains(*h))
            {
                anyhow::bail!("host {host} is already served by {}", other.name);
            }
        }
        let json = |items: Vec<&str>| serde_json::to_string(&items).expect("strings serialize");
        let secs = |duration: Duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM forward_auth_hosts WHERE name = $1")
            .bind(&entry.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO forward_auth_hosts (name, hosts, allowed_users, allowed_groups, \
             idle_timeout_secs, absolute_timeout_secs, mfa) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&entry.name)
        .bind(json(entry.hosts.iter().map(HostName::as_str).collect()))
        .bind(json(
            entry.allowed_users.iter().map(String::as_str).collect(),
        ))
        .bind(json(
            entry.allowed_groups.iter().map(GroupName::as_str).collect(),
        ))
        .bind(secs(entry.expiry.idle()))
        .bind(secs(entry.expiry.absolute()))
        .bind(entry.mfa.map(MfaPolicy::as_str))
        .execute(&mut *tx)
        .await?;
        tx.commit().await.context("cannot register protected host")
    }

    /// Removes a database entry; returns whether it existed.
    ///
    /// # Errors
    /// When the database fails, or the name is a configured entry's.
    pub async fn remove(&self, name: &str) -> anyhow::Result<bool> {
        anyhow::ensure!(
            !self.configured_named(name),
            "{name} is registered by the configuration file; change it there"
        );
        let done = sqlx::query("DELETE FROM forward_auth_hosts WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .context("cannot remove protected host")?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(users: &[&str], groups: &[&str]) -> ProtectedHost {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        ProtectedHost::new(
            "wiki",
            &strings(&["wiki.example.test"]),
            &strings(users),
            &strings(groups),
            (60, 600),
        )
        .unwrap()
    }

    #[test]
    fn rules_allow_listed_users_and_group_members() {
        let staff = vec!["staff".to_owned()];
        assert!(entry(&[], &[]).allows("anyone", &[]), "no rules: any user");
        let rules = entry(&["alice"], &["admins"]);
        assert!(rules.allows("alice", &[]));
        assert!(rules.allows("bob", &["staff".to_owned(), "admins".to_owned()]));
        assert!(!rules.allows("bob", &staff));
        assert!(!rules.allows("Alice", &[]), "names compare exactly");
    }

    #[test]
    fn malformed_entries_are_refused() {
        let hosts = vec!["wiki.example.test".to_owned()];
        let bad = [
            ProtectedHost::new("bad name", &hosts, &[], &[], (1, 1)),
            ProtectedHost::new("wiki", &[], &[], &[], (1, 1)),
            ProtectedHost::new("wiki", &["https://wiki.test".to_owned()], &[], &[], (1, 1)),
            ProtectedHost::new("wiki", &["wiki.test:443".to_owned()], &[], &[], (1, 1)),
            ProtectedHost::new("wiki", &hosts, &["a b".to_owned()], &[], (1, 1)),
            ProtectedHost::new("wiki", &hosts, &[], &["a,b".to_owned()], (1, 1)),
            ProtectedHost::new("wiki", &hosts, &[], &[], (0, 1)),
        ];
        for result in bad {
            assert!(result.is_err(), "{result:?}");
        }
    }

    #[test]
    fn configured_entries_must_not_share_names_or_hosts() {
        let settings = |name: &str, host: &str| ForwardAuthSettings {
            name: name.to_owned(),
            hosts: vec![host.to_owned()],
            allowed_users: Vec::new(),
            allowed_groups: Vec::new(),
            idle_timeout_secs: 60,
            absolute_timeout_secs: 600,
            mfa: None,
        };
        let twice = from_settings(&[settings("a", "a.test"), settings("a", "b.test")]);
        assert!(matches!(twice, Err(ConfigError::Invalid(why)) if why.contains("twice")));
        let shared = from_settings(&[settings("a", "a.test"), settings("b", "a.test")]);
        assert!(matches!(shared, Err(ConfigError::Invalid(why)) if why.contains("a.test")));
        let fine = from_settings(&[settings("a", "a.test"), settings("b", "b.test")]).unwrap();
        assert!(fine.iter().all(|entry| entry.configured));
    }
}
