//! Turning a change of an incident into outbox messages, inside the transaction that
//! made the change: the root message (posted on opening, edited on every change) and one
//! thread reply per change, on every platform and channel the incident is posted in.
//!
//! A change made by a command typed (or a button pressed) in the incident's own thread
//! gets no thread reply on that platform and channel: the command's reply is the thread's
//! account of it (one action, one answer); the root is still edited.
//!
//! In a channel whose incidents are folded into a storm board ([`super::storm`]) nothing
//! is posted per incident, except who was paged (in the board's thread). A storming
//! channel folds a new incident, and the incident with its own root that alerts change
//! ([`Cause::Alerts`]); a responder's or the clock's change stays in the thread.
//!
//! Dedupe keys (unique per logical message, so a retried transaction or delivery never
//! posts twice): `incident:ID:root:PLATFORM:CHANNEL` for the root,
//! `incident:ID:event:EVENT:edit:PLATFORM:CHANNEL` and
//! `incident:ID:event:EVENT:reply:PLATFORM:CHANNEL` for a change whose newest timeline
//! event is `EVENT`. Thread key: `incident:ID`.

use opsbot_commands::{Catalog, Platform};
use sqlx::AnyConnection;

use super::{
    model::{EventKind, Incident, IncidentEvent},
    render, repo,
    settings::IncidentSettings,
    storm,
};
use crate::{
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::StoreError,
};

/// Who made a change: where it is told depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause<'a> {
    /// Alerts (a notification from Alertmanager or a webhook). In a storming channel
    /// the change of an incident that has its own root there is folded into the
    /// channel's storm board with the incident ([`storm::fold`]): during a storm the
    /// board, not one thread per incident, tells what the alerts do.
    Alerts,
    /// The bot's own clock (an escalation step).
    Clock,
    /// A responder's command or button. `answered`: the platform and channel whose
    /// incident thread already has the actor's own answer to this change, which gets no
    /// thread reply.
    Responder {
        answered: Option<(Platform, &'a str)>,
    },
}

/// Enqueues the messages of one change of `incident` (already written), made by
/// `cause`. `opened`: the root is posted rather than edited.
pub(crate) async fn publish(
    conn: &mut AnyConnection,
    settings: &IncidentSettings,
    catalog: &Catalog,
    incident: &Incident,
    opened: bool,
    events: &[IncidentEvent],
    cause: Cause<'_>,
) -> Result<(), StoreError> {
    let answered = match cause {
        Cause::Responder { answered } => answered,
        Cause::Alerts | Cause::Clock => None,
    };
    // Where the incident is folded into a storm board (or is folded now, opening in a
    // storming channel), nothing is posted per incident: the board shows it.
    let mut targets: Vec<(Platform, String)> = Vec::new();
    for target in repo::message_targets(conn, incident.id).await? {
        let Some(platform) = Platform::parse(&target.platform) else {
            continue;
        };
        let channel = target.channel;
        if let Some(closed_board) = target.stranded_on {
            // Left on a board that closed: its own root and thread now, with its story.
            storm::unfold::unfold(
                conn,
                settings,
                catalog,
                incident,
                closed_board,
                platform,
                &channel,
                crate::outbox::Lane::Alerts,
            )
            .await?;
            continue;
        }
        let folding = match (opened, cause) {
            (true, _) => Some(storm::fold::Folding::Opening),
            (false, Cause::Alerts) => Some(storm::fold::Folding::Change {
                last_board: target.last_board,
            }),
            (false, Cause::Clock | Cause::Responder { .. }) => None,
        };
        let board = match (target.folded_into, folding) {
            (Some(board), _) => Some(board),
            (None, Some(folding)) => {
                storm::fold::fold_if_storming(
                    conn,
                    &settings.storm,
                    incident.id,
                    platform,
                    &channel,
                    incident.changed_at,
                    folding,
                )
                .await?
            }
            (None, None) => None,
        };
        match board {
            Some(board) => {
                storm::fold::page_on_board(
                    conn,
                    board,
                    incident,
                    events,
                    platform,
                    &channel,
                    settings.max_listed_alerts,
                )
                .await?;
            }
            None => targets.push((platform, channel)),
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let tally = repo::alert_tally(conn, incident.id).await?;
    let listed = repo::listed_alerts(conn, incident.id, settings.max_listed_alerts).await?;
    let root = render::root(incident, &tally, &listed, catalog, settings.investigate);
    // On opening the root says it all; the thread gets only what the root does not show
    // (who was paged, why it is silenced).
    let thread_events: Vec<IncidentEvent> = if opened {
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Escalated | EventKind::Silenced))
            .cloned()
            .collect()
    } else {
        events.to_vec()
    };
    let last_event = events.last().map_or(0, |e| e.id);
    let thread_key = incident.thread_key();
    for (platform, channel) in targets {
        let message = |operation, reply, dedupe_key| OutboxMessage {
            platform,
            channel: channel.clone(),
            thread_key: Some(thread_key.clone()),
            operation,
            lane: Lane::Alerts,
            reply,
            dedupe_key,
        };
        let id = incident.id;
        let root_message = if opened {
            message(
                Operation::PostRoot,
                root.clone(),
                format!("incident:{id}:root:{platform}:{channel}"),
            )
        } else {
            message(
                Operation::EditRoot,
                root.clone(),
                format!("incident:{id}:event:{last_event}:edit:{platform}:{channel}"),
            )
        };
        Outbox::enqueue(conn, &root_message).await?;
        if !thread_events.is_empty() && answered != Some((platform, channel.as_str())) {
            let reply = render::change(incident, &thread_events, settings.max_listed_alerts);
            let reply_message = message(
                Operation::Reply,
                reply,
                format!("incident:{id}:event:{last_event}:reply:{platform}:{channel}"),
            );
            Outbox::enqueue(conn, &reply_message).await?;
        }
    }
    Ok(())
}
