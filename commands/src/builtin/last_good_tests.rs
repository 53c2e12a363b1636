//! Tests of the revisions known good: recorded when the gate passes, offered first after a
//! failed gate or a failed rollout, and resolved by `rollback --to last-good`.

use crate::{
    Catalog, CommandError, Registry, Reply,
    context::{HealthLevel, Revision},
    language,
};

use super::super::testing::{
    FakeProber, MemoryKnownGood, RecordingRuntime, run_with_known_good, service,
};

fn catalog() -> Catalog {
    Catalog::new(vec![
        service("ollama", "prod", &["models installed"]),
        service("gateway", "prod", &[]),
    ])
    .unwrap()
}

fn revision(number: i64, id: &str, image: &str, current: bool) -> Revision {
    Revision {
        number,
        id: Some(id.into()),
        images: vec![image.into()],
        created: None,
        change_cause: None,
        current,
    }
}

/// #3 (rs-a) healthy, #4 (rs-b) a crash-looping release, #5 (rs-c) that release restarted.
fn after_a_bad_release() -> RecordingRuntime {
    RecordingRuntime::default().with_history(Ok(vec![
        revision(3, "rs-a", "app:1.2", false),
        revision(4, "rs-b", "app:1.3", false),
        revision(5, "rs-c", "app:1.3", true),
    ]))
}

fn commands(reply: &Reply) -> Vec<&str> {
    reply.buttons.iter().map(|b| b.command.as_str()).collect()
}

