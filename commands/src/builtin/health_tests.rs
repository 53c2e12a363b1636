//! Tests of `health` and of the health gate after `restart`, with scripted doubles.

use std::time::{Duration, Instant};

use crate::{
    Catalog, Status,
    context::{HealthLevel, Revision, RuntimeError, RuntimeView},
};

use super::testing::{FakeProber, RecordingRuntime, run, service};

fn catalog() -> Catalog {
    Catalog::new(vec![
        service("gateway", "prod", &["gateway health", "gateway 5xx"]),
        service("ollama", "prod", &["ollama version", "models installed"]),
        service("rag-staging", "staging", &["rag health"]),
        service("postgres", "prod", &[]),
    ])
    .unwrap()
}

#[tokio::test]
async fn overview_lists_every_service_worst_first() {
    let prober = FakeProber::default()
        .answer(
            "models installed",
            HealthLevel::Critical,
            "connection refused",
        )
        .answer(
            "gateway 5xx",
            HealthLevel::Warning,
            "0.2 req/s ≥ 0.1 req/s (warn)",
        );
    let reply = run("health", &catalog(), &prober, &RecordingRuntime::default())
        .await
        .unwrap();
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Danger, "{text}");
    assert_eq!(
        reply.title,
        "Health of 3 services: 1 critical, 1 warning, 1 healthy"
    );
    assert_eq!(
        reply.lines[0],
        "❌ `ollama` — models installed: connection refused"
    );
    assert!(
        reply.lines[1].starts_with("⚠️ `gateway` — gateway 5xx: 0.2 req/s"),
        "{text}"
    );
    assert_eq!(reply.lines[2], "✅ `rag-staging` — 1 check ok");
    assert_eq!(reply.lines[3], "▫️ no health checks: postgres");
    let commands: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            "restart ollama",
            "logs ollama",
            "restart gateway",
            "logs gateway"
        ]
    );
}

