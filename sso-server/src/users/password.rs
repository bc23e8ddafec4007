//! Password hashing with argon2id, on threads of its own.
//!
//! New hashes use the configured cost (OWASP: m=19456 KiB, t=2, p=1 by default); verification
//! uses the cost recorded in each hash, so raising the cost does not lock anyone out.
//!
//! # The hashing threads
//! One thread per CPU core hashes; logins beyond that wait for a free thread. More would not
//! finish sooner (argon2 is bound by memory bandwidth) and would take the cores the request
//! handlers need. The threads:
//! - keep their argon2 memory between hashes (19 MiB each at the default cost), so a hash
//!   costs no allocation, page faults or unmapping, and memory stays bounded however many
//!   logins queue;
//! - run at a lower CPU priority (nice +10) than the request handlers, so pages like a
//!   silent-SSO `/authorize` are answered at once while logins keep every core busy hashing;
//! - take a job only when they are free: a login whose client went away before its turn costs
//!   no hash.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use anyhow::Context as _;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::config::PasswordSettings;

/// How much lower the hashing threads' CPU priority is than the rest of the process.
const NICE_INCREMENT: i32 = 10;

/// The most memory a stored hash may ask for: 1 GiB (in KiB blocks).
const MAX_BLOCKS: usize = 1 << 20;

/// A plaintext password on its way to the hasher; never shown.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Work for a hashing thread, given that thread's memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Hashes passwords and verifies them against stored hashes.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Hands a job to a free hashing thread; the threads stop when every clone is dropped.
    jobs: flume::Sender<Job>,
    /// A hash of a random password, verified for unknown users so that the response time does
    /// not tell whether a username exists.
    dummy_hash: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with the configured cost: starts one hashing thread per core and computes its
    /// dummy hash.
    ///
    /// # Errors
    /// When the parameters are out of argon2's bounds or a thread cannot be started.
    pub async fn new(settings: PasswordSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        // A rendezvous channel: a job is handed over only to a thread ready to run it.
        let (jobs, queue) = flume::bounded::<Job>(0);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let keep = params.block_count().max(MIN_KEPT_BLOCKS);
        for n in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || hashing_thread(&queue, keep))
                .context("cannot start a hashing thread")?;
        }
        let mut hasher = Self {
            params,
            jobs,
            dummy_hash: String::new(),
        };
        let random: [u8; 16] = rand::random();
        hasher.dummy_hash = hasher.hash(Password::new(base64_text(&random))).await?;
        Ok(hasher)
    }

    /// Runs `work` on a free hashing thread.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = done.send(work(memory));
        });
        self.jobs
            .send_async(job)
            .await
            .map_err(|_| anyhow::anyhow!("the hashing threads stopped"))?;
        result.await.context("a hashing job failed")
    }

    /// The PHC string of a new argon2id hash of `password`.
    ///
    /// # Errors
    /// When hashing fails (it does not for valid parameters).
    pub async fn hash(&self, password: Password) -> anyhow::Result<String> {
        let params = self.params.clone();
        self.run(move |memory| {
            let started = Instant::now();
            let hashed = memory.hash(&params, &password);
            crate::metrics::password_hashed("hash", started.elapsed());
            hashed
        })
        .await?
    }

    /// Whether `password` matches `stored`; with `stored` absent (unknown user) the dummy hash
    /// is verified instead and the answer is `false`.
    ///
    /// # Errors
    /// When the hashing threads are gone.
    pub async fn verify(&self, stored: Option<String>, password: Password) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let matches = self
            .run(move |memory| {
                let started = Instant::now();
                let matches = memory.verify(&hash, &password);
                crate::metrics::password_hashed("verify", started.elapsed());
                matches
            })
            .await?;
        Ok(known && matches)
    }
}

