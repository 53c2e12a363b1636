//! Folding: when an incident opens for a channel that is storming (it has an open board,
//! or its queued work would take longer than its horizon to drain), its message target
//! there is folded into the channel's board instead of getting a root message. Taken in
//! the transaction that opens the incident, at the cost of one indexed lookup (the open
//! board) and, without one, one bounded count ([`super::backlog`]). The transaction that
//! opens a board also folds the incidents whose roots still wait ([`super::retract`]).
//!
//! A folded incident's later changes post nothing per incident: the board shows them at
//! its next edit. Pages (escalations) are the exception: who was paged is told in the
//! board's thread, on the interactive lane, so a page never waits behind the backlog.

use opsbot_commands::Platform;
use sqlx::AnyConnection;

use super::{backlog, repo, retract, settings::StormSettings};
use crate::{
    incidents::{
        model::{EventKind, Incident, IncidentEvent},
        render,
    },
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::StoreError,
};

/// Folds the new incident `incident`'s target in `channel` into the channel's board when
/// the channel is storming (opening the board if need be); returns the board.
pub(crate) async fn fold_if_storming(
    conn: &mut AnyConnection,
    settings: &StormSettings,
    incident: i64,
    platform: Platform,
    channel: &str,
    now: jiff::Timestamp,
) -> Result<Option<i64>, StoreError> {
    let Some(horizon) = settings.horizon(platform, channel) else {
        return Ok(None);
    };
    let board = match repo::open_board(conn, platform, channel).await? {
        Some(board) => board,
        None => {
            let cap = backlog::calls_within(settings.rate, horizon).saturating_add(1);
            let calls = backlog::queued_calls(conn, platform, channel, cap).await?;
            if !backlog::over_horizon(calls, settings.rate, horizon) {
                return Ok(None);
            }
            tracing::info!(
                platform = platform.as_str(),
                channel,
                queued_calls = calls,
                "channel is storming; folding new incidents into a storm board"
            );
            let board = repo::open_or_create(conn, platform, channel, now).await?;
            announce(conn, board, platform, channel).await?;
            let waiting = retract::fold_waiting_roots(conn, board, platform, channel).await?;
            if waiting > 0 {
                tracing::info!(
                    platform = platform.as_str(),
                    channel,
                    folded = waiting,
                    "incidents whose root had not gone out yet folded into the new storm board"
                );
            }
            board
        }
    };
    repo::fold(conn, incident, platform, channel, board).await?;
    Ok(Some(board))
}

/// Posts the board's first message as the board opens (the keeper fills it in at its
/// next round), so pages told in its thread have a thread to go to.
async fn announce(
    conn: &mut AnyConnection,
    board: i64,
    platform: Platform,
    channel: &str,
) -> Result<(), StoreError> {
    let reply = opsbot_commands::Reply::warning(format!("🌩️ Storm board for {channel}"))
        .line("This channel fell behind: new incidents are listed here instead of getting a message each.");
    let message = OutboxMessage {
        platform,
        channel: channel.to_string(),
        thread_key: Some(repo::page_thread(board, 0)),
        operation: Operation::PostRoot,
        lane: Lane::Interactive,
        reply,
        dedupe_key: format!("storm:{board}:opening"),
    };
    Outbox::enqueue(conn, &message).await?;
    repo::first_page_posted(conn, board).await
}

/// Tells who was paged for folded incident `incident` in the thread of its board's first
/// message (nothing when `events` paged nobody).
pub(crate) async fn page_on_board(
    conn: &mut AnyConnection,
    board: i64,
    incident: &Incident,
    events: &[IncidentEvent],
    platform: Platform,
    channel: &str,
    max_listed: usize,
) -> Result<(), StoreError> {
    let pages: Vec<IncidentEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::Escalated)
        .cloned()
        .collect();
    let Some(last) = pages.last() else {
        return Ok(());
    };
    let reply = render::change(incident, &pages, max_listed);
    let message = OutboxMessage {
        platform,
        channel: channel.to_string(),
        thread_key: Some(repo::page_thread(board, 0)),
        operation: Operation::Reply,
        lane: Lane::Interactive,
        reply,
        dedupe_key: format!(
            "incident:{}:event:{}:page:{platform}:{channel}",
            incident.id, last.id
        ),
    };
    Outbox::enqueue(conn, &message).await?;
    Ok(())
}
