//! The `outbox` and `outbox_threads` tables: enqueue, the dispatcher's claims (a lease
//! `claimed_by`/`claimed_until_us`, taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL and
//! under the single writer on SQLite), and the outcomes (delivered, retry, failed).
//!
//! Lists of ids, platforms and channels are bound as one JSON array (`json_each` /
//! `jsonb_array_elements_text`), so every statement keeps one text and stays prepared.

use opsbot_commands::{Platform, Reply};
use sqlx::{AnyConnection, Row, any::AnyRow};

use super::{Lane, MessageRef, Operation, OutboxMessage, reply_json};
use crate::store::{Backend, Store, StoreError};

pub(crate) const COLUMNS: &str = "id, platform, channel, thread_key, operation, lane, reply, \
     attempts, claim_lost, parent_thread_key";

/// The stored name of `operation`: a root posted in another thread is a `post_root`
/// (with its `parent_thread_key`), so every statement about roots covers it.
pub(crate) fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::PostRoot | Operation::PostRootInThread { .. } => "post_root",
        Operation::EditRoot => "edit_root",
        Operation::Reply => "reply",
        Operation::Post => "post",
    }
}

fn operation_of(name: &str, parent_thread_key: Option<String>) -> Option<Operation> {
    Some(match name {
        "post_root" => match parent_thread_key {
            Some(parent_thread_key) => Operation::PostRootInThread { parent_thread_key },
            None => Operation::PostRoot,
        },
        "edit_root" => Operation::EditRoot,
        "reply" => Operation::Reply,
        "post" => Operation::Post,
        _ => return None,
    })
}

pub(crate) fn lane_name(lane: Lane) -> &'static str {
    match lane {
        Lane::Interactive => "interactive",
        Lane::Alerts => "alerts",
    }
}

fn lane_of(name: &str) -> Option<Lane> {
    match name {
        "interactive" => Some(Lane::Interactive),
        "alerts" => Some(Lane::Alerts),
        _ => None,
    }
}

/// A stored message, as the dispatcher works on it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stored {
    pub id: i64,
    pub platform: Platform,
    pub channel: String,
    pub thread_key: Option<String>,
    pub operation: Operation,
    pub lane: Lane,
    pub reply: Reply,
    pub attempts: u32,
    /// An earlier claim lapsed unreleased: an earlier attempt may have been delivered.
    pub claim_lost: bool,
}

impl Stored {
    /// The pacing key of its channel.
    pub(crate) fn channel_key(&self) -> String {
        channel_key(self.platform, &self.channel)
    }
}

pub(crate) fn channel_key(platform: Platform, channel: &str) -> String {
    format!("{}/{}", platform.as_str(), channel)
}

/// A row that could not be read: its id and why (it is parked as failed).
pub(crate) type Unreadable = (i64, String);

fn decode(row: &AnyRow) -> Result<Result<Stored, Unreadable>, StoreError> {
    let id: i64 = row.try_get("id")?;
    let platform: String = row.try_get("platform")?;
    let operation: String = row.try_get("operation")?;
    let lane: String = row.try_get("lane")?;
    let reply: String = row.try_get("reply")?;
    let attempts: i64 = row.try_get("attempts")?;
    let claim_lost: i64 = row.try_get("claim_lost")?;
    let parent_thread_key: Option<String> = row.try_get("parent_thread_key")?;
    let Some(platform) = Platform::parse(&platform) else {
        return Ok(Err((id, format!("unknown platform {platform:?}"))));
    };
    let (Some(operation), Some(lane)) =
        (operation_of(&operation, parent_thread_key), lane_of(&lane))
    else {
        return Ok(Err((
            id,
            format!("unknown operation {operation:?} or lane {lane:?}"),
        )));
    };
    let reply = match reply_json::from_json(&reply) {
        Ok(reply) => reply,
        Err(e) => return Ok(Err((id, format!("unreadable reply: {e}")))),
    };
    Ok(Ok(Stored {
        id,
        platform,
        channel: row.try_get("channel")?,
        thread_key: row.try_get("thread_key")?,
        operation,
        lane,
        reply,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        claim_lost: claim_lost != 0,
    }))
}

