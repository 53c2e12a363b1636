//! `known_good_revisions`: which revisions of each service passed the health gate, for
//! `rollback SERVICE --to last-good` (the commands decide when a revision passes and what
//! `last-good` means; this only keeps the record, across restarts and replicas).
//!
//! A pass of a revision already recorded moves it to the front (its time, number and
//! actor are updated); the newest [`KEEP_PER_SERVICE`] passes of a service are kept.

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    context::{GoodRevision, KnownGood},
};
use sqlx::Row;

use super::{
    Store, StoreError,
    time::{from_micros, to_micros},
};

/// How many revisions known good are kept per service (a Deployment keeps 10 by default).
pub const KEEP_PER_SERVICE: i64 = 20;

/// The record of revisions known good, in the store.
#[derive(Clone, Debug)]
pub struct KnownGoodRevisions {
    store: Store,
}

impl KnownGoodRevisions {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records a pass of `revision` of the service `service` in `environment`.
    pub async fn record(
        &self,
        service: &str,
        environment: &str,
        revision: &GoodRevision,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "INSERT INTO known_good_revisions \
             (service, environment, revision_id, revision, images, passed_at_us, passed_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (service, environment, revision_id) DO UPDATE SET \
             revision = excluded.revision, images = excluded.images, \
             passed_at_us = excluded.passed_at_us, passed_by = excluded.passed_by",
        )
        .bind(service)
        .bind(environment)
        .bind(revision.id.as_str())
        .bind(revision.number)
        .bind(revision.images.join("\n"))
        .bind(to_micros(revision.passed_at))
        .bind(revision.passed_by.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM known_good_revisions WHERE service = $1 AND environment = $2 \
             AND revision_id NOT IN (SELECT revision_id FROM known_good_revisions \
             WHERE service = $3 AND environment = $4 \
             ORDER BY passed_at_us DESC, revision_id LIMIT $5)",
        )
        .bind(service)
        .bind(environment)
        .bind(service)
        .bind(environment)
        .bind(KEEP_PER_SERVICE)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The revisions of the service that passed, the most recent pass first.
    pub async fn list(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Vec<GoodRevision>, StoreError> {
        let rows = sqlx::query(
            "SELECT revision_id, revision, images, passed_at_us, passed_by \
             FROM known_good_revisions WHERE service = $1 AND environment = $2 \
             ORDER BY passed_at_us DESC, revision_id",
        )
        .bind(service)
        .bind(environment)
        .fetch_all(self.store.read_pool())
        .await?;
        rows.iter()
            .map(|row| {
                let images: String = row.try_get("images")?;
                Ok(GoodRevision {
                    id: row.try_get("revision_id")?,
                    number: row.try_get("revision")?,
                    images: images
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect(),
                    passed_at: from_micros(row.try_get("passed_at_us")?, "known_good_revisions")?,
                    passed_by: row.try_get("passed_by")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl KnownGood for KnownGoodRevisions {
    async fn passed(&self, service: &Service, revision: &GoodRevision) -> Result<(), String> {
        self.record(
            service.name.as_str(),
            service.environment.as_str(),
            revision,
        )
        .await
        .map_err(|e| e.to_string())
    }

    async fn good_revisions(&self, service: &Service) -> Result<Vec<GoodRevision>, String> {
        self.list(service.name.as_str(), service.environment.as_str())
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::scratch::backend_tests;

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_763_708_400 + secs).unwrap()
    }

    fn good(id: &str, number: i64, passed: i64) -> GoodRevision {
        GoodRevision {
            id: id.into(),
            number,
            images: vec![format!("app:{number}"), "sidecar:1".into()],
            passed_at: at(passed),
            passed_by: "Alice".into(),
        }
    }

    backend_tests! {
        async fn passes_are_kept_newest_first_per_service_and_survive_a_restart(db) {
            let record = KnownGoodRevisions::new(db.store.clone());
            record.record("api", "prod", &good("api-a", 3, 10)).await.unwrap();
            record.record("api", "prod", &good("api-b", 4, 20)).await.unwrap();
            record.record("api", "staging", &good("api-x", 1, 30)).await.unwrap();
            record.record("web", "prod", &good("web-a", 1, 40)).await.unwrap();
            let listed = record.list("api", "prod").await.unwrap();
            assert_eq!(listed, vec![good("api-b", 4, 20), good("api-a", 3, 10)]);

            // Passing again (renumbered by a rollback) moves it to the front.
            record.record("api", "prod", &good("api-a", 6, 50)).await.unwrap();
            let ids: Vec<String> = record.list("api", "prod").await.unwrap().into_iter().map(|g| g.id).collect();
            assert_eq!(ids, ["api-a", "api-b"]);
            assert_eq!(record.list("api", "prod").await.unwrap()[0].number, 6);

            // Another process on the same store sees it.
            let again = Store::connect(&db.url, 2).await.unwrap();
            let other = KnownGoodRevisions::new(again.clone());
            assert_eq!(other.list("api", "prod").await.unwrap().len(), 2);
            assert_eq!(other.list("api", "staging").await.unwrap(), vec![good("api-x", 1, 30)]);
            assert!(other.list("nope", "prod").await.unwrap().is_empty());
            again.close().await;
        }

        async fn only_the_newest_passes_are_kept(db) {
            let record = KnownGoodRevisions::new(db.store.clone());
            for n in 0..KEEP_PER_SERVICE + 5 {
                record.record("api", "prod", &good(&format!("api-{n:03}"), n, n)).await.unwrap();
            }
            record.record("web", "prod", &good("web-a", 1, 0)).await.unwrap();
            let listed = record.list("api", "prod").await.unwrap();
            assert_eq!(listed.len() as i64, KEEP_PER_SERVICE);
            assert_eq!(listed[0].id, format!("api-{:03}", KEEP_PER_SERVICE + 4));
            assert_eq!(listed.last().unwrap().id, "api-005");
            assert_eq!(record.list("web", "prod").await.unwrap().len(), 1);
        }
    }
}
