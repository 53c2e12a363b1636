//! [`Records`]: the commands crate's [`IncidentRecords`] over the store — `incident
//! timeline`, `incident postmortem` and `incident stats` read through [`Timeline`],
//! [`Postmortem`] and [`Stats`]. Store failures become [`DeskError`]s (unavailable:
//! try again shortly); a missing incident is a refusal.

use async_trait::async_trait;
use opsbot_commands::context::{
    DeskError, IncidentRecords, RecordDocument, StatsReport, StatsRequest,
};

use super::{Postmortem, RecordError, Stats, StatsQuery, Timeline};
use crate::store::Store;

/// How many of the newest timeline entries the chat message shows.
const CHAT_ENTRIES: usize = 8;

/// The incident record over one store.
#[derive(Clone, Debug)]
pub struct Records {
    store: Store,
}

impl Records {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

impl From<RecordError> for DeskError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::NoIncident(_) => DeskError::Refused(error.to_string()),
            error if error.is_unavailable() => DeskError::Unavailable(Box::new(error)),
            error => DeskError::Store(Box::new(error)),
        }
    }
}

#[async_trait]
impl IncidentRecords for Records {
    async fn timeline(&self, id: i64) -> Result<RecordDocument, DeskError> {
        let timeline = Timeline::load(&self.store, id).await?;
        Ok(RecordDocument {
            title: format!("{} — timeline", timeline.heading()),
            lines: timeline.chat_lines(CHAT_ENTRIES),
            file_stem: format!("incident-{id}-timeline"),
            markdown: timeline.to_markdown(),
        })
    }

    async fn postmortem(&self, id: i64) -> Result<RecordDocument, DeskError> {
        let draft = Postmortem::draft(&self.store, id, jiff::Timestamp::now()).await?;
        Ok(RecordDocument {
            title: draft.heading(),
            lines: draft.chat_lines(),
            file_stem: format!("incident-{id}-postmortem"),
            markdown: draft.to_markdown(),
        })
    }

    async fn stats(&self, request: &StatsRequest) -> Result<StatsReport, DeskError> {
        let stats = Stats::compute(
            &self.store,
            &StatsQuery {
                since: request.since,
                service: request.service.clone(),
                now: jiff::Timestamp::now(),
            },
        )
        .await?;
        Ok(StatsReport {
            title: stats.title(),
            lines: stats.lines(),
            chart: stats.chart(),
        })
    }
}
