//! `/ui/stats`: incident statistics over a period ([`crate::record::Stats`], what
//! `incident stats` answers in chat): incidents per service, time to acknowledge and to
//! resolve (median, p90), the noisiest alerts, time paged per escalation level, and
//! `/ui/stats/chart.png`, the bar chart of incidents per service. Needs the `incident`
//! command.

use axum::{
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{WebConsole, error::WebError, filters, layout, session::SignedIn};
use crate::record::{RecordError, Spread, Stats, StatsQuery};

/// The period when `since` is left empty.
const DEFAULT_PERIOD: &str = "30d";

#[derive(Debug, Default, Deserialize)]
pub struct StatsForm {
    since: Option<String>,
    service: Option<String>,
}

impl StatsForm {
    fn query(&self, now: jiff::Timestamp) -> Result<StatsQuery, WebError> {
        let since = filters::field(&self.since).unwrap_or_else(|| DEFAULT_PERIOD.to_string());
        Ok(StatsQuery {
            since: filters::since(&Some(since), now)?.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            service: filters::field(&self.service),
            now,
        })
    }

    /// The form's fields as a query string (for the chart's URL).
    fn query_string(&self) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if let Some(since) = filters::field(&self.since) {
            pairs.append_pair("since", &since);
        }
        if let Some(service) = filters::field(&self.service) {
            pairs.append_pair("service", &service);
        }
        pairs.finish()
    }
}

fn record_error(error: RecordError) -> WebError {
    match error {
        RecordError::Store(error) => WebError::Store(error),
        error => WebError::Failed(error.to_string()),
    }
}

/// The statistics `form` asks for, when the identity may run `incident`.
async fn compute(
    console: &WebConsole,
    signed_in: &SignedIn,
    form: &StatsForm,
) -> Result<Stats, WebError> {
    let access = &signed_in.access;
    access.require(access.incidents, "incident")?;
    let query = form.query(jiff::Timestamp::now())?;
    Stats::compute(console.engine().store(), &query)
        .await
        .map_err(record_error)
}

/// `GET /ui/stats`.
pub async fn page(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Query(form): Query<StatsForm>,
) -> Result<Response, WebError> {
    let stats = compute(&console, &signed_in, &form).await?;
    Ok(layout::page(
        &stats.title(),
        &signed_in.access,
        html! {
            (filter_form(&form))
            p { strong #count { (stats.incidents) } " incidents" }
            @if !stats.per_service.is_empty() {
                img.chart src={ "/ui/stats/chart.png?" (form.query_string()) } alt="Incidents per service";
                h2 { "Per service" }
                table.per-service {
                    thead { tr { th { "Service" } th { "Incidents" } } }
                    tbody { @for (service, n) in &stats.per_service { tr { td { (service) } td { (n) } } } }
                }
            }
            h2 { "Response" }
            table.response {
                thead { tr { th { "" } th { "Median" } th { "p90" } th { "Incidents" } } }
                tbody {
                    (spread_row("Time to acknowledge", stats.mtta))
                    (spread_row("Time to resolve", stats.mttr))
                }
            }
            @if !stats.noisiest_alerts.is_empty() {
                h2 { "Noisiest alerts" }
                table.noisiest {
                    thead { tr { th { "Alert" } th { "Alerts" } th { "Incidents" } } }
                    tbody { @for a in &stats.noisiest_alerts { tr { td { (a.name) } td { (a.alerts) } td { (a.incidents) } } } }
                }
            }
            @if !stats.escalation_levels.is_empty() {
                h2 { "Time paged per escalation level" }
                table.levels {
                    thead { tr { th { "Level" } th { "Time" } } }
                    tbody { @for (level, spent) in &stats.escalation_levels { tr { td { (level) } td { (lasting(*spent)) } } } }
                }
            }
        },
    ))
}

/// `GET /ui/stats/chart.png`: the bar chart of incidents per service; 404 when the period
/// has no incident.
pub async fn chart(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Query(form): Query<StatsForm>,
) -> Result<Response, WebError> {
    let stats = compute(&console, &signed_in, &form).await?;
    let png = stats
        .chart()
        .ok_or_else(|| WebError::NotFound("no incident in this period, so no chart".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

fn spread_row(name: &str, spread: Option<Spread>) -> Markup {
    html! {
        tr {
            td { (name) }
            @match spread {
                Some(s) => { td { (lasting(s.median)) } td { (lasting(s.p90)) } td { (s.count) } }
                None => { td.muted colspan="3" { "no incidents to measure" } }
            }
        }
    }
}

fn lasting(duration: jiff::SignedDuration) -> String {
    crate::incidents::seconds_text(duration.as_secs())
}

fn filter_form(form: &StatsForm) -> Markup {
    html! {
        form.filters method="get" action="/ui/stats" {
            label { "Since "
                input type="text" name="since" placeholder="30d (default), 7d, all or a time" value=[form.since.as_deref()];
            }
            label { "Service "
                input type="text" name="service" placeholder="any" value=[form.service.as_deref()];
            }
            button type="submit" { "Show" }
        }
    }
}