fn decode_all(rows: &[AnyRow]) -> Result<(Vec<Stored>, Vec<Unreadable>), StoreError> {
    let mut good = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for row in rows {
        match decode(row)? {
            Ok(stored) => good.push(stored),
            Err(unreadable) => bad.push(unreadable),
        }
    }
    good.sort_by_key(|m| m.id);
    Ok((good, bad))
}

/// `IN (…)` over a bound JSON array of strings.
fn in_strings(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("(SELECT jsonb_array_elements_text(${n}::jsonb))"),
    }
}

/// `IN (…)` over a bound JSON array of ids.
fn in_ids(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("(SELECT jsonb_array_elements_text(${n}::jsonb)::bigint)"),
    }
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// Stores `message` unless its dedupe key is already stored; true when inserted.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    message: &OutboxMessage,
) -> Result<bool, StoreError> {
    let now = now_us();
    let result = sqlx::query(
        "INSERT INTO outbox (platform, channel, thread_key, operation, lane, reply, \
         dedupe_key, state, attempts, next_attempt_at_us, created_at_us, parent_thread_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $10) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(message.platform.as_str())
    .bind(message.channel.as_str())
    .bind(message.thread_key.as_deref())
    .bind(operation_name(&message.operation))
    .bind(lane_name(message.lane))
    .bind(reply_json::to_json(&message.reply))
    .bind(message.dedupe_key.as_str())
    .bind(now)
    .bind(now)
    .bind(match &message.operation {
        Operation::PostRootInThread { parent_thread_key } => Some(parent_thread_key.as_str()),
        _ => None,
    })
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// What a claim asks for.
pub(crate) struct ClaimRequest<'a> {
    pub lane: Lane,
    pub dispatcher: &'a str,
    pub lease_until_us: i64,
    /// Platforms this dispatcher has a sink for.
    pub platforms: &'a [&'static str],
    /// `platform/channel` keys not to claim for (busy or blocked).
    pub exclude: &'a [String],
    pub limit: usize,
}

/// How many of the oldest claimable heads a claim looks at, at least: it picks the oldest
/// per channel among them. Bounding the window keeps a claim's cost independent of the
/// backlog (a window function over every pending row cost ~30 ms at 20,000 queued).
const CLAIM_WINDOW_MIN: usize = 1024;

/// Added to a root edit's id to rank it after every root and post (ids stay far below).
const EDIT_RANK: i64 = 1 << 60;
/// Added to a reply's id to rank it after every root, post and edit.
const REPLY_RANK: i64 = 1 << 61;

