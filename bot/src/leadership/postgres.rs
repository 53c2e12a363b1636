//! Leadership by PostgreSQL advisory lock: `pg_try_advisory_lock(hashtext(KEY))` on a
//! connection taken out of the store's pool for this purpose alone. PostgreSQL holds a
//! session-level advisory lock until it is unlocked or the session ends, so:
//! - the owner keeps the connection and checks it every `retry` (`SELECT 1`, at most
//!   `retry` long); a failed or hung check means the session may be gone and the lock
//!   with it, so ownership is given up at once and the connection dropped;
//! - a process that dies closes its socket, its session ends, the lock is free;
//! - non-owners retry every `retry` on a connection of their own.
//!
//! A replica cut off from the database without its socket closing keeps the lock until
//! PostgreSQL notices the dead peer (TCP keepalive: set `tcp_keepalives_idle` on the
//! server to bound it); it stops believing it owns the role within `retry` either way.

use std::time::Duration;

use sqlx::{AnyConnection, Connection};
use tokio::sync::watch;

use super::{ElectedBy, LeadershipHandle, stop_requested};
use crate::store::Store;

/// Advisory lock keys are `hashtext('opsbot-leadership:ROLE')`.
pub const LOCK_KEY_PREFIX: &str = "opsbot-leadership:";

/// The text hashed into the advisory lock key of `role`.
pub fn lock_key(role: &str) -> String {
    format!("{LOCK_KEY_PREFIX}{role}")
}

pub(crate) fn spawn(store: Store, role: &str, retry: Duration) -> LeadershipHandle {
    let (owner_tx, owner) = watch::channel(false);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(store, lock_key(role), retry, owner_tx, stop_rx));
    LeadershipHandle::new(role, ElectedBy::PostgresAdvisoryLock, owner, stop, task)
}

/// Tries, owns, loses, tries again, until told to stop (then unlocks).
async fn run(
    store: Store,
    key: String,
    retry: Duration,
    owner: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connection: Option<AnyConnection> = None;
    let mut failures = 0u32;
    loop {
        match try_lock(&store, &mut connection, &key, retry).await {
            Ok(true) => {
                failures = 0;
                let held = connection.take().expect("locked on a connection");
                owner.send_replace(true);
                tracing::info!(lock = %key, "leadership acquired (PostgreSQL advisory lock)");
                let stopped = hold(held, &key, retry, &owner, &mut stop).await;
                if stopped {
                    tracing::info!(lock = %key, "leadership released");
                    return;
                }
                tracing::warn!(lock = %key, "leadership lost: the lock's connection failed");
            }
            Ok(false) => failures = 0,
            Err(error) => {
                // Not reachable now; the connection is rebuilt on the next try.
                failures += 1;
                if super::worth_a_warning(failures) {
                    tracing::warn!(lock = %key, %error, failures, "leadership: cannot try the lock; retrying");
                } else {
                    tracing::debug!(lock = %key, %error, "leadership: cannot try the lock");
                }
                connection = None;
            }
        }
        tokio::select! {
            () = stop_requested(&mut stop) => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

/// One attempt on `connection` (opened from the pool when absent). `Ok(true)`: the lock
/// is ours, on that connection.
async fn try_lock(
    store: &Store,
    connection: &mut Option<AnyConnection>,
    key: &str,
    retry: Duration,
) -> Result<bool, sqlx::Error> {
    if connection.is_none() {
        // Out of the pool for good: the lock lives as long as this session.
        let pooled =
            tokio::time::timeout(retry.max(Duration::from_secs(1)), store.pool().acquire())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
        *connection = Some(pooled.detach());
    }
    let conn = connection.as_mut().expect("connection just set");
    let attempt = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(key)
        .fetch_one(&mut *conn);
    match tokio::time::timeout(retry.max(Duration::from_secs(1)), attempt).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

/// Holds the lock until the connection fails (`false`) or `stop` (`true`, after unlocking).
/// Either way `owner` turns false first, so this process stops its work before anyone
/// else can take the lock.
async fn hold(
    mut connection: AnyConnection,
    key: &str,
    retry: Duration,
    owner: &watch::Sender<bool>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        tokio::select! {
            () = stop_requested(stop) => {
                owner.send_replace(false);
                let unlock = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
                    .bind(key)
                    .execute(&mut connection);
                let _ = tokio::time::timeout(retry, unlock).await;
                let _ = tokio::time::timeout(retry, connection.close()).await;
                return true;
            }
            () = tokio::time::sleep(retry) => {
                let ping = sqlx::query("SELECT 1").execute(&mut connection);
                match tokio::time::timeout(retry, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => {
                        owner.send_replace(false);
                        tracing::warn!(lock = %key, %error, "leadership: lock connection failed");
                        return false;
                    }
                    Err(_) => {
                        owner.send_replace(false);
                        tracing::warn!(lock = %key, "leadership: lock connection hung");
                        return false;
                    }
                }
            }
        }
    }
}
