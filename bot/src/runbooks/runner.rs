//! Drives one run, step by step, in a task of the process that started it: marks the
//! step running (⏳), does it, records how it ended (✅ ❌ ⏭) with its audit record, and
//! stops on a failed step whose `on_failure` is `stop` (then runs the rollback steps).
//! A manual step waits for Done or Skip (pressed by anyone allowed to use `runbook`,
//! recorded with who); an abort is honoured before the next step and during waits.

use std::{sync::Arc, time::Duration};

use opsbot_commands::{Button, Invocation, Reply};
use tokio::sync::Notify;

use super::{
    Inner, actor_of,
    definition::{Action, HttpAction, Step},
    repo::{self, Starter},
    report::{self, Extra},
};
use crate::{
    config::runbooks::{OnFailure, StepKind},
    engine::Engine,
    store::StoreError,
};

/// How often a waiting run looks at the store (for an answer or abort given through
/// another replica); a press on this replica wakes it at once.
const POLL: Duration = Duration::from_millis(500);
/// How often `wait_healthy` looks at the service.
const HEALTH_POLL: Duration = Duration::from_secs(2);

/// A run being driven.
pub(super) struct Run {
    pub id: i64,
    pub runbook: String,
    pub request_id: String,
    pub starter: Starter,
    pub channel: String,
    pub thread: Option<String>,
    pub steps: Vec<Step>,
    pub rollback: Vec<Step>,
    pub notify: Arc<Notify>,
}

/// How a step ended.
enum End {
    Ok(String),
    Failed(String),
    /// A person answered a manual step (already recorded): done (`true`) or skipped.
    Answered(bool),
    /// Someone aborted the run while the step waited.
    Aborted(String),
}

/// How the run ended.
enum RunEnd {
    Succeeded,
    Failed { step: usize, detail: String },
    Aborted { by: String, before: usize },
}

pub(super) async fn drive(inner: Arc<Inner>, run: Run) {
    if let Err(error) = drive_steps(&inner, &run).await {
        // The lease is dropped below, so the sweep reports the run as interrupted.
        tracing::error!(run = run.id, %error, "a runbook run lost its store; it stops here");
    }
    if let Ok(mut live) = inner.live.lock() {
        live.remove(&run.id);
    }
}

async fn drive_steps(inner: &Arc<Inner>, run: &Run) -> Result<(), StoreError> {
    let Some(engine) = inner.engine.get().and_then(std::sync::Weak::upgrade) else {
        return Ok(());
    };
    let total = run.steps.len();
    let mut end = RunEnd::Succeeded;
    for (index, step) in run.steps.iter().enumerate() {
        let position = index + 1;
        if let Some(by) = abort_requested(inner, run.id).await? {
            end = RunEnd::Aborted {
                by,
                before: position,
            };
            break;
        }
        let label = format!("step {position}/{total}");
        match execute(inner, &engine, run, position as i64, &label, step).await? {
            End::Aborted(by) => {
                end = RunEnd::Aborted {
                    by,
                    before: position,
                };
                break;
            }
            End::Failed(detail) if step.on_failure == OnFailure::Stop => {
                end = RunEnd::Failed {
                    step: position,
                    detail,
                };
                break;
            }
            _ => {}
        }
    }
    if matches!(end, RunEnd::Failed { .. }) {
        let count = run.rollback.len();
        for (index, step) in run.rollback.iter().enumerate() {
            let label = format!("rollback step {}/{count}", index + 1);
            let position = (total + index + 1) as i64;
            if let End::Aborted(_) = execute(inner, &engine, run, position, &label, step).await? {
                break;
            }
        }
    }
    let (state, summary) = match &end {
        RunEnd::Succeeded => (
            "succeeded",
            Reply::success(format!(
                "Runbook `{}` run #{} finished: all {total} steps done",
                run.runbook, run.id
            )),
        ),
        RunEnd::Failed { step, detail } => {
            let mut reply = Reply::danger(format!(
                "Runbook `{}` run #{} stopped: step {step} failed",
                run.runbook, run.id
            ))
            .line(detail.clone());
            if !run.rollback.is_empty() {
                reply = reply.line(format!("Its {} rollback steps ran.", run.rollback.len()));
            }
            ("failed", reply)
        }
        RunEnd::Aborted { by, before } => (
            "aborted",
            Reply::warning(format!(
                "Runbook `{}` run #{} aborted by {by} before step {before}",
                run.runbook, run.id
            )),
        ),
    };
    let mut tx = inner.store.pool().begin().await?;
    if repo::move_run(&mut tx, run.id, state, jiff::Timestamp::now()).await? {
        report::publish(&mut tx, run.id, false, Extra::InThread(summary)).await?;
    }
    tx.commit().await?;
    crate::outbox::wake();
    Ok(())
}

/// The starter's invocation for a step: their identity, the run's channel and thread,
/// the step's text.
fn invocation(run: &Run, text: &str) -> Option<Invocation> {
    let actor = actor_of(&run.starter)?;
    let mut invocation = Invocation::new(actor, run.channel.clone(), text);
    invocation.thread = run.thread.clone();
    Some(invocation)
}