/// Claims up to `limit` due messages of a lane, at most one per channel, each the oldest
/// pending message of its thread (in that lane), skipping rows leased by someone else.
///
/// The candidates are the oldest `max(16 × limit, 1024)` claimable thread heads in id
/// order (index `outbox_lane_order`; the `+` keeps SQLite from preferring `outbox_due`
/// and sorting every due row), of which one per channel is taken: on the interactive
/// lane the oldest; on the alerts lane the oldest of the first kind there is: what shows
/// a new incident (a root), what brings a shown root up to date (its edit, also one
/// queued behind replies), replies — so in a storm a channel shows every incident
/// first, keeps its roots current next, and posts the replies of threads already shown
/// last, as bigger digests by then. Channels with a delivery in flight are excluded before the window, so a
/// busy channel's backlog never fills it: this dispatcher's (`exclude`) and, through the
/// live leases in the store (index `outbox_live_claims`), every other replica's, so each
/// channel has one delivery at a time across replicas and what queues meanwhile joins
/// its next digest instead of going out call by call from several.
pub(crate) async fn claim_heads(
    store: &Store,
    request: &ClaimRequest<'_>,
) -> Result<(Vec<Stored>, Vec<Unreadable>), StoreError> {
    let backend = store.backend();
    // The alerts lane ranks what shows a new incident (a root, a standalone post) first,
    // then what brings a shown root up to date (its edit, also one queued behind replies:
    // the delivery edits first), then threads whose queue holds only replies. The
    // look-up of a queued edit is index `outbox_channel_work`.
    let (work, rank) = match request.lane {
        Lane::Interactive => ("0".to_string(), "id".to_string()),
        Lane::Alerts => (
            "CASE WHEN o.operation IN ('post_root', 'post') THEN 0 \
               WHEN o.operation = 'edit_root' OR EXISTS (\
                 SELECT 1 FROM outbox e WHERE e.state = 'pending' AND e.platform = o.platform \
                   AND e.channel = o.channel AND e.lane = o.lane AND e.thread_key = o.thread_key \
                   AND e.operation = 'edit_root') THEN 1 \
               ELSE 2 END"
                .to_string(),
            format!(
                "CASE work WHEN 0 THEN id WHEN 1 THEN id + {EDIT_RANK} ELSE id + {REPLY_RANK} END"
            ),
        ),
    };
    let heads = format!(
        "SELECT head_rank - CASE WHEN head_rank >= {REPLY_RANK} THEN {REPLY_RANK} \
           WHEN head_rank >= {EDIT_RANK} THEN {EDIT_RANK} ELSE 0 END FROM (\
         SELECT MIN({rank}) AS head_rank FROM (\
           SELECT o.id, o.platform, o.channel, {work} AS work FROM outbox o \
           WHERE o.state = 'pending' AND o.lane = $3 AND +o.next_attempt_at_us <= $4 \
             AND (o.claimed_until_us IS NULL OR o.claimed_until_us <= $5) \
             AND o.platform IN {platforms} \
             AND (o.platform || '/' || o.channel) NOT IN {exclude} \
             AND (o.platform || '/' || o.channel) NOT IN (\
               SELECT c.platform || '/' || c.channel FROM outbox c \
               WHERE c.state = 'pending' AND c.lane = $11 AND c.claimed_until_us > $12) \
             AND (o.thread_key IS NULL OR NOT EXISTS (\
               SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.platform = o.platform \
                 AND p.thread_key = o.thread_key AND p.lane = o.lane AND p.id < o.id)) \
           ORDER BY o.id LIMIT $9\
         ) candidates GROUP BY platform, channel ORDER BY 1 LIMIT $8) ranked",
        platforms = in_strings(backend, 6),
        exclude = in_strings(backend, 7),
    );
    let target = match backend {
        // The single writer: the statement runs under SQLite's write lock. (`$10`, the
        // re-check below, is bound for both; SQLite ignores what a statement leaves out.)
        Backend::Sqlite => heads,
        // Lock what we take; rows another replica is claiming right now are skipped, and
        // rows it claimed since our snapshot fail the re-checked lease condition.
        Backend::Postgres => format!(
            "SELECT id FROM outbox WHERE id IN ({heads}) AND state = 'pending' \
             AND (claimed_until_us IS NULL OR claimed_until_us <= $10) \
             FOR UPDATE SKIP LOCKED"
        ),
    };
    let sql = format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until_us = $2, \
         claim_lost = CASE WHEN claimed_by IS NULL THEN 0 ELSE 1 END WHERE id IN ({target}) \
         RETURNING {COLUMNS}"
    );
    let now = now_us();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(request.dispatcher)
        .bind(request.lease_until_us)
        .bind(lane_name(request.lane))
        .bind(now)
        .bind(now)
        .bind(json_list(request.platforms))
        .bind(json_list(request.exclude))
        .bind(i64::try_from(request.limit).unwrap_or(i64::MAX))
        .bind(
            i64::try_from(request.limit.saturating_mul(16).max(CLAIM_WINDOW_MIN))
                .unwrap_or(i64::MAX),
        )
        .bind(now)
        .bind(lane_name(request.lane))
        .bind(now)
        .fetch_all(store.pool())
        .await?;
    decode_all(&rows)
}

