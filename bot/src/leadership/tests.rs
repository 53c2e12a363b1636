//! Leadership: the backend choice, and two replicas on one PostgreSQL database (exactly
//! one owner; ownership moves when the owner is dropped, loses its connection or
//! releases). The PostgreSQL tests follow the store's rule: skipped without
//! `OPSBOT_TEST_POSTGRES_URL`, failing under CI.

use std::time::Duration;

use opsbot_commands::HumanDuration;
use tokio::sync::watch;

use super::*;
use crate::{
    config::{self, LeadershipBackend},
    store::scratch::{postgres_url_or_skip, scratch_postgres, scratch_sqlite},
};

/// Far longer than any retry interval here: only a guard against hanging forever.
const GUARD: Duration = Duration::from_secs(30);

fn config_with(backend: LeadershipBackend) -> Config {
    let mut config = config::parse("", "test.toml", &|_| None).expect("empty configuration");
    config.leadership.backend = backend;
    config.leadership.retry_interval = HumanDuration(Duration::from_millis(100));
    config
}

async fn becomes(owner: &mut watch::Receiver<bool>, wanted: bool) {
    tokio::time::timeout(GUARD, owner.wait_for(|owns| *owns == wanted))
        .await
        .expect("ownership did not change")
        .expect("leadership task ended");
}

#[test]
fn auto_picks_by_store_and_cluster() {
    use Backend::{Postgres, Sqlite};
    use LeadershipBackend::{Auto, Kubernetes, Postgres as Pg};
    let chosen = |backend, store, in_cluster| choose(backend, store, in_cluster).ok();
    assert_eq!(chosen(Auto, Sqlite, false), Some(ElectedBy::SingleProcess));
    assert_eq!(chosen(Auto, Sqlite, true), Some(ElectedBy::SingleProcess));
    assert_eq!(
        chosen(Auto, Postgres, false),
        Some(ElectedBy::PostgresAdvisoryLock)
    );
    assert_eq!(
        chosen(Auto, Postgres, true),
        Some(ElectedBy::KubernetesLease)
    );
    assert_eq!(
        chosen(Pg, Postgres, true),
        Some(ElectedBy::PostgresAdvisoryLock)
    );
    assert_eq!(
        chosen(Kubernetes, Sqlite, false),
        Some(ElectedBy::KubernetesLease)
    );
    assert!(matches!(
        choose(Pg, Sqlite, false),
        Err(LeadershipError::PostgresNeeded)
    ));
}

#[test]
fn lease_settings_come_from_the_pod() {
    let env = |name: &str| match name {
        "POD_NAME" => Some("opsbot-7d9f-abcde".to_string()),
        "POD_NAMESPACE" => Some("opsbot".to_string()),
        _ => None,
    };
    let mut leadership = config::LeadershipConfig::default();
    let settings = kubernetes::LeaseSettings::from_config(&leadership, "discord-gateway", &env);
    assert_eq!(settings.name, "opsbot-discord-gateway");
    assert_eq!(settings.namespace, "opsbot");
    assert!(settings.identity.starts_with("opsbot-7d9f-abcde-"));
    assert_eq!(settings.duration_seconds, 15);
    assert_eq!(settings.grace_seconds, 5);
    leadership.lease_namespace = Some("ops".into());
    leadership.identity = Some("replica-a".into());
    leadership.lease_prefix = "bot".into();
    let settings = kubernetes::LeaseSettings::from_config(&leadership, "slack-socket-mode", &env);
    assert_eq!(
        (
            settings.namespace.as_str(),
            settings.name.as_str(),
            settings.identity.as_str()
        ),
        ("ops", "bot-slack-socket-mode", "replica-a")
    );
}

#[tokio::test]
async fn one_process_on_sqlite_always_owns() {
    let (store, _dir) = scratch_sqlite().await;
    let handle = Leadership::spawn(
        &config_with(LeadershipBackend::Auto),
        &store,
        "discord-gateway",
    )
    .await
    .unwrap();
    assert_eq!(handle.elected_by(), ElectedBy::SingleProcess);
    assert!(handle.owns_now());
    let watched = handle.is_owner();
    assert!(*watched.borrow());
    assert!(matches!(
        Leadership::spawn(&config_with(LeadershipBackend::Postgres), &store, "x").await,
        Err(LeadershipError::PostgresNeeded)
    ));
    handle.release().await;
    assert!(!*watched.borrow(), "released: no longer the owner");
}