async fn abort_requested(inner: &Inner, id: i64) -> Result<Option<String>, StoreError> {
    let mut conn = inner.store.pool().acquire().await?;
    Ok(repo::run(&mut conn, id)
        .await?
        .and_then(|run| run.abort_requested_by))
}

/// Moves step `position` and publishes the living message (and `extra`) in one
/// transaction; false when the step was not in `from`.
async fn move_step(
    inner: &Inner,
    run: i64,
    position: i64,
    from: &[&str],
    to: &str,
    detail: &str,
    extra: Extra,
) -> Result<bool, StoreError> {
    let mut tx = inner.store.pool().begin().await?;
    let moved = repo::move_step(
        &mut tx,
        run,
        position,
        &repo::StepChange {
            from,
            to,
            detail,
            answered_by: None,
        },
        jiff::Timestamp::now(),
    )
    .await?;
    if moved {
        report::publish(&mut tx, run, false, extra).await?;
    }
    tx.commit().await?;
    crate::outbox::wake();
    Ok(moved)
}

async fn execute(
    inner: &Arc<Inner>,
    engine: &Engine,
    run: &Run,
    position: i64,
    label: &str,
    step: &Step,
) -> Result<End, StoreError> {
    let reason = format!("runbook `{}` run #{} {label}", run.runbook, run.id);
    let what = step.describe();
    let Some(starter) = invocation(run, &what) else {
        let detail = format!(
            "the run's starter ({}) is not a principal this opsbot can act as",
            run.starter.label()
        );
        move_step(
            inner,
            run.id,
            position,
            &["pending"],
            "failed",
            &detail,
            Extra::Nothing,
        )
        .await?;
        return Ok(End::Failed(detail));
    };
    if step.kind == StepKind::Manual {
        return manual(inner, engine, run, position, step, &starter, &reason).await;
    }
    move_step(
        inner,
        run.id,
        position,
        &["pending"],
        "running",
        "",
        Extra::Nothing,
    )
    .await?;
    let mut extra = Extra::Nothing;
    let end = match &step.action {
        Action::Command(line) => {
            let mut as_starter = starter.clone();
            as_starter.text = line.clone();
            let (reply, ok) = engine
                .run_step_command(&as_starter, &run.request_id, &reason)
                .await;
            let summary = reply.summary();
            extra = Extra::InThread(reply);
            if ok {
                End::Ok(summary)
            } else {
                End::Failed(summary)
            }
        }
        Action::Http(http) => {
            let end = call(inner, step, http).await;
            audit(engine, &starter, run, &reason, &end).await;
            end
        }
        Action::Wait(duration) => {
            let end = match wait(inner, run, *duration).await? {
                Some(by) => End::Aborted(by),
                None => End::Ok(format!("waited {}", humantime::format_duration(*duration))),
            };
            audit(engine, &starter, run, &reason, &end).await;
            end
        }
        Action::WaitHealthy { service, timeout } => {
            let end = wait_healthy(inner, engine, run, &starter, service, *timeout).await?;
            audit(engine, &starter, run, &reason, &end).await;
            end
        }
        Action::Notify { text, channel } => {
            let reply = Reply::info(text.clone());
            extra = match channel {
                Some(channel) => Extra::InChannel(channel.clone(), reply),
                None => Extra::InThread(reply),
            };
            let end = End::Ok(match channel {
                Some(channel) => format!("posted in {channel}"),
                None => "posted in the thread".to_string(),
            });
            audit(engine, &starter, run, &reason, &end).await;
            end
        }
        Action::Manual(_) => End::Failed("internal: manual step outside its path".into()),
    };
    let (state, detail) = match &end {
        End::Ok(detail) => ("ok", detail.clone()),
        End::Failed(detail) => ("failed", detail.clone()),
        End::Answered(_) => ("ok", String::new()),
        End::Aborted(by) => ("aborted", format!("aborted by {by}")),
    };
    move_step(inner, run.id, position, &["running"], state, &detail, extra).await?;
    Ok(end)
}

/// The step's audit record (command steps have the pipeline's).
async fn audit(engine: &Engine, starter: &Invocation, run: &Run, reason: &str, end: &End) {
    let (ok, summary) = match end {
        End::Ok(detail) => (Some(true), detail.clone()),
        End::Failed(detail) => (Some(false), detail.clone()),
        End::Answered(done) => (Some(true), if *done { "done" } else { "skipped" }.into()),
        End::Aborted(by) => (None, format!("aborted by {by}")),
    };
    engine
        .audit_step(starter, &run.request_id, ok, reason.to_string(), summary)
        .await;
}

/// Sends an `http` step's request; what came of it, with its secrets scrubbed.
async fn call(inner: &Inner, step: &Step, http: &HttpAction) -> End {
    let request = opsbot_probes::Request {
        method: http.method.clone(),
        url: http.url.clone(),
        headers: http
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect(),
        body: http.body.clone(),
        timeout: http.timeout,
    };
    let expect = opsbot_probes::Expectation {
        status: http.expect_status,
        json: http.expect_json.clone(),
    };
    let scrub = |text: String| {
        let mut text = text;
        for secret in step.secrets().into_iter().filter(|s| !s.is_empty()) {
            text = text.replace(secret, "[secret]");
        }
        opsbot_commands::redact::redact(&text).0.into_owned()
    };
    match inner.http.call(&request, &expect).await {
        Ok(detail) => End::Ok(scrub(detail)),
        Err(detail) => End::Failed(scrub(detail)),
    }
}

