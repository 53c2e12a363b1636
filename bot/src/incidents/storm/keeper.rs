//! The keeper: tends every open storm board, once a second, on every replica (each board
//! in one write transaction that locks its row, so replicas take turns):
//!
//! 1. Estimates the channel's backlog ([`super::backlog`]). Back within its horizon,
//!    the most severe folded incidents still open get their own root and thread, as
//!    many as the horizon has room for.
//! 2. Renders the board from the store ([`super::board`]) and, when it changed and the
//!    last edit is `board_interval` old, posts new pages and edits the others through the
//!    outbox (interactive lane: the board never waits behind the backlog it stands for).
//! 3. When the channel is within its horizon and no open incident is left on the board,
//!    posts the final board, then a closing summary (on the alerts lane, after the roots
//!    of the incidents unfolded last), and closes it: the channel's next incident gets a
//!    root of its own again.

use opsbot_commands::{Catalog, Reply};

use super::{backlog, board, repo, unfold::unfold};
use crate::{
    incidents::{
        IncidentSettings, ingest::begin_write, model::IncidentStatus, render::lasted,
        repo as incidents_repo,
    },
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::{Store, StoreError},
};

/// How a tend went for one board.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tended {
    /// Incidents given their own thread.
    pub unfolded: usize,
    /// The board's messages were posted or edited.
    pub edited: bool,
    /// The storm is over; the board was closed.
    pub closed: bool,
}

/// Tends every open board once.
pub async fn tend_all(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    now: jiff::Timestamp,
) -> Result<Vec<Tended>, StoreError> {
    let boards = {
        let mut conn = store.pool().acquire().await?;
        repo::open_boards(&mut conn).await?
    };
    let mut out = Vec::with_capacity(boards.len());
    for board in boards {
        out.push(tend(store, settings, catalog, board, now).await?);
    }
    if out.iter().any(|t| t.edited || t.unfolded > 0 || t.closed) {
        crate::outbox::wake();
    }
    Ok(out)
}

/// Tends board `id` (see the module doc) in one write transaction.
pub async fn tend(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    id: i64,
    now: jiff::Timestamp,
) -> Result<Tended, StoreError> {
    let mut tx = begin_write(store).await?;
    let Some(board) = repo::lock_open(&mut tx, store.backend(), id).await? else {
        tx.commit().await?;
        return Ok(Tended::default());
    };
    let storm = &settings.storm;
    let mut tended = Tended::default();
    // A channel whose horizon is now off has no storm: its board empties and closes.
    let horizon = storm
        .horizon(board.platform, &board.channel)
        .unwrap_or_default();
    let cap = backlog::calls_within(storm.rate, horizon).saturating_add(1);
    let calls = backlog::queued_calls(&mut tx, board.platform, &board.channel, cap).await?;
    let over = backlog::over_horizon(calls, storm.rate, horizon);
    let mut lines = repo::lines(&mut tx, board.id).await?;
    if !over {
        board::order(&mut lines);
        let budget = backlog::unfold_budget(calls, storm.rate, horizon);
        let chosen: Vec<i64> = lines
            .iter()
            .filter(|l| l.status != IncidentStatus::Resolved)
            .take(budget)
            .map(|l| l.id)
            .collect();
        for incident_id in chosen {
            let Some(incident) =
                incidents_repo::get(&mut tx, store.backend(), incident_id, true).await?
            else {
                continue;
            };
            if unfold(
                &mut tx,
                settings,
                catalog,
                &incident,
                board.id,
                board.platform,
                &board.channel,
                Lane::Alerts,
            )
            .await?
            {
                tended.unfolded += 1;
            }
        }
        if tended.unfolded > 0 {
            lines = repo::lines(&mut tx, board.id).await?;
        }
    }
    let closing = !over && lines.iter().all(|l| l.status == IncidentStatus::Resolved);
    let pages = board::render(&board.channel, &lines, closing);
    let interval = jiff::SignedDuration::try_from(storm.board_interval).unwrap_or_default();
    let due = board
        .rendered_at
        .is_none_or(|at| now.duration_since(at) >= interval);
    if due || closing {
        tended.edited = post_pages(&mut tx, &board, &pages, now).await?;
    }
    if closing {
        let tally = repo::tally(&mut tx, board.id).await?;
        let summary = board::closing_summary(&board.channel, &lasted(board.opened_at, now), &tally);
        let message = OutboxMessage {
            platform: board.platform,
            channel: board.channel.clone(),
            thread_key: None,
            operation: Operation::Post,
            // Behind the roots of the incidents unfolded last (the channel is within its
            // horizon now): the summary is the storm's last word.
            lane: Lane::Alerts,
            reply: summary,
            dedupe_key: format!("storm:{}:closed", board.id),
        };
        Outbox::enqueue(&mut tx, &message).await?;
        repo::close(&mut tx, board.id, now).await?;
        tended.closed = true;
        tracing::info!(
            platform = board.platform.as_str(),
            channel = %board.channel,
            folded = tally.folded,
            threaded = tally.threaded,
            "storm over; storm board closed"
        );
    }
    tx.commit().await?;
    Ok(tended)
}

/// Queues the board's messages whose content changed since the last render: new pages
/// posted, existing ones edited, pages no longer needed emptied. False when nothing
/// changed.
async fn post_pages(
    conn: &mut sqlx::AnyConnection,
    board: &repo::BoardRow,
    pages: &[Reply],
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let emptied = Reply::info("🌩️ Storm board, continued: nothing more here");
    let count = board
        .pages
        .max(i64::try_from(pages.len()).unwrap_or(i64::MAX));
    let wanted: Vec<&Reply> = (0..count)
        .map(|page| {
            usize::try_from(page)
                .ok()
                .and_then(|p| pages.get(p))
                .unwrap_or(&emptied)
        })
        .collect();
    let digests: Vec<String> = wanted.iter().map(|page| board::digest(page)).collect();
    let before: Vec<&str> = board
        .rendered
        .as_deref()
        .map(|r| r.split(',').collect())
        .unwrap_or_default();
    let revision = board.revision + 1;
    let mut changed = false;
    for (page, (reply, digest)) in (0_i64..).zip(wanted.into_iter().zip(&digests)) {
        let index = usize::try_from(page).unwrap_or(usize::MAX);
        if page < board.pages && before.get(index) == Some(&digest.as_str()) {
            continue;
        }
        let operation = if page < board.pages {
            Operation::EditRoot
        } else {
            Operation::PostRoot
        };
        let message = OutboxMessage {
            platform: board.platform,
            channel: board.channel.clone(),
            thread_key: Some(repo::page_thread(board.id, page)),
            operation,
            lane: Lane::Interactive,
            reply: reply.clone(),
            dedupe_key: format!("storm:{}:r{revision}:p{page}", board.id),
        };
        Outbox::enqueue(conn, &message).await?;
        changed = true;
    }
    if changed {
        repo::rendered(conn, board.id, &digests.join(","), count, now).await?;
    }
    Ok(changed)
}
