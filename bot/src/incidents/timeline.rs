//! Collecting the timeline events of one change, as they are written.

use sqlx::AnyConnection;

use super::{
    model::{EventKind, IncidentEvent},
    repo,
};
use crate::store::StoreError;

/// The events one change appended to an incident's timeline, in order.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub events: Vec<IncidentEvent>,
}

impl Change {
    /// Appends an event to the timeline (in the caller's transaction) and remembers it.
    pub async fn record(
        &mut self,
        conn: &mut AnyConnection,
        incident_id: i64,
        at: jiff::Timestamp,
        kind: EventKind,
        actor: Option<&str>,
        detail: impl Into<String>,
    ) -> Result<(), StoreError> {
        let detail = detail.into();
        let id = repo::insert_event(conn, incident_id, at, kind, actor, &detail).await?;
        self.events.push(IncidentEvent {
            id,
            incident_id,
            at,
            kind,
            actor: actor.map(str::to_string),
            detail,
        });
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
