//! `/ui/audit`: searching the audit log (actor, service, command, decision, since), the
//! chain's verification (`/ui/audit/verify`, [`crate::audit::verify`]) and the JSON
//! Lines export (`/ui/audit/export.jsonl`, [`crate::audit::export_jsonl`]). Needs the
//! `audit` command.

use axum::{
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use opsbot_commands::context::{AuditFilter, AuditView};
use serde::Deserialize;

use super::{WebConsole, error::WebError, filters, incident_page::time, layout, session::SignedIn};
use crate::audit::{self, Decision};

/// How many entries a search shows.
const SHOWN: u32 = 200;

/// The window a search covers when `since` is left empty: the newest-first scan of a
/// window is bounded by it, a search of all history (`since=all`) reads the whole log
/// when few entries match.
const DEFAULT_WINDOW: &str = "30d";

/// `since` as typed, or the default window for an empty field (`all` stays `all`).
fn window(since: &Option<String>) -> String {
    filters::field(since).unwrap_or_else(|| DEFAULT_WINDOW.to_string())
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    actor: Option<String>,
    service: Option<String>,
    command: Option<String>,
    decision: Option<String>,
    since: Option<String>,
}

/// `GET /ui/audit`.
pub async fn search(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Query(form): Query<SearchForm>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.audit, "audit")?;
    let decision = filters::field(&form.decision);
    if let Some(decision) = &decision
        && Decision::parse(decision).is_none()
    {
        return Err(WebError::Bad(format!(
            "decision: `{decision}` is not one of {}",
            decisions().join(", ")
        )));
    }
    let filter = AuditFilter {
        limit: SHOWN,
        actor: filters::field(&form.actor),
        service: filters::field(&form.service),
        command: filters::field(&form.command),
        decision,
        since: filters::since(&Some(window(&form.since)), jiff::Timestamp::now())?,
    };
    let entries: Vec<AuditView> = console
        .audit()
        .search(&filter)
        .await?
        .into_iter()
        .map(audit::view)
        .collect();
    let window = window(&form.since);
    let export = format!(
        "/ui/audit/export.jsonl?since={}",
        form_urlencoded::byte_serialize(window.as_bytes()).collect::<String>()
    );
    Ok(layout::page(
        "Audit log",
        access,
        html! {
            (search_form(&form))
            p {
                a #verify href="/ui/audit/verify" { "Verify the chain" }
                " · "
                a #export href=(export) { "Export as JSON Lines" }
            }
            @if filters::field(&form.since).is_none() {
                p.muted #window { "Searching the last " (DEFAULT_WINDOW) "; set Since to `all` for the whole log." }
            }
            @if entries.is_empty() {
                p.muted { "No entry matches." }
            } @else {
                (entries_table(&entries))
                @if entries.len() as u32 == SHOWN {
                    p.muted { "The newest " (SHOWN) " shown; narrow the filters for older ones." }
                }
            }
        },
    ))
}

fn decisions() -> Vec<&'static str> {
    Decision::ALL.iter().map(|d| d.as_str()).collect()
}

fn search_form(form: &SearchForm) -> Markup {
    let text = |name: &str, label: &str, value: &Option<String>, hint: &str| {
        html! {
            label { (label) " "
                input type="text" name=(name) placeholder=(hint) value=[value.as_deref()];
            }
        }
    };
    html! {
        form.filters method="get" action="/ui/audit" {
            (text("actor", "Actor", &form.actor, "id or name"))
            (text("service", "Service", &form.service, "any"))
            (text("command", "Command", &form.command, "any"))
            label { "Decision "
                select name="decision" {
                    option value="" { "any" }
                    @for decision in decisions() {
                        option value=(decision) selected[form.decision.as_deref() == Some(decision)] { (decision) }
                    }
                }
            }
            (text("since", "Since", &form.since, "30d (default), 7d, all or a time"))
            button type="submit" { "Search" }
        }
    }
}

/// Audit entries as a table (the audit page, an incident's page).
pub fn entries_table(entries: &[AuditView]) -> Markup {
    html! {
        table.audit {
            thead { tr { th { "#" } th { "When" } th { "Who" } th { "Where" } th { "What" } th { "Decision" } th { "Outcome" } th { "Summary" } } }
            tbody {
                @for e in entries {
                    tr {
                        td { (e.seq) }
                        td { (time(e.at)) }
                        td { (e.actor_name) span.muted { " (" (e.actor_id) ")" } }
                        td { (e.platform) " " (e.channel) }
                        td { code { (e.text) } }
                        td { (e.decision)
                            @if let Some(approver) = &e.approver { span.muted { " approved by " (approver) } }
                            @if !e.reason.is_empty() { div.muted { (e.reason) } } }
                        td { (e.status) }
                        td { (e.summary) }
                    }
                }
            }
        }
    }
}

/// `GET /ui/audit/verify`: checks the whole chain now.
pub async fn verify(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.audit, "audit")?;
    let report = audit::verify(console.engine().store()).await?;
    Ok(layout::page(
        "Audit chain",
        access,
        html! {
            p #verification class=(if report.is_ok() { "status-resolved" } else { "error" }) {
                (report.to_string())
            }
            p { a href="/ui/audit" { "Back to the audit log" } }
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct ExportForm {
    since: Option<String>,
}

/// `GET /ui/audit/export.jsonl`: every entry (since a time) as JSON Lines, a download.
pub async fn export(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Query(form): Query<ExportForm>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.audit, "audit")?;
    let since = filters::since(&form.since, jiff::Timestamp::now())?;
    let mut out = Vec::new();
    let lines = audit::export_jsonl(console.engine().store(), since, &mut out).await?;
    tracing::info!(actor = %access.actor.key(), lines, "audit exported from the web console");
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"opsbot-audit.jsonl\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_since_searches_the_default_window_and_all_searches_everything() {
        assert_eq!(window(&None), DEFAULT_WINDOW);
        assert_eq!(window(&Some("  ".into())), DEFAULT_WINDOW);
        assert_eq!(window(&Some("7d".into())), "7d");
        let now: jiff::Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        assert_eq!(
            filters::since(&Some(window(&None)), now).unwrap(),
            Some("2026-11-07T10:00:00Z".parse().unwrap())
        );
        assert_eq!(
            filters::since(&Some(window(&Some("all".into()))), now).unwrap(),
            None
        );
    }
}
