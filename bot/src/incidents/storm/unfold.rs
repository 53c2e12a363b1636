//! Unfolding: a folded incident gets its own root message and thread in its channel,
//! posted with its current content, and a first thread reply that catches up on what
//! happened while it was on the board. On demand (its board button or `incident show`,
//! a responder acting on it: the interactive lane, so it comes before the backlog) or
//! as the storm subsides (the keeper; the alerts lane).
//!
//! The root's dedupe key is the one it would have had at opening
//! (`incident:ID:root:PLATFORM:CHANNEL`), so an incident never gets two roots. An
//! incident folded with its root already out (folded by a change during the storm, or
//! its root in flight as the board opened) has its root edited to its current content
//! instead (`incident:ID:unfolded:BOARD:edit:PLATFORM:CHANNEL`; queued behind a root
//! still waiting, the outbox posts the two as one call).

use opsbot_commands::{Catalog, Platform, Reply};
use sqlx::AnyConnection;

use super::repo;
use crate::{
    incidents::{model::Incident, render, repo as incidents_repo, settings::IncidentSettings},
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::StoreError,
};

/// Unfolds `incident` in `channel` (its target there was folded into `board`); false
/// when it was not folded any more.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn unfold(
    conn: &mut AnyConnection,
    settings: &IncidentSettings,
    catalog: &Catalog,
    incident: &Incident,
    board: i64,
    platform: Platform,
    channel: &str,
    lane: Lane,
) -> Result<bool, StoreError> {
    if !repo::unfold(conn, incident.id, platform, channel).await? {
        return Ok(false);
    }
    let tally = incidents_repo::alert_tally(conn, incident.id).await?;
    let listed =
        incidents_repo::listed_alerts(conn, incident.id, settings.max_listed_alerts).await?;
    let limit = i64::try_from(settings.max_listed_alerts).unwrap_or(i64::MAX);
    let events = incidents_repo::events(conn, incident.id, limit).await?;
    let id = incident.id;
    let message = |operation, reply, dedupe_key| OutboxMessage {
        platform,
        channel: channel.to_string(),
        thread_key: Some(incident.thread_key()),
        operation,
        lane,
        reply,
        dedupe_key,
    };
    let root = render::root(incident, &tally, &listed, catalog, settings.investigate);
    let posted = Outbox::enqueue(
        conn,
        &message(
            Operation::PostRoot,
            root.clone(),
            format!("incident:{id}:root:{platform}:{channel}"),
        ),
    )
    .await?;
    if !posted {
        Outbox::enqueue(
            conn,
            &message(
                Operation::EditRoot,
                root,
                format!("incident:{id}:unfolded:{board}:edit:{platform}:{channel}"),
            ),
        )
        .await?;
    }
    let mut catch_up = Reply::info(format!(
        "Incident #{id} was on the storm board until now; its timeline so far"
    ));
    for event in &events {
        catch_up = catch_up.line(format!(
            "{} {}",
            event.at.strftime("%H:%M:%S"),
            render::event_line(event)
        ));
    }
    Outbox::enqueue(
        conn,
        &message(
            Operation::Reply,
            catch_up,
            format!("incident:{id}:unfolded:{board}:{platform}:{channel}"),
        ),
    )
    .await?;
    Ok(true)
}

/// Unfolds `incident` wherever it is folded; how many places.
pub(crate) async fn unfold_everywhere(
    conn: &mut AnyConnection,
    settings: &IncidentSettings,
    catalog: &Catalog,
    incident: &Incident,
    lane: Lane,
) -> Result<usize, StoreError> {
    let mut done = 0;
    for target in incidents_repo::message_targets(conn, incident.id).await? {
        let (Some(board), Some(platform)) = (target.folded_into, Platform::parse(&target.platform))
        else {
            continue;
        };
        if unfold(
            conn,
            settings,
            catalog,
            incident,
            board,
            platform,
            &target.channel,
            lane,
        )
        .await?
        {
            done += 1;
        }
    }
    Ok(done)
}
