//! The keeper: tends every open storm board, once a second, on every replica. Each round
//! looks on a reader first (while a storm lasts, most rounds change nothing and take no
//! write lock); when there is something to do, one write transaction locks the board's
//! row (replicas take turns; one that tended it since the look leaves it to the next
//! round):
//!
//! 1. Estimates the channel's backlog ([`super::backlog`]). Back within its horizon,
//!    once the storm has subsided (no open incident on the board changed for a
//!    horizon: [`subsided`]), the most severe folded incidents still open get their
//!    own root and thread, as many as the horizon has room for (and so do resolved
//!    ones whose own root, posted before they folded, still shows them firing:
//!    [`board::BoardLine::to_unfold`]).
//! 2. Renders the board from the store ([`super::board`]) and, when it changed and the
//!    last edit is `board_interval` old (two seconds when incidents folded since:
//!    [`NEW_LINE_INTERVAL`]), posts new pages and edits the others through the outbox
//!    (interactive lane: the board never waits behind the backlog it stands for).
//! 3. When the channel is within its horizon and nothing is left on the board to unfold,
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
        let mut conn = store.read_pool().acquire().await?;
        repo::open_boards(&mut conn).await?
    };
    let mut out = Vec::with_capacity(boards.len());
    for board in boards {
        out.push(tend(store, settings, catalog, board, now).await?);
    }
    let rescued = rescue_stranded(store, settings, catalog, now).await?;
    if rescued > 0 {
        out.push(Tended {
            unfolded: rescued,
            ..Tended::default()
        });
    }
    if out.iter().any(|t| t.edited || t.unfolded > 0 || t.closed) {
        crate::outbox::wake();
    }
    Ok(out)
}

/// How far back [`rescue_stranded`] looks for boards that closed.
const RESCUE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// Gives their own root and thread to open incidents folded into a board as it closed
/// (a replica folding into it while another closed it, on PostgreSQL): nothing stays
/// invisible on a closed board. A look on a reader; a write only when there are some.
async fn rescue_stranded(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    now: jiff::Timestamp,
) -> Result<usize, StoreError> {
    let since = now.checked_sub(RESCUE_WINDOW).unwrap_or(now);
    let found = {
        let mut conn = store.read_pool().acquire().await?;
        repo::stranded(&mut conn, since).await?
    };
    if found.is_empty() {
        return Ok(0);
    }
    let mut tx = begin_write(store).await?;
    let mut rescued = 0;
    for (incident_id, board, platform, channel) in found {
        let Some(platform) = opsbot_commands::Platform::parse(&platform) else {
            continue;
        };
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
            board,
            platform,
            &channel,
            Lane::Alerts,
        )
        .await?
        {
            rescued += 1;
        }
    }
    tx.commit().await?;
    if rescued > 0 {
        tracing::warn!(
            rescued,
            "gave incidents folded into a closing storm board their own thread"
        );
    }
    Ok(rescued)
}

/// What a look at a board on a reader found worth a write transaction.
struct Look {
    revision: i64,
    calls: u64,
    over: bool,
    lines: Vec<board::BoardLine>,
}

/// Looks at board `board` on a reader: `None` when this round has nothing to write (most
/// rounds of a storm), so SQLite's single writer is not taken for them.
async fn look(
    conn: &mut sqlx::AnyConnection,
    settings: &IncidentSettings,
    board: &repo::BoardRow,
    now: jiff::Timestamp,
) -> Result<Option<Look>, StoreError> {
    let storm = &settings.storm;
    // A channel whose horizon is now off has no storm: its board empties and closes.
    let horizon = storm
        .horizon(board.platform, &board.channel)
        .unwrap_or_default();
    let cap = backlog::calls_within(storm.rate, horizon).saturating_add(1);
    let calls = backlog::queued_calls(conn, board.platform, &board.channel, cap).await?;
    let over = backlog::over_horizon(calls, storm.rate, horizon);
    let mut due = is_due(board, settings, now, false);
    if !due && is_due(board, settings, now, true) {
        due = repo::newest_line(conn, board.id).await? > board.shown_through;
    }
    if over && !due {
        return Ok(None);
    }
    let mut lines = repo::lines(conn, board.id).await?;
    board::order(&mut lines);
    let left = lines.iter().any(board::BoardLine::to_unfold);
    let unfolds = !over
        && subsided(&lines, horizon, now)
        && left
        && backlog::unfold_budget(calls, storm.rate, horizon) > 0;
    let closing = !over && !left;
    let changed = due && {
        let pages = board::render(&board.channel, &lines, closing);
        let (_, digests) = page_plan(board, &pages);
        board.rendered.as_deref() != Some(digests.join(",").as_str())
    };
    let worth = unfolds || closing || changed;
    Ok(worth.then_some(Look {
        revision: board.revision,
        calls,
        over,
        lines,
    }))
}

