//! `GET /ui/incidents/ID/events`: server-sent events that tell an open incident's page
//! when it changed (`event: changed`), so its script refreshes the live part; `event:
//! closed` once the incident is resolved. The stream looks at the incident's row and the
//! number of its timeline events every [`POLL`]: any replica's change shows.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::stream::{self, Stream};
use sqlx::Row;

use super::{WebConsole, error::WebError, session::SignedIn};
use crate::store::{Store, StoreError};

/// How often the stream looks for changes.
const POLL: Duration = Duration::from_secs(2);

/// What changes when an incident does: (changed_at_us, status, number of events).
type Mark = (i64, String, i64);

async fn mark(store: &Store, id: i64) -> Result<Option<Mark>, StoreError> {
    let row = sqlx::query(
        "SELECT changed_at_us, status, \
         (SELECT COUNT(*) FROM incident_events WHERE incident_id = $1) AS events \
         FROM incidents WHERE id = $2",
    )
    .bind(id)
    .bind(id)
    .fetch_optional(store.read_pool())
    .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .transpose()
}

pub async fn stream(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.incidents, "incident")?;
    let store = console.engine().store().clone();
    let first = mark(&store, id)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("there is no incident {id}")))?;
    Ok(Sse::new(changes(store, id, first))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// One `changed` event per change seen, then `closed` when it is resolved (or gone).
fn changes(store: Store, id: i64, first: Mark) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(Some(first), move |last| {
        let store = store.clone();
        async move {
            let last = last?;
            if last.1 == "resolved" {
                return Some((Ok(Event::default().event("closed").data("resolved")), None));
            }
            loop {
                tokio::time::sleep(POLL).await;
                match mark(&store, id).await {
                    Ok(Some(now)) if now != last => {
                        let event = Event::default().event("changed").data(now.1.clone());
                        return Some((Ok(event), Some(now)));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Some((Ok(Event::default().event("closed").data("gone")), None));
                    }
                    Err(error) => tracing::debug!(%error, id, "incident events: will look again"),
                }
            }
        }
    })
}
