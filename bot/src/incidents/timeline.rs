//! Collecting the timeline events of one change, as they are written. Events can be
//! written one by one ([`Change::record`]) or staged and written together
//! ([`Change::stage`], then [`Change::flush`]) when a change holds many (an alert storm).

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
    /// Staged, not written yet: `(incident_id, at, kind, actor, detail)`.
    staged: Vec<(i64, jiff::Timestamp, EventKind, Option<String>, String)>,
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
        self.flush(conn).await?;
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

    /// Remembers an event to write at the next [`Change::flush`] (or `record`).
    pub fn stage(
        &mut self,
        incident_id: i64,
        at: jiff::Timestamp,
        kind: EventKind,
        actor: Option<&str>,
        detail: impl Into<String>,
    ) {
        self.staged.push((
            incident_id,
            at,
            kind,
            actor.map(str::to_string),
            detail.into(),
        ));
    }

    /// Writes the staged events of each incident in one statement, keeping their order.
    pub async fn flush(&mut self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        let staged = std::mem::take(&mut self.staged);
        let mut start = 0;
        while start < staged.len() {
            let incident_id = staged[start].0;
            let end = staged[start..]
                .iter()
                .position(|e| e.0 != incident_id)
                .map_or(staged.len(), |n| start + n);
            let rows: Vec<_> = staged[start..end]
                .iter()
                .map(|(_, at, kind, actor, detail)| (*at, *kind, actor.as_deref(), detail.as_str()))
                .collect();
            let ids = repo::insert_events(conn, incident_id, &rows).await?;
            for (id, (incident_id, at, kind, actor, detail)) in
                ids.into_iter().zip(staged[start..end].iter().cloned())
            {
                self.events.push(IncidentEvent {
                    id,
                    incident_id,
                    at,
                    kind,
                    actor,
                    detail,
                });
            }
            start = end;
        }
        Ok(())
    }

    /// No event recorded or staged.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.staged.is_empty()
    }
}
