//! `/ui/incidents`: the incidents (open first), filtered by service, status and since.
//! Needs the `incident` command.

use axum::{
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    WebConsole,
    error::WebError,
    filters,
    incident_list::{self, IncidentFilter, IncidentRow, STATUSES},
    layout,
    session::SignedIn,
};

#[derive(Debug, Default, Deserialize)]
pub struct ListForm {
    service: Option<String>,
    status: Option<String>,
    since: Option<String>,
}

pub async fn list(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Query(form): Query<ListForm>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.incidents, "incident")?;
    let status = filters::field(&form.status);
    if let Some(status) = &status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(WebError::Bad(format!(
            "status: `{status}` is not one of {}",
            STATUSES.join(", ")
        )));
    }
    let filter = IncidentFilter {
        service: filters::field(&form.service),
        status,
        since: filters::since(&form.since, jiff::Timestamp::now())?,
    };
    let rows = incident_list::incidents(console.engine().store(), &filter).await?;
    let services: Vec<String> = console
        .engine()
        .catalog()
        .services()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    Ok(layout::page(
        "Incidents",
        access,
        html! {
            (filter_form(&form, &services))
            @if rows.is_empty() {
                p.muted { "No incident matches." }
            } @else {
                (table(&rows))
                @if rows.len() as i64 == incident_list::PAGE {
                    p.muted { "The first " (incident_list::PAGE) " shown; narrow the filters for others." }
                }
            }
        },
    ))
}

fn filter_form(form: &ListForm, services: &[String]) -> Markup {
    let chosen = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    html! {
        form.filters method="get" action="/ui/incidents" {
            label { "Service "
                select name="service" {
                    option value="" { "any" }
                    @for service in services {
                        option value=(service) selected[chosen(&form.service, service)] { (service) }
                    }
                }
            }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for status in STATUSES {
                        option value=(status) selected[chosen(&form.status, status)] { (status) }
                    }
                }
            }
            label { "Since "
                input type="text" name="since" placeholder="24h, 7d or a time" value=[form.since.as_deref()];
            }
            button type="submit" { "Filter" }
        }
    }
}

fn table(rows: &[IncidentRow]) -> Markup {
    html! {
        table #incidents {
            thead { tr { th { "#" } th { "Status" } th { "Severity" } th { "Service" } th { "Title" } th { "Opened" } th { "Acknowledged by" } } }
            tbody {
                @for row in rows {
                    tr {
                        td { a href={ "/ui/incidents/" (row.id) } { (row.id) } }
                        td class={ "status-" (row.status) } { (row.status) }
                        td { (row.severity) }
                        td { (row.service.as_deref().unwrap_or("—"))
                            @if let Some(env) = &row.environment { span.muted { " (" (env) ")" } } }
                        td { a href={ "/ui/incidents/" (row.id) } { (row.title) } }
                        td { (row.opened_at.strftime("%Y-%m-%d %H:%M:%S UTC")) }
                        td { (row.acknowledged_by.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}
