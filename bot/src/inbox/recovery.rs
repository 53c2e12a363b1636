//! The recovery sweep: at start-up and then every third of the lease, every process
//! renews the lease of the invocations it is running, takes over the unfinished ones of
//! processes that are gone, finishes them, and prunes rows past their replay window.
//!
//! "Gone": on SQLite (one process per database) every open row of another owner, at
//! once; on PostgreSQL an open row whose owner has not renewed its lease for
//! `[outbox] lease`.
//!
//! An unfinished invocation is never run again (it might have done its work already,
//! and the user may have moved on); it is answered, through the outbox, on the
//! request's own answer handle while valid (Slack `response_url`, Discord interaction
//! token), else in its channel, with the same outbox dedupe key its real reply would
//! have had (so the user never gets both):
//! * already audited (the process died between the audit write and queueing the reply):
//!   what the audit log says about it; no second audit record;
//! * not audited, and it could not have changed anything (it did not parse, or it is a
//!   destructive command, which only asks for a confirmation first): "opsbot restarted
//!   before running `restart x`; nothing was done, run it again";
//! * not audited otherwise (a confirmation, an approval, a read-only or incident
//!   command): "opsbot restarted before `X` finished; it may or may not have taken
//!   effect". Either way it is audited (decision `cancelled`, with the audit record's
//!   request id the invocation was given at acceptance) before the answer is queued and
//!   the row marked done in one transaction; a crash in between is caught by the
//!   audited case next time.

use std::{sync::Arc, time::Duration};

use opsbot_commands::{Catalog, Platform, Registry, Reply, language};
use opsbot_slack::Destination;

use super::{Delivery, Inbox, repo};
use crate::{
    audit::{AuditRecord, AuditWriter, Decision, Outcome},
    engine::Engine,
    outbox::{Lane, Operation, OutboxMessage},
    store::{Backend, StoreError, time::to_micros},
};

/// How far before its acceptance an invocation's audit record may be dated (clocks of
/// replicas differ a little).
const AUDIT_SLACK: Duration = Duration::from_secs(60);

/// What finishing an interrupted invocation needs from the engine: the command
/// language (to tell what it could have done) and the audit writer.
pub(crate) struct Judge<'a> {
    pub registry: &'a Registry,
    pub catalog: &'a Catalog,
    pub audit: &'a AuditWriter,
}

/// Starts the sweep (now, then every third of the lease) on the current runtime.
pub fn spawn_recovery(inbox: Inbox, engine: Arc<Engine>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let judge = Judge {
            registry: engine.registry(),
            catalog: engine.catalog(),
            audit: engine.audit(),
        };
        let period = (inbox.lease() / 3).max(Duration::from_millis(100));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep(&inbox, &judge).await {
                Ok(0) => {}
                Ok(recovered) => tracing::warn!(
                    recovered,
                    "answered chat invocations a stopped opsbot had acknowledged but not finished"
                ),
                Err(error) => tracing::warn!(%error, "the command inbox sweep failed; will retry"),
            }
        }
    })
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// One sweep; how many invocations were recovered.
pub(crate) async fn sweep(inbox: &Inbox, judge: &Judge<'_>) -> Result<usize, StoreError> {
    let store = inbox.store();
    let now_us = to_micros(jiff::Timestamp::now());
    let until_us = now_us.saturating_add(micros(inbox.lease()));
    repo::renew(store, inbox.owner(), until_us).await?;
    let stale_before_us = match store.backend() {
        Backend::Sqlite => i64::MAX,
        Backend::Postgres => now_us,
    };
    let rows = repo::claim_stale(store, inbox.owner(), stale_before_us, until_us).await?;
    let mut recovered = 0;
    for row in rows {
        match recover(inbox, judge, &row).await {
            Ok(()) => recovered += 1,
            Err(error) => {
                tracing::warn!(%error, platform = %row.platform, delivery = %row.delivery_id,
                    "could not answer an interrupted invocation; will retry");
                repo::release(store, &row.platform, &row.delivery_id).await?;
            }
        }
    }
    repo::prune(store, now_us).await?;
    Ok(recovered)
}

