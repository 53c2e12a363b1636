//! The SQL of storm boards: the `storm_boards` rows and which incident message targets
//! (`incident_messages.storm_board`, `.folded`) are folded into which board. Every
//! function takes the connection it runs on (the caller's write transaction for
//! changes).

use opsbot_commands::Platform;
use sqlx::{AnyConnection, Row};

use super::board::{BoardLine, StormTally};
use crate::{
    incidents::model::IncidentStatus,
    store::{Backend, StoreError, time::from_micros},
};

/// A board as its row holds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BoardRow {
    pub id: i64,
    pub platform: Platform,
    pub channel: String,
    pub opened_at: jiff::Timestamp,
    /// Board messages posted so far (`storm:ID:0` …).
    pub pages: i64,
    pub revision: i64,
    pub rendered: Option<String>,
    pub rendered_at: Option<jiff::Timestamp>,
    /// The newest incident the last render showed (0: none).
    pub shown_through: i64,
}

/// SQL: incident `i`'s target `m` has a root message of its own, sent or queued (its
/// outbox row, by the root's dedupe key `incident:ID:root:PLATFORM:CHANNEL`, see
/// `crate::incidents::notify`).
const HAS_ROOT: &str = "EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = \
    'incident:' || CAST(i.id AS TEXT) || ':root:' || m.platform || ':' || m.channel)";

/// The outbox thread key of page `page` of board `board`.
pub(crate) fn page_thread(board: i64, page: i64) -> String {
    format!("storm:{board}:{page}")
}

/// The open board of a channel, if it has one.
pub(crate) async fn open_board(
    conn: &mut AnyConnection,
    platform: Platform,
    channel: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM storm_boards WHERE platform = $1 AND channel = $2 \
         AND closed_at_us IS NULL",
    )
    .bind(platform.as_str())
    .bind(channel)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Opens a board for the channel (or finds the one another replica just opened).
pub(crate) async fn open_or_create(
    conn: &mut AnyConnection,
    platform: Platform,
    channel: &str,
    now: jiff::Timestamp,
) -> Result<i64, StoreError> {
    sqlx::query(
        "INSERT INTO storm_boards (platform, channel, opened_at_us) VALUES ($1, $2, $3) \
         ON CONFLICT (platform, channel) WHERE closed_at_us IS NULL DO NOTHING",
    )
    .bind(platform.as_str())
    .bind(channel)
    .bind(now.as_microsecond())
    .execute(&mut *conn)
    .await?;
    open_board(conn, platform, channel)
        .await?
        .ok_or_else(|| StoreError::corrupt("storm_boards", "opened but not found"))
}

/// Counts the board's first message as posted (queued when the board opened).
pub(crate) async fn first_page_posted(
    conn: &mut AnyConnection,
    board: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE storm_boards SET pages = 1 WHERE id = $1 AND pages = 0")
        .bind(board)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Folds incident `incident`'s message target in `channel` into `board`.
pub(crate) async fn fold(
    conn: &mut AnyConnection,
    incident: i64,
    platform: Platform,
    channel: &str,
    board: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE incident_messages SET storm_board = $1, folded = 1 \
         WHERE incident_id = $2 AND platform = $3 AND channel = $4",
    )
    .bind(board)
    .bind(incident)
    .bind(platform.as_str())
    .bind(channel)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes the target off its board; false when it was not folded (someone else unfolded
/// it first).
pub(crate) async fn unfold(
    conn: &mut AnyConnection,
    incident: i64,
    platform: Platform,
    channel: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE incident_messages SET folded = 0 \
         WHERE incident_id = $1 AND platform = $2 AND channel = $3 AND folded = 1",
    )
    .bind(incident)
    .bind(platform.as_str())
    .bind(channel)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// The boards still open, oldest first.
pub(crate) async fn open_boards(conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM storm_boards WHERE closed_at_us IS NULL ORDER BY id")
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// What the storm metrics show of the store: boards open, and incidents folded into them
/// now (without their own root and thread).
pub(crate) async fn open_totals(conn: &mut AnyConnection) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM storm_boards WHERE closed_at_us IS NULL), \
           (SELECT COUNT(*) FROM incident_messages m JOIN storm_boards b \
              ON b.id = m.storm_board AND b.closed_at_us IS NULL WHERE m.folded = 1)",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Board `id` if it is still open; `lock`: locked for the transaction on PostgreSQL (so
/// one replica tends it at a time; SQLite's write transaction excludes the others).
pub(crate) async fn board(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    lock: bool,
) -> Result<Option<BoardRow>, StoreError> {
    let lock = match (backend, lock) {
        (Backend::Postgres, true) => " FOR UPDATE",
        _ => "",
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, platform, channel, opened_at_us, pages, revision, rendered, rendered_at_us, \
           shown_through FROM storm_boards WHERE id = $1 AND closed_at_us IS NULL{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let platform: String = row.try_get("platform")?;
    let platform = Platform::parse(&platform)
        .ok_or_else(|| StoreError::corrupt("storm_boards", "unknown platform"))?;
    let rendered_at: Option<i64> = row.try_get("rendered_at_us")?;
    Ok(Some(BoardRow {
        id: row.try_get("id")?,
        platform,
        channel: row.try_get("channel")?,
        opened_at: from_micros(row.try_get("opened_at_us")?, "storm_boards")?,
        pages: row.try_get("pages")?,
        revision: row.try_get("revision")?,
        rendered: row.try_get("rendered")?,
        rendered_at: rendered_at
            .map(|us| from_micros(us, "storm_boards"))
            .transpose()?,
        shown_through: row.try_get("shown_through")?,
    }))
}

/// The incidents folded into `board` now, with their firing counts (unordered).
pub(crate) async fn lines(
    conn: &mut AnyConnection,
    board: i64,
) -> Result<Vec<BoardLine>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT i.id, i.service, i.title, i.severity, i.status, i.silenced, i.changed_at_us, \
           (SELECT COUNT(*) FROM incident_alerts a WHERE a.incident_id = i.id \
              AND a.status = 'firing') AS firing, \
           CAST(CASE WHEN {HAS_ROOT} THEN 1 ELSE 0 END AS BIGINT) AS rooted \
         FROM incident_messages m JOIN incidents i ON i.id = m.incident_id \
         WHERE m.storm_board = $1 AND m.folded = 1"
    )))
    .bind(board)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let service: Option<String> = row.try_get("service")?;
            let title: String = row.try_get("title")?;
            let status: String = row.try_get("status")?;
            let silenced: i64 = row.try_get("silenced")?;
            let alert = match &service {
                Some(s) => title
                    .strip_suffix(&format!(" on {s}"))
                    .unwrap_or(&title)
                    .to_string(),
                None => title.clone(),
            };
            Ok(BoardLine {
                id: row.try_get("id")?,
                service,
                alert,
                severity: row.try_get("severity")?,
                status: IncidentStatus::parse(&status)
                    .ok_or_else(|| StoreError::corrupt("incidents", "unknown status"))?,
                silenced: silenced != 0,
                firing: row.try_get("firing")?,
                changed_at: from_micros(row.try_get("changed_at_us")?, "incidents")?,
                rooted: row.try_get::<i64, _>("rooted")? != 0,
            })
        })
        .collect()
}