/// Whether the storm behind a board has subsided: none of its open incidents changed
/// for a horizon. Only then do its incidents get their own threads by themselves: the
/// board's own folding brings the channel back within its horizon at once, and threads
/// handed out while alerts still pour in would give it back the per-incident traffic
/// the board absorbs (measured in the storm benchmark: the keeper unfolded incidents
/// seconds after they folded, their roots queued for 10–20 s and their threads were
/// still catching up 90 s after the storm). On demand (a button, `incident show`, a
/// responder acting on one) an incident gets its thread at any time.
fn subsided(
    lines: &[board::BoardLine],
    horizon: std::time::Duration,
    now: jiff::Timestamp,
) -> bool {
    let quiet = jiff::SignedDuration::try_from(horizon).unwrap_or_default();
    lines
        .iter()
        .filter(|l| l.status != IncidentStatus::Resolved)
        .all(|l| now.duration_since(l.changed_at) >= quiet)
}

/// The shortest time between two edits of a board that gained incidents since its last
/// render (`board_interval` when that is shorter): a folded incident must show within
/// seconds, while counts alone can wait for `board_interval`. Two seconds leave half a
/// Slack channel's calls to the threads of the incidents already shown while new ones
/// keep folding.
const NEW_LINE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether board `board` may be edited now: `board_interval` after its last render, or
/// [`NEW_LINE_INTERVAL`] after it when it shows `fresh` incidents.
fn is_due(
    board: &repo::BoardRow,
    settings: &IncidentSettings,
    now: jiff::Timestamp,
    fresh: bool,
) -> bool {
    let interval = match fresh {
        true => settings.storm.board_interval.min(NEW_LINE_INTERVAL),
        false => settings.storm.board_interval,
    };
    let interval = jiff::SignedDuration::try_from(interval).unwrap_or_default();
    board
        .rendered_at
        .is_none_or(|at| now.duration_since(at) >= interval)
}

/// Tends board `id` (see the module doc): a look on a reader, then, when there is
/// something to do, one write transaction that locks the board's row.
pub async fn tend(
    store: &Store,
    settings: &IncidentSettings,
    catalog: &Catalog,
    id: i64,
    now: jiff::Timestamp,
) -> Result<Tended, StoreError> {
    let look = {
        let mut conn = store.read_pool().acquire().await?;
        match repo::board(&mut conn, store.backend(), id, false).await? {
            Some(board) => look(&mut conn, settings, &board, now).await?,
            None => None,
        }
    };
    let Some(look) = look else {
        return Ok(Tended::default());
    };
    let mut tx = begin_write(store).await?;
    let board = match repo::board(&mut tx, store.backend(), id, true).await? {
        // Another replica tended it since the look: next round.
        Some(board) if board.revision == look.revision => board,
        _ => {
            tx.commit().await?;
            return Ok(Tended::default());
        }
    };
    let storm = &settings.storm;
    let horizon = storm
        .horizon(board.platform, &board.channel)
        .unwrap_or_default();
    let mut tended = Tended::default();
    let mut lines = look.lines;
    if !look.over && subsided(&lines, horizon, now) {
        let budget = backlog::unfold_budget(look.calls, storm.rate, horizon);
        let chosen: Vec<i64> = lines
            .iter()
            .filter(|l| l.to_unfold())
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
    }
    if !look.over {
        // What the transaction sees: the unfolded gone, anything folded since the look.
        lines = repo::lines(&mut tx, board.id).await?;
    }
    let closing = !look.over && !lines.iter().any(board::BoardLine::to_unfold);
    let pages = board::render(&board.channel, &lines, closing);
    let newest = lines.iter().map(|l| l.id).max().unwrap_or(0);
    if is_due(&board, settings, now, newest > board.shown_through) || closing {
        tended.edited = post_pages(&mut tx, &board, &pages, newest, now).await?;
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

/// The messages a render needs (pages no longer needed emptied) and their digests.
fn page_plan(board: &repo::BoardRow, pages: &[Reply]) -> (Vec<Reply>, Vec<String>) {
    let emptied = Reply::info("🌩️ Storm board, continued: nothing more here");
    let count = board
        .pages
        .max(i64::try_from(pages.len()).unwrap_or(i64::MAX));
    let wanted: Vec<Reply> = (0..count)
        .map(|page| {
            usize::try_from(page)
                .ok()
                .and_then(|p| pages.get(p))
                .unwrap_or(&emptied)
                .clone()
        })
        .collect();
    let digests = wanted.iter().map(board::digest).collect();
    (wanted, digests)
}

/// Queues the board's messages whose content changed since the last render: new pages
/// posted, existing ones edited, pages no longer needed emptied; `newest`: the newest
/// incident they show. False when nothing changed.
async fn post_pages(
    conn: &mut sqlx::AnyConnection,
    board: &repo::BoardRow,
    pages: &[Reply],
    newest: i64,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let (wanted, digests) = page_plan(board, pages);
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
            reply,
            dedupe_key: format!("storm:{}:r{revision}:p{page}", board.id),
        };
        Outbox::enqueue(conn, &message).await?;
        changed = true;
    }
    if changed {
        let count = i64::try_from(digests.len()).unwrap_or(i64::MAX);
        repo::rendered(conn, board.id, &digests.join(","), count, newest, now).await?;
    }
    Ok(changed)
}