/// Why one interrupted invocation could not be finished.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecoverError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown platform {0:?}")]
    Platform(String),
    #[error("audit write failed: {0}")]
    Audit(String),
    #[error(transparent)]
    Inbox(#[from] super::InboxError),
}

async fn recover(inbox: &Inbox, judge: &Judge<'_>, row: &repo::Row) -> Result<(), RecoverError> {
    let platform = Platform::parse(&row.platform)
        .ok_or_else(|| RecoverError::Platform(row.platform.clone()))?;
    let since_us = row.accepted_at_us.saturating_sub(micros(AUDIT_SLACK));
    let reply = match repo::audited(inbox.store(), &row.request_id, since_us).await? {
        Some((decision, outcome, summary)) => Reply::info(format!(
            "opsbot restarted before it could answer `{}`",
            row.text
        ))
        .line(format!(
            "The audit log has it as {decision}, {outcome}: {summary}"
        )),
        None => {
            let (reply, record) = interrupted(judge, row);
            judge
                .audit
                .append(record)
                .await
                .map_err(|e| RecoverError::Audit(e.to_string()))?;
            reply
        }
    };
    let message = OutboxMessage {
        platform,
        channel: answer_channel(platform, row, to_micros(jiff::Timestamp::now())),
        thread_key: None,
        operation: Operation::Post,
        lane: Lane::Interactive,
        reply,
        dedupe_key: Delivery::reply_key(platform, &row.delivery_id),
    };
    inbox.finish(platform, &row.delivery_id, message).await?;
    tracing::info!(platform = %row.platform, delivery = %row.delivery_id,
        "answered an invocation interrupted by a restart");
    Ok(())
}

/// The answer and the audit record of an invocation that was not audited.
fn interrupted(judge: &Judge<'_>, row: &repo::Row) -> (Reply, AuditRecord) {
    let call = language::parse(&row.text, judge.registry, judge.catalog, None).ok();
    let nothing_done = match &call {
        None => true,
        Some(call) => call.command.is_destructive_call(call) && !call.command.is_request_control(),
    };
    let (reply, outcome, reason) = if nothing_done {
        (
            Reply::warning(format!(
                "opsbot restarted before running `{}`; nothing was done, run it again.",
                row.text
            )),
            Outcome::NotRun,
            "opsbot restarted before running it; nothing was done",
        )
    } else {
        (
            Reply::warning(format!(
                "opsbot restarted before `{}` finished; it may or may not have taken effect.",
                row.text
            ))
            .line("Check, then run it again if needed."),
            Outcome::Failed,
            "opsbot restarted before it finished; it may or may not have taken effect",
        )
    };
    let service = call.as_ref().and_then(|call| call.service);
    let record = AuditRecord {
        at: jiff::Timestamp::now(),
        request_id: row.request_id.clone(),
        platform: row.platform.clone(),
        actor_id: row.actor_id.clone(),
        actor_name: row.actor_name.clone(),
        channel: row.channel.clone(),
        thread: row.thread.clone(),
        text: row.text.clone(),
        command: call.as_ref().map(|call| call.name().to_string()),
        service: service.map(|s| s.name.to_string()),
        environment: service.map(|s| s.environment.to_string()),
        decision: Decision::Cancelled,
        reason: reason.to_string(),
        approver: None,
        outcome,
        summary: reply.summary(),
        duration_ms: 0,
    };
    (reply, record)
}

/// Where the answer goes: the request's answer handle while valid, else its channel
/// (on Slack only the actor sees it, as they saw the acknowledgement).
fn answer_channel(platform: Platform, row: &repo::Row, now_us: i64) -> String {
    if let Some(answer_to) = &row.answer_to
        && row.answer_until_us.is_none_or(|until| now_us < until)
    {
        return answer_to.clone();
    }
    match platform {
        Platform::Slack => Destination::channel(row.channel.clone())
            .in_thread(row.thread.clone())
            .only(row.actor_id.clone())
            .to_string(),
        _ => row.thread.clone().unwrap_or_else(|| row.channel.clone()),
    }
}
