//! Folding: when an incident opens for a channel that is storming (it has an open board,
//! or its queued work would take longer than its horizon to drain), its message target
//! there is folded into the channel's board instead of getting a root message. Taken in
//! the transaction that opens the incident, at the cost of one indexed lookup (the open
//! board) and, without one, one bounded count ([`super::backlog`]). The transaction that
//! opens a board also folds the incidents whose roots or thread updates still wait
//! ([`super::retract`]).
//!
//! An incident that has its own root in the channel (it opened before the storm) is
//! folded too when alerts change it while the channel storms: its thread updates would
//! cost the channel two calls (root edit, thread digest) per incident per round of
//! notifications, which a storm cannot afford (measured: 28 such threads on a Discord
//! channel kept it behind for a minute after the storm). Its root stays as it was until
//! it is unfolded (then edited, with a catch-up reply: [`super::unfold`]); its thread
//! updates not sent yet are taken back. Not one a responder is acting on (interactive
//! messages wait in its thread), nor one already unfolded from the open board (given
//! its thread on demand, it keeps it).
//!
//! A folded incident's later changes post nothing per incident: the board shows them at
//! its next edit. Pages (escalations) are the exception: who was paged is told in the
//! board's thread, on the interactive lane, so a page never waits behind the backlog.

use opsbot_commands::Platform;
use sqlx::AnyConnection;

use super::{backlog, repo, retract, settings::StormSettings};
use crate::{
    incidents::{
        model::{EventKind, Incident, IncidentEvent, thread_key},
        render,
    },
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::StoreError,
};

/// What is to be folded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Folding {
    /// An incident opening now (no root yet).
    Opening,
    /// A change, made by alerts, of an incident whose target in the channel is not
    /// folded; `last_board`: the board it was last folded into.
    Change { last_board: Option<i64> },
}

/// Folds incident `incident`'s target in `channel` into the channel's board when the
/// channel is storming (opening the board if need be); returns the board.
pub(crate) async fn fold_if_storming(
    conn: &mut AnyConnection,
    settings: &StormSettings,
    incident: i64,
    platform: Platform,
    channel: &str,
    now: jiff::Timestamp,
    folding: Folding,
) -> Result<Option<i64>, StoreError> {
    let Some(horizon) = settings.horizon(platform, channel) else {
        return Ok(None);
    };
    let open = repo::open_board(conn, platform, channel).await?;
    // Unfolded from the open board: it keeps its thread. (Whether a responder is acting
    // on it is looked at only once the channel is known to storm, below: most changes
    // are in calm channels.)
    if let Folding::Change { last_board } = folding
        && open.is_some()
        && open == last_board
    {
        return Ok(None);
    }
    let board = match open {
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
            let waiting = retract::fold_waiting(conn, board, platform, channel).await?;
            if waiting > 0 {
                tracing::info!(
                    platform = platform.as_str(),
                    channel,
                    folded = waiting,
                    "incidents whose root or thread updates had not gone out yet folded \
                     into the new storm board"
                );
            }
            board
        }
    };
    if let Folding::Change { .. } = folding {
        let thread = thread_key(incident);
        if retract::interactive_waiting(conn, platform, channel, &thread).await? {
            return Ok(None); // a responder is acting on it: its thread stays current
        }
        retract::take_back_updates(conn, platform, channel, &thread).await?;
    }
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