#[tokio::test]
async fn overview_filters_by_environment() {
    let reply = run(
        "health --env staging",
        &catalog(),
        &FakeProber::default(),
        &RecordingRuntime::default(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, Status::Success);
    assert_eq!(reply.title, "Health of 1 service in staging: 1 healthy");
    assert!(reply.buttons.is_empty());
    let err = run(
        "health --env qa",
        &catalog(),
        &FakeProber::default(),
        &RecordingRuntime::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("environments: prod, staging"),
        "{err}"
    );
}

#[tokio::test]
async fn every_check_runs_at_once() {
    let services: Vec<_> = (0..50)
        .map(|i| service(&format!("svc-{i}"), "prod", &[&format!("check-{i}")]))
        .collect();
    let mut prober = FakeProber::default();
    for i in 0..50 {
        prober = prober.slow(&format!("check-{i}"), Duration::from_millis(300));
    }
    let catalog = Catalog::new(services).unwrap();
    let started = Instant::now();
    let reply = run("health", &catalog, &prober, &RecordingRuntime::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.lines.len(), 50);
    assert_eq!(prober.probed.lock().unwrap().len(), 50);
}

#[tokio::test]
async fn a_hanging_probe_is_cut_by_the_safety_net() {
    let catalog = Catalog::new(vec![service("stuck", "prod", &["hangs"])]).unwrap();
    // Longer than the check's 5 s timeout plus the safety margin.
    let prober = FakeProber::default().slow("hangs", Duration::from_secs(3_600));
    tokio::time::pause();
    let reply = run(
        "health stuck",
        &catalog,
        &prober,
        &RecordingRuntime::default(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, Status::Danger);
    assert_eq!(reply.lines[0], "❌ hangs — timed out after 5s");
}

#[tokio::test]
async fn detail_shows_checks_and_the_runtime_view() {
    let prober = FakeProber::default().answer("ollama version", HealthLevel::Ok, "200 in 4 ms");
    let runtime = RecordingRuntime::default().with_inspect(Ok(RuntimeView {
        level: HealthLevel::Warning,
        summary: "active (running), restarted 3 times".into(),
        details: vec!["last exit: code 137".into()],
    }));
    let reply = run("health ollama", &catalog(), &prober, &runtime)
        .await
        .unwrap();
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Warning, "{text}");
    assert_eq!(reply.title, "ollama has warnings");
    assert_eq!(reply.lines[0], "✅ ollama version — 200 in 4 ms");
    assert!(
        text.contains("⚠️ runtime — active (running), restarted 3 times"),
        "{text}"
    );
    assert!(text.contains("• last exit: code 137"), "{text}");
    let commands: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
    assert_eq!(commands, ["restart ollama", "logs ollama", "health ollama"]);
}

#[tokio::test]
async fn an_unreachable_runtime_is_critical_and_unsupported_is_a_note() {
    let runtime = RecordingRuntime::default().with_inspect(Err(RuntimeError::Unreachable {
        what: "the Docker Engine".into(),
        reason: "connection refused".into(),
    }));
    let reply = run(
        "health gateway",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, Status::Danger, "{}", reply.to_plain_text());
    assert!(
        reply
            .to_plain_text()
            .contains("❌ runtime — the Docker Engine is unreachable")
    );

    let uninspectable = RecordingRuntime::default()
        .with_inspect(Err(RuntimeError::NotSupported("cannot inspect".into())));
    let reply = run(
        "health gateway",
        &catalog(),
        &FakeProber::default(),
        &uninspectable,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, Status::Success);
    assert_eq!(reply.title, "gateway is healthy");
    assert!(
        reply
            .to_plain_text()
            .contains("▫️ runtime — not inspected: cannot inspect")
    );
    assert!(reply.buttons.is_empty());
}

#[tokio::test]
async fn a_runtime_that_cannot_be_inspected_fails_the_command() {
    // Passing checks, but the API server rejects opsbot's token: not "has warnings".
    let prober = FakeProber::default()
        .answer("ollama version", HealthLevel::Ok, "200 in 4 ms")
        .answer("models installed", HealthLevel::Ok, "3 models");
    let runtime = RecordingRuntime::default().with_inspect(Err(RuntimeError::Failed(
            "the Kubernetes API server at https://k8s rejected opsbot's credentials (401 Unauthorized: Unauthorized)".into(),
        )));
    let reply = run("health ollama", &catalog(), &prober, &runtime)
        .await
        .unwrap();
    let text = reply.to_plain_text();
    assert_eq!(reply.status, Status::Danger, "{text}");
    assert_eq!(reply.title, "ollama: cannot inspect its runtime");
    assert!(
        text.contains("❌ runtime — cannot inspect: the Kubernetes API server at https://k8s rejected opsbot's credentials"),
        "{text}"
    );
}

fn revisions() -> Vec<Revision> {
    vec![
        Revision {
            number: 4,
            id: None,
            images: vec!["app:1.3".into()],
            created: None,
            change_cause: None,
            current: false,
        },
        Revision {
            number: 5,
            id: None,
            images: vec!["app:1.4".into()],
            created: None,
            change_cause: None,
            current: true,
        },
    ]
}

#[tokio::test]
async fn the_gate_offers_rollback_when_a_restarted_service_is_critical() {
    let prober = FakeProber::default().answer(
        "models installed",
        HealthLevel::Critical,
        "HTTP 503, expected 200 (3 ms)",
    );
    let runtime = RecordingRuntime::default().with_history(Ok(revisions()));
    let reply = run("restart ollama", &catalog(), &prober, &runtime)
        .await
        .unwrap();
    let text = reply.to_plain_text();
    assert_eq!(runtime.actions().as_slice(), ["restart ollama"]);
    assert_eq!(reply.status, Status::Warning, "{text}");
    assert_eq!(reply.title, "Restart ollama: done — ollama is unhealthy");
    assert!(text.contains("❌ models installed — HTTP 503"), "{text}");
    let commands: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
    assert_eq!(
        commands,
        ["rollback ollama", "logs ollama", "health ollama"]
    );
}

#[tokio::test]
async fn the_gate_offers_no_rollback_without_history_and_stays_quiet_when_healthy() {
    let prober = FakeProber::default().answer(
        "models installed",
        HealthLevel::Critical,
        "connection refused",
    );
    let reply = run(
        "restart ollama",
        &catalog(),
        &prober,
        &RecordingRuntime::default(),
    )
    .await
    .unwrap();
    let commands: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
    assert_eq!(commands, ["logs ollama", "health ollama"]);

    let reply = run(
        "restart gateway",
        &catalog(),
        &FakeProber::default(),
        &RecordingRuntime::default(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, Status::Success);
    assert!(reply.buttons.is_empty());
    assert!(
        reply
            .to_plain_text()
            .contains("health after the restart: all 2 checks pass"),
        "{}",
        reply.to_plain_text()
    );
}
