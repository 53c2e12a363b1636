//! Tests of `rollback --list` and of the per-call safety of `rollback`.

use crate::{
    Catalog, Registry, Status,
    context::{Revision, RuntimeError},
    language,
};

use super::testing::{FakeProber, MemoryKnownGood, RecordingRuntime, run, service};

/// What a precheck reads: `runtime`, and no revision known good.
fn reads(runtime: &RecordingRuntime) -> crate::command::PrecheckCtx<'_> {
    static NONE_KNOWN_GOOD: std::sync::LazyLock<MemoryKnownGood> =
        std::sync::LazyLock::new(MemoryKnownGood::default);
    crate::command::PrecheckCtx {
        runtime,
        known_good: &*NONE_KNOWN_GOOD,
    }
}

fn catalog() -> Catalog {
    Catalog::new(vec![service("orchestration", "prod", &[])]).unwrap()
}

#[test]
fn only_list_is_read_only() {
    let registry = Registry::new(super::COMMANDS);
    let catalog = catalog();
    let parse = |text| language::parse(text, &registry, &catalog, None).unwrap();
    let list = parse("rollback orchestration --list");
    assert!(list.command.is_destructive());
    assert!(!list.command.is_destructive_call(&list));
    let undo = parse("rollback orchestration");
    assert!(undo.command.is_destructive_call(&undo));
    let restart = parse("restart orchestration");
    assert!(restart.command.is_destructive_call(&restart));
    let health = parse("health orchestration");
    assert!(!health.command.is_destructive_call(&health));
}

#[tokio::test]
async fn list_shows_revisions_newest_first() {
    let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(3);
    let runtime = RecordingRuntime::default().with_history(Ok(vec![
        Revision {
            number: 3,
            id: None,
            images: vec!["registry/app:1.2".into()],
            created: Some(hour_ago),
            change_cause: None,
            current: false,
        },
        Revision {
            number: 4,
            id: None,
            images: vec!["registry/app:1.3".into()],
            created: Some(hour_ago),
            change_cause: Some("deploy 1.3".into()),
            current: false,
        },
        Revision {
            number: 5,
            id: None,
            images: vec!["registry/app:1.4".into(), "sidecar:2".into()],
            created: None,
            change_cause: Some("deploy 1.4".into()),
            current: true,
        },
    ]));
    let reply = run(
        "rollback orchestration --list",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, Status::Info);
    assert_eq!(reply.title, "Revisions of orchestration (newest first)");
    assert_eq!(
        reply.lines[0],
        "▶ #5 (current) — `registry/app:1.4`, `sidecar:2` — deploy 1.4"
    );
    assert_eq!(
        reply.lines[1],
        "• #4 — `registry/app:1.3` — 3h ago — deploy 1.3"
    );
    assert_eq!(reply.buttons[0].command, "rollback orchestration --to 4");
    assert!(runtime.actions().is_empty(), "listing changes nothing");
}

#[tokio::test]
async fn list_without_history_says_so() {
    let runtime = RecordingRuntime::default().with_history(Err(RuntimeError::NotSupported(
        "compose keeps no revision history".into(),
    )));
    let err = run(
        "rollback orchestration --list",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no revision history"), "{err}");
    let err = run(
        "rollback orchestration --list --to 3",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("leave out `--to`"), "{err}");
}

#[tokio::test]
async fn an_unknown_revision_is_refused_before_anyone_confirms() {
    let mut deployment = service("orchestration", "prod", &[]);
    deployment.target = crate::catalog::Target::Kubernetes {
        context: None,
        namespace: "prod".into(),
        deployment: "orchestration".into(),
        container: None,
    };
    let catalog = Catalog::new(vec![deployment]).unwrap();
    let registry = Registry::new(super::COMMANDS);
    let revision = |number, current| Revision {
        number,
        id: None,
        images: vec![],
        created: None,
        change_cause: None,
        current,
    };
    let runtime = RecordingRuntime::default().with_history(Ok(vec![
        revision(3, false),
        revision(4, false),
        revision(5, true),
    ]));
    let parse = |text| language::parse(text, &registry, &catalog, None).unwrap();
    let error = super::rollback::COMMAND
        .precheck(&parse("rollback orchestration --to 99"), reads(&runtime))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unable to find revision 99 of orchestration; known revisions: 3, 4, 5"
    );
    super::rollback::COMMAND
        .precheck(&parse("rollback orchestration --to 4"), reads(&runtime))
        .await
        .unwrap();
    super::rollback::COMMAND
        .precheck(&parse("rollback orchestration"), reads(&runtime))
        .await
        .unwrap();
    // When the history cannot be read now, the run decides (and says why).
    let unreachable = RecordingRuntime::default().with_history(Err(RuntimeError::Unreachable {
        what: "the API server".into(),
        reason: "refused".into(),
    }));
    super::rollback::COMMAND
        .precheck(
            &parse("rollback orchestration --to 99"),
            reads(&unreachable),
        )
        .await
        .unwrap();
}
