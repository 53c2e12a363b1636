//! Tests of `rollback --list` and of the per-call safety of `rollback`.

use crate::{
    Catalog, Registry, Status,
    context::{Revision, RuntimeError},
    language,
};

use super::testing::{FakeProber, FakeRuntime, run, service};

fn catalog() -> Catalog {
    Catalog::new(vec![service("orchestration", "prod", &[])]).unwrap()
}

#[test]
fn only_list_is_read_only() {
    let registry = Registry::builtin();
    let catalog = catalog();
    let parse = |text| language::parse(text, &registry, &catalog, None).unwrap();
    let list = parse("rollback orchestration --list");
    assert!(list.spec.is_destructive());
    assert!(!list.spec.is_destructive_call(&list));
    let undo = parse("rollback orchestration");
    assert!(undo.spec.is_destructive_call(&undo));
    let restart = parse("restart orchestration");
    assert!(restart.spec.is_destructive_call(&restart));
    let health = parse("health orchestration");
    assert!(!health.spec.is_destructive_call(&health));
}

#[tokio::test]
async fn list_shows_revisions_newest_first() {
    let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(3);
    let runtime = FakeRuntime {
        history: Ok(vec![
            Revision {
                number: 3,
                images: vec!["registry/app:1.2".into()],
                created: Some(hour_ago),
                change_cause: None,
                current: false,
            },
            Revision {
                number: 4,
                images: vec!["registry/app:1.3".into()],
                created: Some(hour_ago),
                change_cause: Some("deploy 1.3".into()),
                current: false,
            },
            Revision {
                number: 5,
                images: vec!["registry/app:1.4".into(), "sidecar:2".into()],
                created: None,
                change_cause: Some("deploy 1.4".into()),
                current: true,
            },
        ]),
        ..FakeRuntime::default()
    };
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
    assert!(
        runtime.actions.lock().unwrap().is_empty(),
        "listing changes nothing"
    );
}

#[tokio::test]
async fn list_without_history_says_so() {
    let runtime = FakeRuntime {
        history: Err(RuntimeError::NotSupported(
            "compose keeps no revision history".into(),
        )),
        ..FakeRuntime::default()
    };
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
