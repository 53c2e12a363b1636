//! Failures: an unknown unit (`NoSuchUnit`), a bus nobody listens on, a bus without
//! systemd, and the actions systemd has no notion of.

use std::time::Duration;

use opsbot_commands::{
    catalog::Target,
    context::{LogQuery, Runtime, RuntimeError},
};

use crate::{Behaviour, DbusDaemon, Recorder, bus_with_systemd, runtime, service};

#[tokio::test]
async fn an_unknown_unit_is_a_clear_error() {
    let (daemon, systemd) = bus_with_systemd().await;
    systemd.add_unit("ollama.service", Behaviour::Starts).await;
    let rt = runtime(&daemon.address);

    let error = rt
        .restart(&service("olama"), &Recorder::default())
        .await
        .unwrap_err();
    let RuntimeError::Failed(message) = &error else {
        panic!("expected Failed, got {error:?}");
    };
    assert_eq!(
        message,
        &format!(
            "systemd on D-Bus {} has no unit olama.service (Unit olama.service not found.); check `unit` of the service in the catalog",
            daemon.address
        )
    );

    let error = rt.inspect(&service("olama")).await.unwrap_err();
    assert!(
        error.to_string().contains("has no unit olama.service"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_bus_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}/no-bus", dir.path().display());

    let error = runtime(&address)
        .restart(&service("ollama"), &Recorder::default())
        .await
        .unwrap_err();

    let RuntimeError::Unreachable { what, reason } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(what, &format!("D-Bus {address}"));
    assert!(!reason.is_empty());
}

#[tokio::test]
async fn a_bus_without_systemd_is_unreachable() {
    let daemon = DbusDaemon::start();
    let error = runtime(&daemon.address)
        .inspect(&service("ollama"))
        .await
        .unwrap_err();
    let RuntimeError::Unreachable { what, reason } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(what, &format!("systemd on D-Bus {}", daemon.address));
    assert!(
        reason.starts_with("no systemd manager answers there"),
        "{reason}"
    );
}

#[tokio::test]
async fn the_target_bus_wins_over_the_default() {
    let (daemon, systemd) = bus_with_systemd().await;
    systemd.add_unit("ollama.service", Behaviour::Starts).await;
    let mut svc = service("ollama");
    svc.target = Target::Systemd {
        unit: "ollama.service".into(),
        bus: Some(daemon.address.clone()),
        journal: None,
    };
    let view = runtime("unix:path=/nonexistent/bus")
        .inspect(&svc)
        .await
        .unwrap();
    assert_eq!(view.summary, "active (running)");
}

#[tokio::test]
async fn rollback_scale_and_logs_point_elsewhere() {
    let rt = runtime("unix:path=/nonexistent/bus");
    let svc = service("ollama");
    let rollback = rt
        .rollback(&svc, None, &Recorder::default())
        .await
        .unwrap_err();
    assert_eq!(
        rollback,
        RuntimeError::NotSupported(
            "systemd keeps no previous revision of ollama.service; see the runbook (runbooks/agent-aiops.txt)".into()
        )
    );
    let scale = rt.scale(&svc, 2, &Recorder::default()).await.unwrap_err();
    assert!(matches!(scale, RuntimeError::NotSupported(ref m) if m.contains("cannot be scaled")));
    let logs = rt
        .logs(
            &svc,
            &LogQuery {
                since: Some(Duration::from_secs(60)),
                tail: 10,
                grep: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        logs,
        RuntimeError::NotSupported(
            "opsbot does not read the journal; read `journalctl -u ollama.service` on its host"
                .into()
        )
    );
}