/// How many incidents were ever folded into `board`, and how many of them have their
/// own thread now.
pub(crate) async fn tally(conn: &mut AnyConnection, board: i64) -> Result<StormTally, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN folded = 0 THEN 1 ELSE 0 END), 0) \
         FROM incident_messages WHERE storm_board = $1",
    )
    .bind(board)
    .fetch_one(&mut *conn)
    .await?;
    Ok(StormTally {
        folded: row.try_get(0)?,
        threaded: row.try_get(1)?,
    })
}

/// The newest incident folded into `board` now (0: none): more than the board's
/// `shown_through` means its last render lacks an incident.
pub(crate) async fn newest_line(conn: &mut AnyConnection, board: i64) -> Result<i64, StoreError> {
    let newest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(incident_id) FROM incident_messages WHERE storm_board = $1 AND folded = 1",
    )
    .bind(board)
    .fetch_one(&mut *conn)
    .await?;
    Ok(newest.unwrap_or(0))
}

/// Records a render of `board`: its digest, how many pages exist now, the newest
/// incident it shows, when.
pub(crate) async fn rendered(
    conn: &mut AnyConnection,
    board: i64,
    digest: &str,
    pages: i64,
    shown_through: i64,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE storm_boards SET revision = revision + 1, rendered = $1, pages = $2, \
         rendered_at_us = $3, shown_through = $4 WHERE id = $5",
    )
    .bind(digest)
    .bind(pages)
    .bind(now.as_microsecond())
    .bind(shown_through)
    .bind(board)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Incidents still open (or with a root of their own, resolved or not) but folded into
/// a board that closed since `since`: folded by a replica that saw the board open while
/// another was closing it (PostgreSQL; SQLite's writers exclude each other).
/// `(incident, board, platform, channel)`.
pub(crate) async fn stranded(
    conn: &mut AnyConnection,
    since: jiff::Timestamp,
) -> Result<Vec<(i64, i64, String, String)>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT m.incident_id, m.storm_board, m.platform, m.channel \
         FROM storm_boards b \
         JOIN incident_messages m ON m.storm_board = b.id AND m.folded = 1 \
         JOIN incidents i ON i.id = m.incident_id \
         WHERE b.closed_at_us IS NOT NULL AND b.closed_at_us >= $1 \
           AND (i.status <> 'resolved' OR {HAS_ROOT})"
    )))
    .bind(since.as_microsecond())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
            ))
        })
        .collect()
}

/// Closes `board`: the channel's next storm opens a new one.
pub(crate) async fn close(
    conn: &mut AnyConnection,
    board: i64,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE storm_boards SET closed_at_us = $1 WHERE id = $2")
        .bind(now.as_microsecond())
        .bind(board)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
