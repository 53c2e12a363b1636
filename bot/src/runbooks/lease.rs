//! Runs outlive their process only as records. A process renews the lease of each run it
//! drives; the sweep (every process, every third of a lease) marks an active run whose
//! lease lapsed — its process died or lost the store — `interrupted`, with the step that
//! was in flight, says so in the run's thread, and audits it. Nothing is run again:
//! whether to start over is a person's decision.

use std::sync::Arc;

use opsbot_commands::Reply;

use super::{Inner, actor_of, repo, report};
use crate::store::{StoreError, time::to_micros};

pub(super) async fn maintain(inner: Arc<Inner>) {
    let period = inner.lease / 3;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = renew(&inner).await {
            tracing::warn!(%error, "renewing runbook run leases failed; will retry");
        }
        match sweep(&inner).await {
            Ok(0) => {}
            Ok(interrupted) => tracing::warn!(interrupted, "runbook runs interrupted"),
            Err(error) => tracing::warn!(%error, "sweeping runbook runs failed; will retry"),
        }
    }
}

async fn renew(inner: &Inner) -> Result<(), StoreError> {
    let live: Vec<i64> = match inner.live.lock() {
        Ok(live) => live.keys().copied().collect(),
        Err(_) => return Ok(()),
    };
    if live.is_empty() {
        return Ok(());
    }
    let until = to_micros(jiff::Timestamp::now()).saturating_add(inner.lease.as_micros() as i64);
    for id in live {
        sqlx::query(
            "UPDATE runbook_runs SET lease_until_us = $1, owner = $2 \
             WHERE id = $3 AND state IN ('running', 'waiting')",
        )
        .bind(until)
        .bind(inner.owner.as_str())
        .bind(id)
        .execute(inner.store.pool())
        .await?;
    }
    Ok(())
}

/// Marks every active run whose lease lapsed interrupted; how many.
pub(super) async fn sweep(inner: &Inner) -> Result<usize, StoreError> {
    let now = jiff::Timestamp::now();
    let mut interrupted = 0;
    for id in repo::lapsed(&inner.store, to_micros(now)).await? {
        let live = inner
            .live
            .lock()
            .map(|l| l.contains_key(&id))
            .unwrap_or(false);
        if live {
            continue; // ours, only late: the next renewal fixes it
        }
        let mut tx = inner.store.pool().begin().await?;
        if !repo::move_run(&mut tx, id, "interrupted", now).await? {
            continue; // someone else's sweep took it
        }
        let positions = repo::interrupt_steps(&mut tx, id, now).await?;
        let run = repo::run(&mut tx, id).await?;
        let steps = repo::steps(&mut tx, id).await?;
        let in_flight: Vec<String> = steps
            .iter()
            .filter(|s| positions.contains(&s.position))
            .map(|s| format!("step {} ({})", s.position, s.description))
            .collect();
        let what = if in_flight.is_empty() {
            "between two steps".to_string()
        } else {
            format!("while {} was in flight", in_flight.join(", "))
        };
        let notice = Reply::danger(format!("Run #{id} was interrupted"))
            .line(format!(
                "opsbot stopped {what}; that step is marked interrupted and nothing was run again."
            ))
            .line(
                "Check the service (its state may be anything), then start the runbook again if it is still needed.",
            );
        report::publish(&mut tx, id, false, report::Extra::InThread(notice)).await?;
        tx.commit().await?;
        crate::outbox::wake();
        interrupted += 1;
        if let (Some(run), Some(engine)) =
            (run, inner.engine.get().and_then(std::sync::Weak::upgrade))
            && let Some(actor) = actor_of(&run.starter)
        {
            let mut invocation = opsbot_commands::Invocation::new(
                actor,
                run.channel.clone(),
                format!("runbook run {}", run.runbook),
            );
            invocation.thread = run.thread.clone();
            engine
                .audit_step(
                    &invocation,
                    &run.request_id,
                    Some(false),
                    format!("runbook `{}` run #{id} interrupted", run.runbook),
                    format!("interrupted {what}; not run again"),
                )
                .await;
        }
    }
    Ok(interrupted)
}
