//! What people see of a run: one living message (posted when the run starts, edited on
//! every change of a step), and replies in its thread (a command's answer, a manual
//! step's instruction with Done and Skip, notices, how the run ended). Every message is
//! queued in the transaction that made the change it shows.
//!
//! Thread key `runbook-run:ID`; dedupe keys `runbook-run:ID:root` and
//! `runbook-run:ID:{edit,reply,post}:UUID` (one per change).
//!
//! A run started for an incident (an automation's) reports in the incident's thread
//! instead (the run's `thread` is the incident's thread key `incident:N`): a message in
//! a thread cannot be a thread root of its own, so there the living message is posted
//! once as the run starts, each step that ended is a reply of its own
//! (`runbook-run:ID:step:N:STATE`, queued once however often the run is published), and
//! everything else (answers, a manual step's buttons, how the run ended) is a reply there
//! too.

use opsbot_commands::{
    Platform, Reply, Status,
    runbooks::{RunView, StepView, step_line},
};
use sqlx::AnyConnection;

use super::repo::{self, RunRow, StepRow};
use crate::{
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::StoreError,
};

/// The outbox thread of run `id`.
pub fn thread_key(id: i64) -> String {
    format!("runbook-run:{id}")
}

/// A run and its steps as the `runbook` command shows them.
pub fn view(run: &RunRow, steps: &[StepRow]) -> RunView {
    let main = steps.iter().filter(|s| !s.rollback).count() as i64;
    RunView {
        id: run.id,
        runbook: run.runbook.clone(),
        state: run.state.clone(),
        started_by: run.starter.label(),
        started_at: run.started_at,
        params: run.params.clone(),
        steps: steps
            .iter()
            .map(|step| StepView {
                index: if step.rollback {
                    (step.position - main) as usize
                } else {
                    step.position as usize
                },
                kind: step.kind.clone(),
                what: step.description.clone(),
                state: step.state.clone(),
                detail: step.detail.clone(),
                rollback: step.rollback,
            })
            .collect(),
    }
}

/// The run's view, read on `conn` (inside the caller's transaction).
pub async fn load(conn: &mut AnyConnection, id: i64) -> Result<Option<RunView>, StoreError> {
    let Some(run) = repo::run(conn, id).await? else {
        return Ok(None);
    };
    let steps = repo::steps(conn, id).await?;
    Ok(Some(view(&run, &steps)))
}

/// How a change shows in chat besides the living message.
pub enum Extra {
    Nothing,
    /// A reply in the run's thread.
    InThread(Reply),
    /// A message in another channel of the run's platform.
    InChannel(String, Reply),
}

/// Queues the living message as it is now (`first`: posted, else edited) and `extra`.
pub async fn publish(
    conn: &mut AnyConnection,
    id: i64,
    first: bool,
    extra: Extra,
) -> Result<(), StoreError> {
    let Some(run) = repo::run(conn, id).await? else {
        return Ok(());
    };
    let steps = repo::steps(conn, id).await?;
    let Some(platform) = Platform::parse(&run.platform) else {
        return Ok(());
    };
    let shown = view(&run, &steps);
    let key = thread_key(id);
    if let Some(incident_thread) = run
        .thread
        .as_deref()
        .filter(|t| crate::incidents::model::of_thread_key(t).is_some())
    {
        return publish_in_incident_thread(
            conn,
            &run,
            platform,
            &shown,
            first,
            extra,
            incident_thread,
        )
        .await;
    }
    let root = shown.reply();
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let message =
        |channel: &str, thread: Option<String>, operation, reply, dedupe_key| OutboxMessage {
            platform,
            channel: channel.to_string(),
            thread_key: thread,
            operation,
            lane: Lane::Interactive,
            reply,
            dedupe_key,
        };
    let root = if first {
        message(
            &run.channel,
            Some(key.clone()),
            Operation::PostRoot,
            root,
            format!("{key}:root"),
        )
    } else {
        message(
            &run.channel,
            Some(key.clone()),
            Operation::EditRoot,
            root,
            format!("{key}:edit:{unique}"),
        )
    };
    Outbox::enqueue(conn, &root).await?;
    match extra {
        Extra::Nothing => {}
        Extra::InThread(reply) => {
            let reply = message(
                &run.channel,
                Some(key.clone()),
                Operation::Reply,
                reply,
                format!("{key}:reply:{unique}"),
            );
            Outbox::enqueue(conn, &reply).await?;
        }
        Extra::InChannel(channel, reply) => {
            let post = message(
                &channel,
                None,
                Operation::Post,
                reply,
                format!("{key}:post:{unique}"),
            );
            Outbox::enqueue(conn, &post).await?;
        }
    }
    Ok(())
}

/// [`publish`] for a run reporting in an incident's thread (`incident_thread`).
async fn publish_in_incident_thread(
    conn: &mut AnyConnection,
    run: &RunRow,
    platform: Platform,
    view: &RunView,
    first: bool,
    extra: Extra,
    incident_thread: &str,
) -> Result<(), StoreError> {
    let key = thread_key(run.id);
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let reply = |reply: Reply, dedupe_key: String| OutboxMessage {
        platform,
        channel: run.channel.clone(),
        thread_key: Some(incident_thread.to_string()),
        operation: Operation::Reply,
        lane: Lane::Interactive,
        reply,
        dedupe_key,
    };
    if first {
        Outbox::enqueue(conn, &reply(view.reply(), format!("{key}:root"))).await?;
    }
    let main = view.steps.iter().filter(|s| !s.rollback).count();
    for step in view.steps.iter().filter(|s| step_ended(&s.state)) {
        let status = match step.state.as_str() {
            "ok" => Status::Success,
            "skipped" => Status::Info,
            "failed" | "interrupted" => Status::Danger,
            _ => Status::Warning,
        };
        let of = if step.rollback {
            format!("rollback step {}/{}", step.index, view.steps.len() - main)
        } else {
            format!("step {}/{main}", step.index)
        };
        let text = Reply::new(
            status,
            format!("Runbook `{}` run #{} {of}", view.runbook, view.id),
        )
        .line(step_line(step));
        let position = if step.rollback {
            main + step.index
        } else {
            step.index
        };
        let dedupe = format!("{key}:step:{position}:{}", step.state);
        Outbox::enqueue(conn, &reply(text, dedupe)).await?;
    }
    match extra {
        Extra::Nothing => {}
        Extra::InThread(said) => {
            Outbox::enqueue(conn, &reply(said, format!("{key}:reply:{unique}"))).await?;
        }
        Extra::InChannel(channel, said) => {
            let post = OutboxMessage {
                platform,
                channel,
                thread_key: None,
                operation: Operation::Post,
                lane: Lane::Interactive,
                reply: said,
                dedupe_key: format!("{key}:post:{unique}"),
            };
            Outbox::enqueue(conn, &post).await?;
        }
    }
    Ok(())
}

/// Whether a step in `state` is over (reported once in an incident's thread).
fn step_ended(state: &str) -> bool {
    matches!(
        state,
        "ok" | "failed" | "skipped" | "aborted" | "interrupted"
    )
}
