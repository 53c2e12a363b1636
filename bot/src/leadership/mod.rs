//! Leadership: which replica owns single-owner work. With several replicas on PostgreSQL
//! every replica serves HTTP and shares the work through the store, but some work must
//! run exactly once: the Discord gateway connection, Slack Socket Mode. For such a
//! named role each replica keeps trying to become the owner; one succeeds, and when it
//! dies (or loses its database connection, or stops renewing its Lease) another takes
//! over.
//!
//! ```text
//! let leadership = Leadership::spawn(&loaded.config, &app.store, "discord-gateway").await?;
//! let mut owner = leadership.is_owner();
//! loop {
//!     owner.wait_for(|owns| *owns).await?;          // became the owner: start the work
//!     let gateway = start_gateway();
//!     owner.wait_for(|owns| !*owns).await?;         // lost it: stop at once
//!     gateway.stop().await;
//! }
//! // on shutdown: leadership.release().await (hands over without waiting for expiry)
//! ```
//!
//! Backends (`[leadership] backend`, [`crate::config::LeadershipConfig`]):
//! - SQLite store: this process is always the owner (a SQLite file has one process).
//! - [`postgres`]: `pg_try_advisory_lock(hashtext('opsbot-leadership:ROLE'))` on a
//!   connection of its own, held while owning; a lost connection is lost ownership.
//! - [`kubernetes`]: the `coordination.k8s.io/v1` Lease `PREFIX-ROLE` through
//!   kube-lease-manager; stopping to renew (a dead pod) lets the Lease expire.
//!
//! `auto` picks: SQLite → this process; PostgreSQL in a Kubernetes pod → Lease;
//! PostgreSQL elsewhere → advisory lock.
//!
//! The roles: `discord-gateway` (the Discord adapter's `GatewaySupervisor`),
//! `slack-socket-mode` (the Slack adapter's `SocketSupervisor`) and `cost-budget-checks`
//! ([`crate::cost::budget_alerts`]). Those adapters spawn their handles; this module
//! knows none of them.
//!
//! Spawn one handle per role per process: the holder identity (Lease) is per process, so
//! two handles of one role in one process would both believe they own it.

mod error;
mod identity;
pub mod kubernetes;
pub mod postgres;
#[cfg(test)]
mod tests;

pub use error::LeadershipError;
pub use identity::{default_identity, lease_namespace};

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    config::{Config, LeadershipBackend},
    store::{Backend, Store},
};

/// The mechanism that elected (or will elect) the owner of one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectedBy {
    /// One process on a SQLite store: always the owner.
    SingleProcess,
    PostgresAdvisoryLock,
    KubernetesLease,
}

impl ElectedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ElectedBy::SingleProcess => "single-process",
            ElectedBy::PostgresAdvisoryLock => "postgres-advisory-lock",
            ElectedBy::KubernetesLease => "kubernetes-lease",
        }
    }
}

/// What `backend` means for a store: `in_cluster` is whether this process runs in a
/// Kubernetes pod (`KUBERNETES_SERVICE_HOST` set).
pub fn choose(
    backend: LeadershipBackend,
    store: Backend,
    in_cluster: bool,
) -> Result<ElectedBy, LeadershipError> {
    match (backend, store) {
        (LeadershipBackend::Kubernetes, _) => Ok(ElectedBy::KubernetesLease),
        (LeadershipBackend::Postgres, Backend::Postgres) => Ok(ElectedBy::PostgresAdvisoryLock),
        (LeadershipBackend::Postgres, Backend::Sqlite) => Err(LeadershipError::PostgresNeeded),
        (LeadershipBackend::Auto, Backend::Sqlite) => Ok(ElectedBy::SingleProcess),
        (LeadershipBackend::Auto, Backend::Postgres) if in_cluster => {
            Ok(ElectedBy::KubernetesLease)
        }
        (LeadershipBackend::Auto, Backend::Postgres) => Ok(ElectedBy::PostgresAdvisoryLock),
    }
}

/// Resolves once the handle asks the backend task to stop (or is gone). The watch guard
/// stays inside, so the task's future remains `Send`.
pub(crate) async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Whether the `failures`-th failure in a row is logged as a warning: the first, then one
/// in 30 (about a minute at the default retry interval); the others at debug level.
pub(crate) fn worth_a_warning(failures: u32) -> bool {
    failures == 1 || failures.is_multiple_of(30)
}

/// Starts electing owners of single-owner roles.
pub struct Leadership;

impl Leadership {
    /// Starts trying to own `role` (e.g. `discord-gateway`) with the configured backend;
    /// the returned handle says whether this process owns it now. Fails only on
    /// configuration problems (a `postgres` backend on SQLite, no Kubernetes client);
    /// an unreachable database or API server just means "not the owner" until it answers.
    pub async fn spawn(
        config: &Config,
        store: &Store,
        role: &str,
    ) -> Result<LeadershipHandle, LeadershipError> {
        let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
        match choose(config.leadership.backend, store.backend(), in_cluster)? {
            ElectedBy::SingleProcess => Ok(LeadershipHandle::always_owner(role)),
            ElectedBy::PostgresAdvisoryLock => Ok(postgres::spawn(
                store.clone(),
                role,
                config.leadership.retry_interval.as_duration(),
            )),
            ElectedBy::KubernetesLease => {
                kubernetes::spawn(&config.leadership, &config.kubernetes, role).await
            }
        }
    }
}

/// Ownership of one role by this process. Dropping it stops trying (and, with a
/// PostgreSQL lock, closes the connection, which frees the lock); [`Self::release`] hands
/// over gracefully first.
pub struct LeadershipHandle {
    role: String,
    elected_by: ElectedBy,
    owner: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl LeadershipHandle {
    pub(crate) fn new(
        role: &str,
        elected_by: ElectedBy,
        owner: watch::Receiver<bool>,
        stop: watch::Sender<bool>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            role: role.to_string(),
            elected_by,
            owner,
            stop,
            task: Some(task),
        }
    }

    fn always_owner(role: &str) -> Self {
        let (owner_tx, owner) = watch::channel(true);
        let (stop, mut stop_rx) = watch::channel(false);
        // Owns until released; keeps the sender alive until then.
        let task = tokio::spawn(async move {
            stop_requested(&mut stop_rx).await;
            owner_tx.send_replace(false);
        });
        Self::new(role, ElectedBy::SingleProcess, owner, stop, task)
    }

    /// Whether this process owns the role, now and as it changes.
    pub fn is_owner(&self) -> watch::Receiver<bool> {
        self.owner.clone()
    }

    /// Whether this process owns the role at this moment.
    pub fn owns_now(&self) -> bool {
        *self.owner.borrow()
    }

    pub fn role(&self) -> &str {
        &self.role
    }

    pub fn elected_by(&self) -> ElectedBy {
        self.elected_by
    }

    /// Stops trying and gives the role up now (unlock, or release the Lease), so another
    /// replica takes over without waiting for a timeout.
    pub async fn release(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeadershipHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for LeadershipHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeadershipHandle")
            .field("role", &self.role)
            .field("elected_by", &self.elected_by)
            .field("owner", &*self.owner.borrow())
            .finish()
    }
}
