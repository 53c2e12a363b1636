//! `restart`: RestartUnit, wait for that job's JobRemoved, then report the unit's state.

use std::time::{Duration, Instant};

use opsbot_commands::context::Runtime;

use crate::{Behaviour, Recorder, bus_with_systemd, runtime, service};

#[tokio::test]
async fn restart_waits_for_the_job_and_reports_the_state() {
    let (daemon, systemd) = bus_with_systemd().await;
    systemd.add_unit("ollama.service", Behaviour::Starts).await;
    let progress = Recorder::default();

    let started = Instant::now();
    let report = runtime(&daemon.address)
        .restart(&service("ollama"), &progress)
        .await
        .unwrap();

    assert!(report.succeeded, "{report:#?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "did not wait for the job"
    );
    assert_eq!(
        report.summary,
        "restarted systemd unit ollama.service: active (running)"
    );
    assert_eq!(
        report.details,
        vec![
            "job /org/freedesktop/systemd1/job/101 ended: done",
            "ActiveState active, SubState running"
        ]
    );
    assert_eq!(systemd.restarts("ollama.service"), 1);
    assert_eq!(*systemd.subscribers.lock().unwrap(), 1, "did not Subscribe");
    assert_eq!(
        progress.messages(),
        vec![
            "restarting systemd unit ollama.service",
            "systemd queued job /org/freedesktop/systemd1/job/101 for ollama.service; waiting for it to finish"
        ]
    );
}

#[tokio::test]
async fn a_unit_that_fails_to_start_fails_the_restart() {
    let (daemon, systemd) = bus_with_systemd().await;
    systemd
        .add_unit("ollama.service", Behaviour::FailsToStart)
        .await;

    let report = runtime(&daemon.address)
        .restart(&service("ollama.service"), &Recorder::default())
        .await
        .unwrap();

    assert!(!report.succeeded);
    assert_eq!(
        report.summary,
        "restart of systemd unit ollama.service failed (job failed): failed (failed)"
    );
    assert_eq!(
        report.details,
        vec![
            "job /org/freedesktop/systemd1/job/101 ended: failed",
            "ActiveState failed, SubState failed",
            "Result: exit-code",
            "read `journalctl -u ollama.service` on its host for why"
        ]
    );
}

#[tokio::test]
async fn a_job_that_never_ends_times_out() {
    let (daemon, systemd) = bus_with_systemd().await;
    systemd.add_unit("ollama.service", Behaviour::Hangs).await;

    let started = Instant::now();
    let report = runtime(&daemon.address)
        .restart(&service("ollama"), &Recorder::default())
        .await
        .unwrap();

    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert!(!report.succeeded);
    assert_eq!(
        report.summary,
        "restart of systemd unit ollama.service failed (job timed out): activating (start)"
    );
    assert!(
        report.details[0].contains("did not finish within 2s (job timeout)"),
        "{report:#?}"
    );
}