/// Claims the messages after `head` in its thread and lane that may be delivered with it:
/// edits and replies, up to the next root or standalone post, at most `limit`. Nobody
/// else can be delivering them: they wait behind `head`, which we hold.
pub(crate) async fn claim_followers(
    store: &Store,
    head: &Stored,
    dispatcher: &str,
    lease_until_us: i64,
    limit: usize,
) -> Result<(Vec<Stored>, Vec<Unreadable>), StoreError> {
    let sql = format!(
        "UPDATE outbox SET claimed_by = $1, claimed_until_us = $2, \
         claim_lost = CASE WHEN claimed_by IS NULL THEN 0 ELSE 1 END WHERE id IN (\
           SELECT id FROM outbox WHERE state = 'pending' AND platform = $3 \
             AND thread_key = $4 AND lane = $5 AND id > $6 \
             AND id < COALESCE((SELECT MIN(b.id) FROM outbox b WHERE b.state = 'pending' \
               AND b.platform = $7 AND b.thread_key = $8 AND b.lane = $9 AND b.id > $10 \
               AND b.operation IN ('post_root', 'post')), 9223372036854775807) \
           ORDER BY id LIMIT $11) \
         RETURNING {COLUMNS}"
    );
    let thread_key = head.thread_key.as_deref().unwrap_or_default();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(dispatcher)
        .bind(lease_until_us)
        .bind(head.platform.as_str())
        .bind(thread_key)
        .bind(lane_name(head.lane))
        .bind(head.id)
        .bind(head.platform.as_str())
        .bind(thread_key)
        .bind(lane_name(head.lane))
        .bind(head.id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(store.pool())
        .await?;
    decode_all(&rows)
}

/// The root to remember when a delivered message was (or became) a thread's root.
pub(crate) struct NewRoot<'a> {
    pub platform: Platform,
    pub thread_key: &'a str,
    pub channel: &'a str,
}

/// Marks `ids` delivered (those still pending) with the platform's `message_ref`, and
/// remembers the thread root in the same transaction. Returns how many were marked:
/// fewer than `ids.len()` means another dispatcher got there first.
pub(crate) async fn mark_delivered(
    store: &Store,
    ids: &[i64],
    message_ref: &MessageRef,
    root: Option<NewRoot<'_>>,
) -> Result<u64, StoreError> {
    let now = now_us();
    let sql = format!(
        "UPDATE outbox SET state = 'delivered', delivered_at_us = $1, message_ref = $2, \
         claimed_by = NULL, claimed_until_us = NULL \
         WHERE state = 'pending' AND id IN {ids}",
        ids = in_ids(store.backend(), 3)
    );
    let mut tx = store.pool().begin().await?;
    if let Some(root) = root {
        sqlx::query(
            "INSERT INTO outbox_threads (platform, thread_key, channel, message_ref, created_at_us) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (platform, thread_key) DO UPDATE SET channel = excluded.channel, \
             message_ref = excluded.message_ref, created_at_us = excluded.created_at_us",
        )
        .bind(root.platform.as_str())
        .bind(root.thread_key)
        .bind(root.channel)
        .bind(message_ref.0.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    let marked = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(message_ref.0.as_str())
        .bind(json_list(ids))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(marked)
}

/// Parks `ids` as failed with `error`.
pub(crate) async fn mark_failed(
    store: &Store,
    ids: &[i64],
    error: &str,
) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1, \
         claimed_by = NULL, claimed_until_us = NULL \
         WHERE state = 'pending' AND id IN {ids}",
        ids = in_ids(store.backend(), 2)
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(error)
        .bind(json_list(ids))
        .execute(store.pool())
        .await?
        .rows_affected())
}

