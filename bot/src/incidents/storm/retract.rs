//! Folding what still waits: as a board opens, the channel's incidents whose root or
//! thread updates are queued but have not gone out yet are folded into it too. The
//! board shows them at its first edit (interactive lane, within seconds); in the queue
//! they would have waited behind every call ahead of them, up to the whole horizon (a
//! storm's first seconds queue a root per incident, and an update per incident posted
//! before it, until the backlog crosses the horizon).
//!
//! Only what certainly never reached the platform is taken back: a row never claimed
//! (a claimed one may be in flight), and for a root, never attempted either (an
//! attempted one may have gone through unanswered; it stays queued, so the incident
//! never gets two roots). A thread update taken back is not lost: unfolding edits the
//! root to its current content and tells the thread its timeline (`super::unfold`). An
//! incident with interactive rows waiting in its thread (a responder is acting on it)
//! keeps everything. On PostgreSQL each incident's row is locked first, skipping one
//! another transaction holds (it is changing that incident now: its rows stay queued),
//! so a concurrent change never queues a reply under a root taken back.
//!
//! A folded incident whose root was taken back gets it when it is unfolded: the same
//! dedupe key, freed here.

use opsbot_commands::Platform;
use sqlx::AnyConnection;

use super::repo;
use crate::{incidents::model::of_thread_key, store::StoreError};

/// Folds into `board` the incidents of `channel` with a root or thread update queued on
/// the alerts lane and certainly not sent; how many.
pub(crate) async fn fold_waiting(
    conn: &mut AnyConnection,
    board: i64,
    platform: Platform,
    channel: &str,
) -> Result<usize, StoreError> {
    let postgres = !conn.backend_name().eq_ignore_ascii_case("sqlite");
    let threads: Vec<String> = sqlx::query_scalar(
        "SELECT thread_key FROM outbox WHERE state = 'pending' AND platform = $1 \
         AND channel = $2 AND lane = 'alerts' AND claimed_by IS NULL \
         AND thread_key LIKE 'incident:%' GROUP BY thread_key ORDER BY MIN(id)",
    )
    .bind(platform.as_str())
    .bind(channel)
    .fetch_all(&mut *conn)
    .await?;
    let mut folded = 0;
    for thread in threads {
        let Some(incident) = of_thread_key(&thread) else {
            continue;
        };
        if postgres && !lock_incident(conn, incident).await? {
            continue;
        }
        if interactive_waiting(conn, platform, channel, &thread).await? {
            continue;
        }
        if !take_back(conn, platform, channel, &thread).await? {
            continue; // claimed since the look, or only an attempted root waits
        }
        repo::fold(conn, incident, platform, channel, board).await?;
        folded += 1;
    }
    Ok(folded)
}

/// Locks incident `id`'s row unless another transaction holds it (PostgreSQL).
async fn lock_incident(conn: &mut AnyConnection, id: i64) -> Result<bool, StoreError> {
    let locked: Option<i64> =
        sqlx::query_scalar("SELECT id FROM incidents WHERE id = $1 FOR UPDATE SKIP LOCKED")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(locked.is_some())
}

/// Whether interactive-lane messages wait in the thread (a responder's, on demand).
pub(crate) async fn interactive_waiting(
    conn: &mut AnyConnection,
    platform: Platform,
    channel: &str,
    thread: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM outbox WHERE state = 'pending' AND platform = $1 AND channel = $2 \
         AND thread_key = $3 AND lane = 'interactive' LIMIT 1",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(thread)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Deletes the thread's unsent root (never claimed nor attempted) and its unsent
/// thread updates; false when nothing was deleted.
async fn take_back(
    conn: &mut AnyConnection,
    platform: Platform,
    channel: &str,
    thread: &str,
) -> Result<bool, StoreError> {
    let root = sqlx::query(
        "DELETE FROM outbox WHERE state = 'pending' AND platform = $1 AND channel = $2 \
         AND thread_key = $3 AND lane = 'alerts' AND operation = 'post_root' \
         AND claimed_by IS NULL AND attempts = 0",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(thread)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let updates = take_back_updates(conn, platform, channel, thread).await?;
    Ok(root + updates > 0)
}

/// Deletes the thread's alerts-lane updates (root edits, replies) never claimed; how
/// many. Its root, if still queued, stays.
pub(crate) async fn take_back_updates(
    conn: &mut AnyConnection,
    platform: Platform,
    channel: &str,
    thread: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM outbox WHERE state = 'pending' AND platform = $1 AND channel = $2 \
         AND thread_key = $3 AND lane = 'alerts' AND operation <> 'post_root' \
         AND claimed_by IS NULL",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(thread)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
