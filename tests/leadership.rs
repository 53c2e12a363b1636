//! Leadership by Kubernetes Lease, against the fake API server's Leases (server-side
//! apply with field ownership, as the real API server does it): two replicas of one role,
//! exactly one owner; a released Lease moves at once; a dead owner's Lease moves when it
//! expires; without the RBAC verbs nobody owns anything. (The PostgreSQL advisory lock
//! backend is tested in `bot/src/leadership/tests.rs`.)

use std::time::Duration;

use opsbot::{
    config::{self, Config, LeadershipBackend},
    leadership::{ElectedBy, Leadership, LeadershipHandle},
    store::Store,
};
use opsbot_commands::HumanDuration;
use opsbot_fakes::kubernetes::FakeApiServer;
use tokio::sync::watch;

/// Far longer than any lease here: only a guard against hanging forever.
const GUARD: Duration = Duration::from_secs(60);

fn replica_config(server: &FakeApiServer, identity: &str) -> Config {
    let mut config = config::parse("", "test.toml", &|_| None).unwrap();
    config.kubernetes.kubeconfig = Some(server.kubeconfig().to_path_buf());
    config.leadership.backend = LeadershipBackend::Kubernetes;
    config.leadership.lease_namespace = Some("opsbot".into());
    config.leadership.identity = Some(identity.into());
    config.leadership.lease_duration = HumanDuration::from_secs(3);
    config.leadership.retry_interval = HumanDuration(Duration::from_millis(100));
    config
}

async fn replica(server: &FakeApiServer, store: &Store, identity: &str) -> LeadershipHandle {
    let handle = Leadership::spawn(&replica_config(server, identity), store, "discord-gateway")
        .await
        .expect("a Kubernetes client for the fake");
    assert_eq!(handle.elected_by(), ElectedBy::KubernetesLease);
    handle
}

async fn becomes(owner: &mut watch::Receiver<bool>, wanted: bool) {
    tokio::time::timeout(GUARD, owner.wait_for(|owns| *owns == wanted))
        .await
        .expect("ownership did not change")
        .expect("leadership task ended");
}

fn holder(server: &FakeApiServer) -> Option<String> {
    let world = server.world.lock().unwrap();
    let lease = world.get("leases", "opsbot", "opsbot-discord-gateway")?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_string)
}

/// Waits until one of the two owns the role; returns (owner, other).
async fn one_owner(
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
    // Several retry intervals: the other has looked at the Lease meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        a.owns_now() != b.owns_now(),
        "exactly one owner: {a:?} {b:?}"
    );
    if a_first { (a, b) } else { (b, a) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_holds_the_lease_and_release_hands_it_over() {
    let server = FakeApiServer::start().await;
    let (store, _dir) = opsbot::store::scratch::scratch_sqlite().await;
    let a = replica(&server, &store, "replica-a").await;
    let b = replica(&server, &store, "replica-b").await;
    let (owner, other) = one_owner(a, b).await;
    let owner_name = holder(&server).expect("a holder");
    assert!(["replica-a", "replica-b"].contains(&owner_name.as_str()));

    let mut other_owns = other.is_owner();
    owner.release().await;
    becomes(&mut other_owns, true).await;
    assert_ne!(holder(&server), Some(owner_name), "the Lease moved");
    other.release().await;
    assert_eq!(holder(&server), None, "released: nobody holds it");
    // kube-lease-manager used exactly the verbs of lease-role.yaml: get, create, patch.
    let verbs: std::collections::BTreeSet<&str> = server
        .requests()
        .iter()
        .filter(|r| r.contains("/leases"))
        .map(|r| r.split(' ').next().unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|method| match method {
            "GET" => "get",
            "POST" => "create",
            "PATCH" => "patch",
            other => panic!("unexpected {other} on leases"),
        })
        .collect();
    assert_eq!(verbs, ["create", "get", "patch"].into());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_owners_lease_expires_and_moves() {
    let server = FakeApiServer::start().await;
    let (store, _dir) = opsbot::store::scratch::scratch_sqlite().await;
    let a = replica(&server, &store, "replica-a").await;
    let b = replica(&server, &store, "replica-b").await;
    let (owner, other) = one_owner(a, b).await;
    let dead = holder(&server).unwrap();
    let mut other_owns = other.is_owner();
    // The owner's pod dies: no release, it just stops renewing.
    drop(owner);
    becomes(&mut other_owns, true).await;
    let now = holder(&server).unwrap();
    assert_ne!(now, dead);
    other.release().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_lease_verbs_nobody_owns() {
    let server = FakeApiServer::start().await;
    server.forbid("patch", "leases");
    let (store, _dir) = opsbot::store::scratch::scratch_sqlite().await;
    let a = replica(&server, &store, "replica-a").await;
    // Several attempts, all refused.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!a.owns_now());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("PATCH") && r.contains("/leases/")),
        "it tried"
    );
    assert_eq!(holder(&server), None);
    a.release().await;
    store.close().await;
}