/// Sleeps `duration`, or until someone aborts the run (who, then).
async fn wait(inner: &Inner, run: &Run, duration: Duration) -> Result<Option<String>, StoreError> {
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        if let Some(by) = abort_requested(inner, run.id).await? {
            return Ok(Some(by));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let nap = (deadline - now).min(POLL);
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = run.notify.notified() => {}
        }
    }
}

/// Looks at the service until it is healthy or `timeout` passed; fails at once for a
/// service without health checks.
async fn wait_healthy(
    inner: &Inner,
    engine: &Engine,
    run: &Run,
    starter: &Invocation,
    service: &str,
    timeout: Duration,
) -> Result<End, StoreError> {
    // Without health checks it could only run to its timeout: say so at once.
    if let Ok(found) = inner.catalog.resolve(service)
        && found.health.is_empty()
    {
        return Ok(End::Failed(format!(
            "{} has no health checks, so it can never be seen healthy; give it `[[services.health]]` or take this `wait_healthy` step out of the runbook",
            found.name
        )));
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (reply, healthy) = engine.look_at_health(starter, service).await;
        if healthy {
            return Ok(End::Ok(reply.summary()));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(End::Failed(format!(
                "not healthy within {}: {}",
                humantime::format_duration(timeout),
                reply.summary()
            )));
        }
        if let Some(by) = wait(inner, run, (deadline - now).min(HEALTH_POLL)).await? {
            return Ok(End::Aborted(by));
        }
    }
}

/// A manual step: the instruction with Done and Skip in the thread, then wait for an
/// answer (recorded by [`super::Runbooks`]'s `answer`) or an abort.
async fn manual(
    inner: &Inner,
    engine: &Engine,
    run: &Run,
    position: i64,
    step: &Step,
    starter: &Invocation,
    reason: &str,
) -> Result<End, StoreError> {
    let Action::Manual(instruction) = &step.action else {
        return Ok(End::Failed("internal: not a manual step".into()));
    };
    let ask = Reply::warning(format!("✋ Run #{} needs a person: {instruction}", run.id))
        .line("Press Done when it is done, or Skip to go on without it.".to_string())
        .button(Button::new("Done", format!("runbook done {}", run.id)).primary())
        .button(Button::new("Skip", format!("runbook skip {}", run.id)))
        .button(
            Button::new("Abort", format!("runbook abort {}", run.id))
                .danger()
                .confirming(format!("Abort run #{}?", run.id)),
        );
    {
        let mut tx = inner.store.pool().begin().await?;
        let now = jiff::Timestamp::now();
        repo::move_step(
            &mut tx,
            run.id,
            position,
            &repo::StepChange {
                from: &["pending"],
                to: "waiting",
                detail: "waiting for Done or Skip",
                answered_by: None,
            },
            now,
        )
        .await?;
        repo::move_run(&mut tx, run.id, "waiting", now).await?;
        report::publish(&mut tx, run.id, false, Extra::InThread(ask)).await?;
        tx.commit().await?;
        crate::outbox::wake();
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = run.notify.notified() => {}
        }
        let state = {
            let mut conn = inner.store.pool().acquire().await?;
            repo::steps(&mut conn, run.id)
                .await?
                .into_iter()
                .find(|s| s.position == position)
                .map(|s| (s.state, s.answered_by))
        };
        match state {
            Some((state, by)) if state == "ok" || state == "skipped" => {
                let done = state == "ok";
                let by = by.unwrap_or_default();
                let summary = if done {
                    format!("done by {by}")
                } else {
                    format!("skipped by {by}")
                };
                engine
                    .audit_step(
                        starter,
                        &run.request_id,
                        Some(true),
                        reason.to_string(),
                        summary,
                    )
                    .await;
                return Ok(End::Answered(done));
            }
            Some((state, _)) if state == "waiting" => {
                if let Some(by) = abort_requested(inner, run.id).await? {
                    let mut tx = inner.store.pool().begin().await?;
                    let now = jiff::Timestamp::now();
                    let detail = format!("aborted by {by}");
                    repo::move_step(
                        &mut tx,
                        run.id,
                        position,
                        &repo::StepChange {
                            from: &["waiting"],
                            to: "aborted",
                            detail: &detail,
                            answered_by: None,
                        },
                        now,
                    )
                    .await?;
                    sqlx::query("UPDATE runbook_runs SET state = 'running' WHERE id = $1 AND state = 'waiting'")
                        .bind(run.id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    let end = End::Aborted(by);
                    audit(engine, starter, run, reason, &end).await;
                    return Ok(end);
                }
            }
            // Interrupted by a sweep (another replica thought this one dead), or gone.
            _ => return Ok(End::Aborted("opsbot (the run was interrupted)".into())),
        }
    }
}