/// Restarts ollama while #3 (rs-a) runs and passes the gate.
async fn pass_gate_on_rs_a(known_good: &MemoryKnownGood) {
    let healthy = RecordingRuntime::default().with_history(Ok(vec![
        revision(2, "rs-z", "app:1.1", false),
        revision(3, "rs-a", "app:1.2", true),
    ]));
    run_with_known_good(
        "restart ollama",
        &catalog(),
        &FakeProber::default(),
        &healthy,
        known_good,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_passed_gate_is_recorded_and_offered_first_after_a_failed_gate() {
    let known_good = MemoryKnownGood::default();
    pass_gate_on_rs_a(&known_good).await;
    let passes = known_good.passes.lock().unwrap().clone();
    assert_eq!(passes.len(), 1);
    assert_eq!(passes[0].0, "ollama");
    assert_eq!((passes[0].1.id.as_str(), passes[0].1.number), ("rs-a", 3));
    assert_eq!(passes[0].1.images, ["app:1.2"]);
    assert_eq!(passes[0].1.passed_by, "Tester");

    // The crash-looping release, restarted: the gate fails and offers #3 first; plain
    // `rollback` (to #4, the same broken image) comes second.
    let critical =
        FakeProber::default().answer("models installed", HealthLevel::Critical, "HTTP 503");
    let reply = run_with_known_good(
        "restart ollama",
        &catalog(),
        &critical,
        &after_a_bad_release(),
        &known_good,
    )
    .await
    .unwrap();
    assert_eq!(
        commands(&reply),
        [
            "rollback ollama --to last-good",
            "rollback ollama",
            "logs ollama",
            "health ollama"
        ]
    );
    assert_eq!(reply.buttons[0].label, "Roll back to last good #3");
    assert_eq!(
        known_good.passes.lock().unwrap().len(),
        1,
        "a failed gate records nothing"
    );
}

#[tokio::test]
async fn rollback_to_last_good_goes_to_its_current_number() {
    let known_good = MemoryKnownGood::default();
    pass_gate_on_rs_a(&known_good).await;
    let runtime = after_a_bad_release();
    let reply = run_with_known_good(
        "rollback ollama --to last-good",
        &catalog(),
        &FakeProber::default(),
        &runtime,
        &known_good,
    )
    .await
    .unwrap();
    assert_eq!(runtime.actions().as_slice(), ["rollback ollama --to 3"]);
    let text = reply.to_plain_text();
    assert!(
        text.contains("#3 is the last revision known good: it passed the health gate just now (after a command of Tester)"),
        "{text}"
    );

    // (The fake's history did not move, so the gate after that rollback recorded #5.)
    // Renumbered by a rollback (rs-a is #6 now) and running: the known good one is the
    // one running, so there is nowhere "last good" to go.
    let known_good = MemoryKnownGood::default();
    pass_gate_on_rs_a(&known_good).await;
    let renumbered = RecordingRuntime::default().with_history(Ok(vec![
        revision(4, "rs-b", "app:1.3", false),
        revision(5, "rs-c", "app:1.3", false),
        revision(6, "rs-a", "app:1.2", true),
    ]));
    let error = run_with_known_good(
        "rollback ollama --to last-good",
        &catalog(),
        &FakeProber::default(),
        &renumbered,
        &known_good,
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the only revision of ollama known good (#3 when it passed just now, app:1.2) is the one running now"),
        "{error}"
    );
    assert!(renumbered.actions().is_empty());
}

#[tokio::test]
async fn without_a_known_good_revision_the_error_says_why() {
    let known_good = MemoryKnownGood::default();
    let runtime = after_a_bad_release();
    let error = run_with_known_good(
        "rollback ollama --to last-good",
        &catalog(),
        &FakeProber::default(),
        &runtime,
        &known_good,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        CommandError::Failed("no revision of ollama is known good yet: a revision is recorded when it passes the health gate after a restart or rollback; use `rollback ollama` or `rollback ollama --to N` (see `rollback ollama --list`)".into())
    );
    let error = run_with_known_good(
        "rollback gateway --to last-good",
        &catalog(),
        &FakeProber::default(),
        &runtime,
        &known_good,
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("gateway has no health checks, so no revision ever passes the health gate"),
        "{error}"
    );
    assert!(runtime.actions().is_empty());
}

#[tokio::test]
async fn a_failed_rollout_offers_rollback_even_without_health_checks() {
    let runtime = after_a_bad_release().failing("the rollout did not finish within 10m");
    let known_good = MemoryKnownGood::default();
    let error = run_with_known_good(
        "restart gateway",
        &catalog(),
        &FakeProber::default(),
        &runtime,
        &known_good,
    )
    .await
    .unwrap_err();
    let CommandError::ActionFailed(reply) = error else {
        panic!("a failed rollout is an action failure: {error:?}");
    };
    assert_eq!(commands(&reply), ["rollback gateway"]);
    assert_eq!(
        reply.title,
        "Restart gateway failed: the rollout did not finish within 10m"
    );

    // With a revision known good, it comes first; a failed scale offers the same.
    pass_gate_on_rs_a(&known_good).await;
    let error = run_with_known_good(
        "restart ollama",
        &catalog(),
        &FakeProber::default(),
        &runtime,
        &known_good,
    )
    .await
    .unwrap_err();
    let CommandError::ActionFailed(reply) = error else {
        panic!("{error:?}");
    };
    assert_eq!(
        commands(&reply),
        ["rollback ollama --to last-good", "rollback ollama"]
    );

    // Without history (compose, systemd) there is nothing to offer.
    let no_history = RecordingRuntime::default().failing("timed out");
    let error = run_with_known_good(
        "restart gateway",
        &catalog(),
        &FakeProber::default(),
        &no_history,
        &known_good,
    )
    .await
    .unwrap_err();
    let CommandError::ActionFailed(reply) = error else {
        panic!("{error:?}");
    };
    assert!(reply.buttons.is_empty());
}

#[test]
fn to_takes_a_revision_or_last_good() {
    let registry = Registry::new(crate::builtin::COMMANDS);
    let catalog = catalog();
    let parse = |text| language::parse(text, &registry, &catalog, None);
    let call = parse("rollback ollama --to LAST-GOOD").unwrap();
    assert_eq!(call.text("to"), Some("last-good"));
    assert_eq!(call.canonical_text(), "rollback ollama --to last-good");
    assert_eq!(
        parse("rollback ollama --to 4").unwrap().integer("to"),
        Some(4)
    );
    let error = parse("rollback ollama --to latest")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "to must be a whole number from 1 to 9223372036854775807 or last-good, not `latest`"
        ),
        "{error}"
    );
    assert!(error.contains("[--to N|last-good]"), "{error}");
}

#[tokio::test]
async fn rollback_to_last_good_without_one_is_refused_before_anyone_confirms() {
    let mut ollama = service("ollama", "prod", &["models installed"]);
    ollama.target = crate::catalog::Target::Kubernetes {
        context: None,
        namespace: "ai".into(),
        deployment: "ollama".into(),
        container: None,
    };
    let catalog = Catalog::new(vec![ollama]).unwrap();
    let registry = Registry::new(super::super::COMMANDS);
    let call =
        language::parse("rollback ollama --to last-good", &registry, &catalog, None).unwrap();
    let runtime = after_a_bad_release();
    let known_good = MemoryKnownGood::default();
    let reads = crate::command::PrecheckCtx {
        runtime: &runtime,
        known_good: &known_good,
    };
    let error = super::super::rollback::COMMAND
        .precheck(&call, reads)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CommandError::Failed("no revision of ollama is known good yet: a revision is recorded when it passes the health gate after a restart or rollback; use `rollback ollama` or `rollback ollama --to N` (see `rollback ollama --list`)".into())
    );
    // Once a revision other than the running one passed, the precheck lets it through.
    pass_gate_on_rs_a(&known_good).await;
    super::super::rollback::COMMAND
        .precheck(&call, reads)
        .await
        .unwrap();
    assert!(runtime.actions().is_empty(), "a precheck only reads");
}