/// Two replicas (two stores on one database) competing for one role.
async fn two_replicas(
    role: &str,
) -> Option<(
    LeadershipHandle,
    LeadershipHandle,
    Store,
    crate::store::scratch::ScratchDatabase,
)> {
    let base = postgres_url_or_skip(role)?;
    let (admin, scratch) = scratch_postgres(&base).await.expect("scratch database");
    let config = config_with(LeadershipBackend::Postgres);
    let mut handles = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(scratch.url(), 2).await.unwrap();
        let handle = Leadership::spawn(&config, &store, role).await.unwrap();
        assert_eq!(handle.elected_by(), ElectedBy::PostgresAdvisoryLock);
        handles.push(handle);
    }
    let b = handles.pop().unwrap();
    let a = handles.pop().unwrap();
    Some((a, b, admin, scratch))
}

/// Waits for one of the two to own the role; returns (owner, other).
async fn owner_of(
    a: LeadershipHandle,
    b: LeadershipHandle,
) -> (LeadershipHandle, LeadershipHandle) {
    let (mut wa, mut wb) = (a.is_owner(), b.is_owner());
    let a_first = tokio::time::timeout(GUARD, async {
        tokio::select! {
            _ = wa.wait_for(|o| *o) => true,
            _ = wb.wait_for(|o| *o) => false,
        }
    })
    .await
    .expect("nobody became the owner");
    // Several retry intervals: the other has tried and failed meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        a.owns_now() != b.owns_now(),
        "exactly one owner: {a:?} {b:?}"
    );
    if a_first { (a, b) } else { (b, a) }
}

/// The advisory locks granted in the scratch database, by session.
async fn granted_locks(admin: &Store) -> Vec<i32> {
    sqlx::query_scalar::<_, i32>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(admin.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_owner_and_ownership_moves_when_it_is_dropped() {
    let Some((a, b, admin, scratch)) = two_replicas("discord-gateway").await else {
        return;
    };
    let (owner, other) = owner_of(a, b).await;
    assert_eq!(granted_locks(&admin).await.len(), 1);
    let mut other_owns = other.is_owner();
    // The owner's process dies: its connection closes and the lock with it.
    drop(owner);
    becomes(&mut other_owns, true).await;
    assert_eq!(granted_locks(&admin).await.len(), 1);
    other.release().await;
    admin.close().await;
    scratch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_connection_is_lost_ownership() {
    let Some((a, b, admin, scratch)) = two_replicas("slack-socket-mode").await else {
        return;
    };
    let (owner, other) = owner_of(a, b).await;
    let mut owner_owns = owner.is_owner();
    let mut other_owns = other.is_owner();
    // The database ends the owner's session (as on a failover or network cut).
    let [pid] = granted_locks(&admin).await[..] else {
        panic!("one advisory lock expected");
    };
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(admin.pool())
        .await
        .unwrap();
    becomes(&mut owner_owns, false).await;
    // Whoever wins next, there is again exactly one owner, on one lock.
    tokio::time::timeout(GUARD, async {
        tokio::select! {
            _ = owner_owns.wait_for(|o| *o) => {},
            _ = other_owns.wait_for(|o| *o) => {},
        }
    })
    .await
    .expect("ownership was taken again");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(owner.owns_now() != other.owns_now());
    assert_eq!(granted_locks(&admin).await.len(), 1);
    owner.release().await;
    other.release().await;
    admin.close().await;
    scratch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_release_hands_over() {
    let Some((a, b, admin, scratch)) = two_replicas("handover").await else {
        return;
    };
    let (owner, other) = owner_of(a, b).await;
    let mut other_owns = other.is_owner();
    let mut watched = owner.is_owner();
    owner.release().await;
    assert!(
        !*watched.borrow_and_update(),
        "released: no longer the owner"
    );
    becomes(&mut other_owns, true).await;
    other.release().await;
    assert!(
        granted_locks(&admin).await.is_empty(),
        "released locks are free"
    );
    admin.close().await;
    scratch.drop_database().await.unwrap();
}
