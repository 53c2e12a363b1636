//! `seen_requests`: signed requests already accepted, remembered until their signature's
//! timestamp leaves the freshness window. A signature is only valid within that window,
//! so remembering it that long is enough to refuse every replay — on every replica and
//! after a restart, since the record is in the store.
//!
//! Generic over the sender (`source`: `grafana`, and any other signed endpoint that wants
//! it) and the request's identity (`digest`: the signature, hex). [`record`] runs in the
//! caller's write transaction, so a request whose work fails is not remembered and the
//! sender's retry is accepted; [`prune`] deletes expired records.

use sqlx::AnyConnection;

use super::{Store, StoreError, time::to_micros};

/// One signed request to remember.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// The kind of sender, e.g. `grafana`.
    pub source: &'static str,
    /// What identifies the request: its signature (hex), which covers its timestamp and
    /// body.
    pub digest: String,
    /// When its signature stops being accepted anyway (timestamp + window).
    pub expires_at: jiff::Timestamp,
}

/// Records `seen` in the caller's transaction. `true`: it is new (no unexpired record of
/// the same source and digest), the request is not a replay; `false`: a replay. An
/// expired record of the same request (not yet pruned) is taken over.
pub async fn record(
    conn: &mut AnyConnection,
    seen: &SeenRequest,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO seen_requests (source, digest, expires_at_us) VALUES ($1, $2, $3) \
         ON CONFLICT (source, digest) DO UPDATE SET expires_at_us = excluded.expires_at_us \
         WHERE seen_requests.expires_at_us <= $4",
    )
    .bind(seen.source)
    .bind(seen.digest.as_str())
    .bind(to_micros(seen.expires_at))
    .bind(to_micros(now))
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes the records that expired by `now`; returns how many.
pub async fn prune(store: &Store, now: jiff::Timestamp) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM seen_requests WHERE expires_at_us <= $1")
        .bind(to_micros(now))
        .execute(store.pool())
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::scratch::backend_tests;

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_763_708_400 + secs).unwrap()
    }

    fn seen(source: &'static str, digest: &str, expires: i64) -> SeenRequest {
        SeenRequest {
            source,
            digest: digest.to_string(),
            expires_at: at(expires),
        }
    }

    async fn record_once(store: &Store, request: &SeenRequest, now: jiff::Timestamp) -> bool {
        let mut tx = store.pool().begin().await.unwrap();
        let fresh = record(&mut tx, request, now).await.unwrap();
        tx.commit().await.unwrap();
        fresh
    }

    backend_tests! {
        async fn remembers_until_expiry_per_source_and_across_connections(db) {
            let a = seen("grafana", "ab12", 300);
            assert!(record_once(&db.store, &a, at(0)).await, "first time: new");
            assert!(!record_once(&db.store, &a, at(10)).await, "again: a replay");
            assert!(record_once(&db.store, &seen("other", "ab12", 300), at(10)).await, "sources are apart");
            assert!(record_once(&db.store, &seen("grafana", "cd34", 300), at(10)).await);

            // A second process on the same store sees the record.
            let again = Store::connect(&db.url, 2).await.unwrap();
            assert!(!record_once(&again, &a, at(20)).await, "a replay after a restart");

            // A rolled-back record is forgotten: the sender's retry is accepted.
            let b = seen("grafana", "ef56", 300);
            let mut tx = db.store.pool().begin().await.unwrap();
            assert!(record(&mut tx, &b, at(0)).await.unwrap());
            tx.rollback().await.unwrap();
            assert!(record_once(&db.store, &b, at(1)).await);

            // An expired record is taken over, then pruned.
            assert!(record_once(&db.store, &seen("grafana", "ab12", 900), at(300)).await);
            assert!(!record_once(&db.store, &seen("grafana", "ab12", 900), at(301)).await);
            assert_eq!(prune(&db.store, at(301)).await.unwrap(), 3, "ab12@other, cd34, ef56");
            assert_eq!(prune(&db.store, at(301)).await.unwrap(), 0);
            assert!(!record_once(&again, &seen("grafana", "ab12", 900), at(302)).await, "kept: not expired");
            again.close().await;
        }
    }
}
