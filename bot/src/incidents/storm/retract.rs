//! Folding what still waits: as a board opens, the channel's incidents whose root is
//! queued but has not gone out yet are folded into it too. The board shows them at its
//! first edit (interactive lane, within seconds); in the queue they would have waited
//! behind every root ahead of them, up to the whole horizon (a storm's first seconds
//! queue a root per incident before the backlog crosses the horizon).
//!
//! Only what certainly never reached the platform is taken back: a root row that was
//! never claimed and never attempted (a claimed one may be in flight; an attempted one
//! may have gone through unanswered). With it go the thread's other alerts-lane rows,
//! none of which can have been sent before their root. An incident with interactive
//! rows waiting in its thread (a responder is acting on it) keeps its root. On
//! PostgreSQL each incident's row is locked first, skipping one another transaction
//! holds (it is changing that incident now: its root stays queued), so a concurrent
//! change never queues a reply under a root taken back.
//!
//! A folded incident gets its root back when it is unfolded (`super::unfold`): the same
//! dedupe key, freed here, and a catch-up reply with its timeline.

use opsbot_commands::Platform;
use sqlx::AnyConnection;

use super::repo;
use crate::{incidents::model::of_thread_key, store::StoreError};

/// Folds into `board` the incidents of `channel` whose root is queued on the alerts lane
/// and certainly not sent; how many.
pub(crate) async fn fold_waiting_roots(
    conn: &mut AnyConnection,
    board: i64,
    platform: Platform,
    channel: &str,
) -> Result<usize, StoreError> {
    let postgres = !conn.backend_name().eq_ignore_ascii_case("sqlite");
    let threads: Vec<String> = sqlx::query_scalar(
        "SELECT thread_key FROM outbox WHERE state = 'pending' AND platform = $1 \
         AND channel = $2 AND lane = 'alerts' AND operation = 'post_root' \
         AND claimed_by IS NULL AND attempts = 0 AND thread_key IS NOT NULL ORDER BY id",
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
            continue; // claimed since the look
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
async fn interactive_waiting(
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

/// Deletes the thread's unsent root and then its other waiting alerts-lane rows; false
/// (nothing deleted) when the root was claimed or attempted meanwhile.
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
    if root == 0 {
        return Ok(false);
    }
    sqlx::query(
        "DELETE FROM outbox WHERE state = 'pending' AND platform = $1 AND channel = $2 \
         AND thread_key = $3 AND lane = 'alerts' AND claimed_by IS NULL",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(thread)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}
