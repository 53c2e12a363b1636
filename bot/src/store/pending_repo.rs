//! The `pending_requests` table: insert, read, the compare-and-set state transition that
//! lets exactly one approver (or one replica) act on a request, and the expiry sweep.

use sqlx::{Row, any::AnyRow};

use super::{
    PendingRequest, PendingState, Store, StoreError,
    time::{from_micros, to_micros},
};

const TABLE: &str = "pending_requests";

const COLUMNS: &str = "id, state, request_id, platform, requester_id, requester_name, \
     requester_groups, channel, thread, text, command, service, environment, policy, \
     created_at_us, expires_at_us, decided_by";

impl Store {
    /// Stores a new pending request. Fails if the id is taken.
    pub async fn insert_pending(&self, request: &PendingRequest) -> Result<(), StoreError> {
        let PendingRequest {
            id,
            state,
            request_id,
            platform,
            requester_id,
            requester_name,
            requester_groups,
            channel,
            thread,
            text,
            command,
            service,
            environment,
            policy,
            created_at,
            expires_at,
            decided_by,
        } = request;
        sqlx::query(
            "INSERT INTO pending_requests (id, state, request_id, platform, requester_id, \
             requester_name, requester_groups, channel, thread, text, command, service, \
             environment, policy, created_at_us, expires_at_us, decided_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(id.as_str())
        .bind(state.as_str())
        .bind(request_id.as_str())
        .bind(platform.as_str())
        .bind(requester_id.as_str())
        .bind(requester_name.as_str())
        .bind(requester_groups.join("\n"))
        .bind(channel.as_str())
        .bind(thread.as_deref())
        .bind(text.as_str())
        .bind(command.as_str())
        .bind(service.as_deref())
        .bind(environment.as_deref())
        .bind(policy.as_deref())
        .bind(to_micros(*created_at))
        .bind(to_micros(*expires_at))
        .bind(decided_by.as_deref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The pending request with this id, in whatever state it is.
    pub async fn get_pending(&self, id: &str) -> Result<Option<PendingRequest>, StoreError> {
        // A reader sees every commit that finished before it started (WAL on SQLite, one
        // pool on PostgreSQL), so a button press right after `insert_pending` finds it.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pending_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.read_pool())
        .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Moves request `id` from `from` to `to` if, and only if, it is still in `from`
    /// (compare-and-set), so two approvers or two replicas can never both act on it.
    /// Returns whether this call won. `decided_by` and `new_expires_at` are written when
    /// given and left as they were when `None`.
    pub async fn transition_pending(
        &self,
        id: &str,
        from: PendingState,
        to: PendingState,
        decided_by: Option<&str>,
        new_expires_at: Option<jiff::Timestamp>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE pending_requests \
             SET state = $3, \
                 decided_by = COALESCE($4, decided_by), \
                 expires_at_us = COALESCE($5, expires_at_us) \
             WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(decided_by)
        .bind(new_expires_at.map(to_micros))
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Open requests whose deadline is at or before `now`, oldest deadline first, for the
    /// expiry sweep (which then expires each with [`Store::transition_pending`]).
    pub async fn due_pending(
        &self,
        now: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<PendingRequest>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pending_requests \
             WHERE state IN ($1, $2) AND expires_at_us <= $3 \
             ORDER BY expires_at_us LIMIT $4"
        )))
        .bind(PendingState::AwaitingConfirmation.as_str())
        .bind(PendingState::AwaitingApproval.as_str())
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(self.read_pool())
        .await?;
        rows.iter().map(decode).collect()
    }
}

fn decode(row: &AnyRow) -> Result<PendingRequest, StoreError> {
    let state: String = row.try_get("state")?;
    let state = PendingState::parse(&state)
        .ok_or_else(|| StoreError::corrupt(TABLE, format!("unknown state {state:?}")))?;
    let groups: String = row.try_get("requester_groups")?;
    Ok(PendingRequest {
        id: row.try_get("id")?,
        state,
        request_id: row.try_get("request_id")?,
        platform: row.try_get("platform")?,
        requester_id: row.try_get("requester_id")?,
        requester_name: row.try_get("requester_name")?,
        requester_groups: split_list(&groups),
        channel: row.try_get("channel")?,
        thread: row.try_get("thread")?,
        text: row.try_get("text")?,
        command: row.try_get("command")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        policy: row.try_get("policy")?,
        created_at: from_micros(row.try_get("created_at_us")?, TABLE)?,
        expires_at: from_micros(row.try_get("expires_at_us")?, TABLE)?,
        decided_by: row.try_get("decided_by")?,
    })
}

/// Lists are stored newline-joined; the empty string is the empty list.
fn split_list(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        Vec::new()
    } else {
        joined.split('\n').map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::scratch::backend_tests;

    fn request(id: &str) -> PendingRequest {
        let created_at = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        PendingRequest {
            id: id.into(),
            state: PendingState::AwaitingApproval,
            request_id: "req-1".into(),
            platform: "slack".into(),
            requester_id: "U1".into(),
            requester_name: "alice".into(),
            requester_groups: vec!["S0ONCALL".into(), "S0SRE".into()],
            channel: "#ops".into(),
            thread: Some("1700000000.000100".into()),
            text: "restart gateway".into(),
            command: "restart".into(),
            service: Some("gateway".into()),
            environment: Some("prod".into()),
            policy: Some("prod-restarts".into()),
            created_at,
            expires_at: created_at
                .checked_add(jiff::SignedDuration::from_mins(15))
                .unwrap(),
            decided_by: None,
        }
    }

    backend_tests! {
        async fn pending_requests_round_trip(db) {
            let r = request("7f3a9c");
            db.store.insert_pending(&r).await.unwrap();
            assert_eq!(db.store.get_pending("7f3a9c").await.unwrap(), Some(r.clone()));
            assert_eq!(db.store.get_pending("nope").await.unwrap(), None);
            assert!(db.store.insert_pending(&r).await.is_err(), "ids are unique");
            let no_groups = PendingRequest { id: "b".into(), requester_groups: vec![], thread: None, ..r };
            db.store.insert_pending(&no_groups).await.unwrap();
            assert_eq!(db.store.get_pending("b").await.unwrap(), Some(no_groups));
        }

        async fn transition_is_compare_and_set(db) {
            let r = request("a1");
            db.store.insert_pending(&r).await.unwrap();
            let (from, to) = (PendingState::AwaitingApproval, PendingState::Done);
            let later = r.expires_at.checked_add(jiff::SignedDuration::from_mins(5)).unwrap();
            // Two approvers race: exactly one wins.
            let (a, b) = tokio::join!(
                db.store.transition_pending("a1", from, to, Some("slack:U2"), Some(later)),
                db.store.transition_pending("a1", from, PendingState::Denied, Some("slack:U3"), None),
            );
            assert!(a.unwrap() ^ b.unwrap(), "exactly one transition wins");
            let got = db.store.get_pending("a1").await.unwrap().unwrap();
            assert!(got.decided_by.is_some());
            // A second transition from the same state loses.
            assert!(!db.store.transition_pending("a1", from, to, Some("slack:U4"), None).await.unwrap());
            assert!(!db.store.transition_pending("missing", from, to, None, None).await.unwrap());
            // None leaves decided_by and expires_at alone.
            let before = db.store.get_pending("a1").await.unwrap().unwrap();
            assert!(db.store.transition_pending("a1", before.state, PendingState::Expired, None, None).await.unwrap());
            let after = db.store.get_pending("a1").await.unwrap().unwrap();
            assert_eq!(after.state, PendingState::Expired);
            assert_eq!((after.decided_by, after.expires_at), (before.decided_by, before.expires_at));
        }

        async fn due_pending_lists_open_overdue_requests(db) {
            let r = request("x");
            db.store.insert_pending(&r).await.unwrap();
            db.store.insert_pending(&PendingRequest { id: "y".into(), state: PendingState::Done, ..request("y") }).await.unwrap();
            assert!(db.store.due_pending(r.created_at, 10).await.unwrap().is_empty());
            let due = db.store.due_pending(r.expires_at, 10).await.unwrap();
            assert_eq!(due.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["x"]);
        }
    }
}