/// Schedules message `id` (now its thread's oldest pending one) for another attempt at
/// `next_attempt_at_us`, counting the attempt and its error, and releases it.
pub(crate) async fn schedule_retry(
    store: &Store,
    id: i64,
    next_attempt_at_us: i64,
    error: &str,
    count_attempt: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + $1, next_attempt_at_us = $2, last_error = $3, \
         claimed_by = NULL, claimed_until_us = NULL WHERE id = $4 AND state = 'pending'",
    )
    .bind(i64::from(count_attempt))
    .bind(next_attempt_at_us)
    .bind(error)
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// The holder a post that got no answer is left to: nobody, so it can be claimed at
/// once, but not released either, so the next claim marks it `claim_lost`.
const UNANSWERED: &str = "(unanswered)";

/// Leaves `ids` (those this dispatcher still holds) to [`UNANSWERED`]: claimable at
/// `next_attempt_at_us` and looked up before they are posted again; the head `ids[0]`
/// (its thread's oldest pending message) gets the attempt counted and `error`.
///
/// One statement, not a retry schedule followed by a mark: between those two the rows
/// were released (`claimed_by` NULL), so another replica, or this one restarted after a
/// crash right there, claimed them with `claim_lost = 0` and posted them again without
/// looking (the flake of `a_post_the_platform_took_before_a_crash_is_not_posted_again`).
pub(crate) async fn schedule_unanswered(
    store: &Store,
    ids: &[i64],
    next_attempt_at_us: i64,
    error: &str,
    dispatcher: &str,
) -> Result<(), StoreError> {
    let Some(&head) = ids.first() else {
        return Ok(());
    };
    let sql = format!(
        "UPDATE outbox SET \
           attempts = attempts + CASE WHEN id = $1 THEN 1 ELSE 0 END, \
           next_attempt_at_us = CASE WHEN id = $2 THEN $3 ELSE next_attempt_at_us END, \
           last_error = CASE WHEN id = $4 THEN $5 ELSE last_error END, \
           claimed_by = $6, claimed_until_us = NULL \
         WHERE claimed_by = $7 AND state = 'pending' AND id IN {ids}",
        ids = in_ids(store.backend(), 8)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(head)
        .bind(head)
        .bind(next_attempt_at_us)
        .bind(head)
        .bind(error)
        .bind(UNANSWERED)
        .bind(dispatcher)
        .bind(json_list(ids))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Gives back the lease on `ids` (those this dispatcher still holds).
pub(crate) async fn release(
    store: &Store,
    ids: &[i64],
    dispatcher: &str,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE outbox SET claimed_by = NULL, claimed_until_us = NULL \
         WHERE claimed_by = $1 AND state = 'pending' AND id IN {ids}",
        ids = in_ids(store.backend(), 2)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(dispatcher)
        .bind(json_list(ids))
        .execute(store.pool())
        .await?;
    Ok(())
}

/// The root message posted for a thread, if any.
pub(crate) async fn thread_root(
    store: &Store,
    platform: Platform,
    thread_key: &str,
) -> Result<Option<MessageRef>, StoreError> {
    let found: Option<String> = sqlx::query_scalar(
        "SELECT message_ref FROM outbox_threads WHERE platform = $1 AND thread_key = $2",
    )
    .bind(platform.as_str())
    .bind(thread_key)
    .fetch_optional(store.read_pool())
    .await?;
    Ok(found.map(MessageRef))
}

/// Whether a root post for the thread is still waiting to be delivered (in any lane).
pub(crate) async fn root_pending(
    store: &Store,
    platform: Platform,
    thread_key: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM outbox WHERE state = 'pending' AND platform = $1 AND thread_key = $2 \
         AND operation = 'post_root' LIMIT 1",
    )
    .bind(platform.as_str())
    .bind(thread_key)
    .fetch_optional(store.read_pool())
    .await?;
    Ok(found.is_some())
}

/// Pending messages of a lane, and when the earliest becomes due (unix µs).
pub(crate) async fn backlog(store: &Store, lane: Lane) -> Result<(i64, Option<i64>), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(next_attempt_at_us) AS due FROM outbox \
         WHERE state = 'pending' AND lane = $1",
    )
    .bind(lane_name(lane))
    .fetch_one(store.read_pool())
    .await?;
    Ok((row.try_get("n")?, row.try_get("due")?))
}