/// A hashing thread: lowers its priority, then runs jobs until the hasher is dropped.
fn hashing_thread(queue: &flume::Receiver<Job>, keep: usize) {
    lower_priority();
    let mut memory = Memory::new(keep);
    while let Ok(job) = queue.recv() {
        // A panicking job loses only its own answer; the thread keeps serving.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
            tracing::error!("a password hashing job panicked");
            memory = Memory::new(keep);
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    // On Linux the nice value belongs to the thread named by its id.
    let thread = Some(rustix::thread::gettid());
    let lowered = getpriority_process(thread)
        .and_then(|nice| setpriority_process(thread, (nice + NICE_INCREMENT).min(19)));
    if let Err(error) = lowered {
        tracing::warn!(%error, "cannot lower the priority of a hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// The argon2 working memory of one hashing thread, kept between hashes.
struct Memory {
    blocks: Vec<Block>,
    /// The most blocks kept after a hash; more were needed only for an unusually costly
    /// stored hash.
    keep: usize,
}

impl Memory {
    fn new(keep: usize) -> Self {
        Self {
            blocks: Vec::new(),
            keep,
        }
    }

    /// Computes the argon2 output for `params`, growing the memory if they need more.
    fn compute(
        &mut self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &Password,
        salt: &[u8],
    ) -> argon2::password_hash::Result<Output> {
        let blocks = params.block_count();
        if blocks > MAX_BLOCKS {
            return Err(argon2::password_hash::errors::InvalidValue::TooLong.param_error());
        }
        if self.blocks.len() < blocks {
            self.blocks.resize(blocks, Block::default());
        }
        let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(length, |out| {
            argon2
                .hash_password_into_with_memory(
                    password.0.as_bytes(),
                    salt,
                    out,
                    &mut self.blocks[..blocks],
                )
                .map_err(Into::into)
        });
        if self.blocks.len() > self.keep {
            self.blocks = Vec::new();
        }
        output
    }

    fn hash(&mut self, params: &Params, password: &Password) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        let mut buffer = [0u8; 64];
        let raw_salt = salt
            .as_salt()
            .decode_b64(&mut buffer)
            .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let output = self
            .compute(&argon2, params, password, raw_salt)
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)
                .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    fn verify(&mut self, stored: &str, password: &Password) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            tracing::error!("a stored password hash is not a valid PHC string");
            return false;
        };
        match self.recompute(&parsed, password) {
            // `Output` compares in constant time.
            Ok(output) => parsed.hash == Some(output),
            Err(error) => {
                tracing::error!(%error, "a stored password hash cannot be verified");
                false
            }
        }
    }

    /// The output `stored`'s algorithm, version, parameters and salt give for `password`.
    fn recompute(
        &mut self,
        stored: &PasswordHash<'_>,
        password: &Password,
    ) -> argon2::password_hash::Result<Output> {
        let algorithm = Algorithm::try_from(stored.algorithm)?;
        let version = stored
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(stored)?;
        let salt = stored
            .salt
            .ok_or(argon2::password_hash::Error::SaltInvalid(
                argon2::password_hash::errors::InvalidValue::Malformed,
            ))?;
        let mut buffer = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut buffer)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        self.compute(&argon2, &params, password, raw_salt)
    }
}

/// Memory a hashing thread may keep between hashes even when the configured cost needs less:
/// 64 MiB, so verifying older or imported hashes of a somewhat higher cost allocates nothing.
const MIN_KEPT_BLOCKS: usize = 64 * 1024;

fn base64_text(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordSettings {
        PasswordSettings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn default_parameters_are_owasp_argon2id() {
        let hasher = PasswordHasher::new(PasswordSettings::default())
            .await
            .unwrap();
        let hash = hasher.hash(Password::new("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        let hash = hasher.hash(Password::new("s3cret")).await.unwrap();
        assert!(
            hasher
                .verify(Some(hash.clone()), Password::new("s3cret"))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Some(hash), Password::new("S3cret"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        assert!(!hasher.verify(None, Password::new("")).await.unwrap());
        assert!(
            !hasher
                .verify(Some("not a hash".to_owned()), Password::new("x"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_verify_with_the_reference_implementation_and_back() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        let ours = hasher.hash(Password::new("s3cret")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"s3creT", &parsed)
                .is_err()
        );

        // Hashes made elsewhere with other costs and variants (e.g. imported users) verify.
        for (algorithm, memory) in [(Algorithm::Argon2id, 256), (Algorithm::Argon2i, 128)] {
            let params = Params::new(memory, 3, 2, Some(24)).unwrap();
            let theirs = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"imported", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string();
            let right = Password::new("imported");
            assert!(hasher.verify(Some(theirs.clone()), right).await.unwrap());
            let wrong = Password::new("imported!");
            assert!(!hasher.verify(Some(theirs), wrong).await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_stored_hash_asking_for_too_much_memory_is_refused() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        let ours = hasher.hash(Password::new("s3cret")).await.unwrap();
        let greedy = ours.replace("m=64,", "m=4194304,");
        assert_ne!(greedy, ours);
        assert!(
            !hasher
                .verify(Some(greedy), Password::new("s3cret"))
                .await
                .unwrap()
        );
        assert!(
            hasher
                .verify(Some(ours), Password::new("s3cret"))
                .await
                .unwrap()
        );
    }

    #[test]
    fn memory_grown_for_a_costly_hash_is_given_back() {
        let password = Password::new("pw");
        let mut memory = Memory::new(1024);
        for (kib, kept) in [(512, 512), (1024, 1024), (2048, 0), (256, 256)] {
            let params = Params::new(kib, 1, 1, None).unwrap();
            memory.hash(&params, &password).unwrap();
            assert_eq!(memory.blocks.len(), kept, "after a hash of {kib} KiB");
        }
    }

    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        let own = rustix::process::getpriority_process(None).unwrap();
        let theirs = hasher
            .run(|_| rustix::process::getpriority_process(None).unwrap())
            .await
            .unwrap();
        assert_eq!(theirs, (own + NICE_INCREMENT).min(19));
    }

    #[tokio::test]
    async fn logins_beyond_the_thread_count_wait_for_a_free_thread() {
        let hasher = PasswordHasher::new(cheap()).await.unwrap();
        let hash = hasher.hash(Password::new("pw")).await.unwrap();
        let mut checks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            checks.spawn(async move { hasher.verify(Some(hash), Password::new("pw")).await });
        }
        let results = checks.join_all().await;
        assert_eq!(results.len(), 32);
        assert!(results.into_iter().all(|r| r.unwrap()));
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(***)");
    }
}
