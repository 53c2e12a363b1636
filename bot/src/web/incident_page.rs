//! `/ui/incidents/ID`: one incident's story — its state, alerts, its record's timeline
//! ([`crate::record::Timeline`]: alerts, events, audited commands, runbook steps, health
//! gate passes) and the audit entries of what was done about it — with acknowledge /
//! resolve / reopen / note buttons (when the roles allow `incident`), live updates while it
//! is not resolved (`/ui/incidents/ID/live` is the part that refreshes; [`super::events`]
//! says when), and its postmortem draft as Markdown (`/ui/incidents/ID/postmortem.md`).
//!
//! [`story`] is the one place that gathers the story from the store.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse as _, Response},
};
use maud::{Markup, html};
use opsbot_commands::{
    Reply,
    context::{AuditFilter, AuditView, IncidentDesk, IncidentDetail},
};

use super::{WebConsole, access::Access, error::WebError, layout, session::SignedIn};
use crate::{
    audit::view,
    record::{Postmortem, RecordError, Timeline},
};

/// How many audit entries the page shows at most (per source).
const AUDIT_ENTRIES: u32 = 200;

/// Everything the page tells about one incident.
#[derive(Clone, Debug)]
pub struct Story {
    pub detail: IncidentDetail,
    /// The incident's record, merged from every source, oldest first.
    pub timeline: Timeline,
    /// What was done about it, oldest first: commands on its service while it was not
    /// resolved, and `incident` commands naming it. Empty unless the reader may `audit`.
    pub audit: Vec<AuditView>,
}

/// The story of incident `id`, `None` when there is none; its audit entries only with
/// `with_audit`.
pub async fn story(
    console: &WebConsole,
    id: i64,
    with_audit: bool,
) -> Result<Option<Story>, WebError> {
    let detail = match console.incidents().show(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return Ok(None),
        Err(opsbot_commands::context::DeskError::Refused(why)) => return Err(WebError::Bad(why)),
        Err(error) => return Err(WebError::Failed(error.to_string())),
    };
    let timeline = Timeline::load(console.engine().store(), id)
        .await
        .map_err(record_error)?;
    let audit = if with_audit {
        audit_of(console, &detail).await?
    } else {
        Vec::new()
    };
    Ok(Some(Story {
        detail,
        timeline,
        audit,
    }))
}

fn record_error(error: RecordError) -> WebError {
    match error {
        RecordError::NoIncident(id) => not_found(id),
        RecordError::Store(error) => WebError::Store(error),
        error => WebError::Failed(error.to_string()),
    }
}

/// `GET /ui/incidents/ID/postmortem.md`: the incident's postmortem draft (what
/// `incident postmortem ID` attaches in chat), to download and edit.
pub async fn postmortem(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path(file): Path<(i64, String)>,
) -> Result<Response, WebError> {
    let (id, name) = file;
    if name != "postmortem.md" {
        return Err(WebError::NotFound(format!("there is no {name} here")));
    }
    let access = &signed_in.access;
    access.require(access.incidents, "incident")?;
    let draft = Postmortem::draft(console.engine().store(), id, jiff::Timestamp::now())
        .await
        .map_err(record_error)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"incident-{id}-postmortem.md\""),
            ),
        ],
        draft.to_markdown(),
    )
        .into_response())
}

async fn audit_of(
    console: &WebConsole,
    detail: &IncidentDetail,
) -> Result<Vec<AuditView>, WebError> {
    let incident = &detail.incident;
    let since = Some(incident.opened_at);
    let mut entries = Vec::new();
    if let Some(service) = &incident.service {
        let on_service = console
            .audit()
            .search(&AuditFilter {
                limit: AUDIT_ENTRIES,
                service: Some(service.clone()),
                since,
                ..AuditFilter::default()
            })
            .await?;
        let until = incident.resolved_at;
        entries.extend(
            on_service
                .into_iter()
                .filter(|e| until.is_none_or(|until| e.record.at <= until)),
        );
    }
    let id = incident.id.to_string();
    let naming = console
        .audit()
        .search(&AuditFilter {
            limit: AUDIT_ENTRIES,
            command: Some("incident".into()),
            since,
            ..AuditFilter::default()
        })
        .await?;
    entries.extend(
        naming
            .into_iter()
            .filter(|e| e.record.text.split_whitespace().any(|word| word == id)),
    );
    entries.sort_by_key(|e| e.seq);
    entries.dedup_by_key(|e| e.seq);
    Ok(entries.into_iter().map(view).collect())
}

/// `GET /ui/incidents/ID`.
pub async fn page(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    render(&console, &signed_in.access, id, None).await
}

/// `GET /ui/incidents/ID/live`: the part of the page that live updates replace.
pub async fn live(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.incidents, "incident")?;
    let story = story(&console, id, access.audit)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(layout::fragment(live_part(&story, access)))
}

fn not_found(id: i64) -> WebError {
    WebError::NotFound(format!("there is no incident {id}"))
}

/// The whole page, with `result` (the reply to an action just taken) on top.
pub async fn render(
    console: &WebConsole,
    access: &Access,
    id: i64,
    result: Option<&Reply>,
) -> Result<Response, WebError> {
    access.require(access.incidents, "incident")?;
    let story = story(console, id, access.audit)
        .await?
        .ok_or_else(|| not_found(id))?;
    let incident = &story.detail.incident;
    let open = incident.status != "resolved";
    Ok(layout::page(
        &format!("Incident {}: {}", incident.id, incident.title),
        access,
        html! {
            @if let Some(reply) = result {
                div.result #result {
                    strong { (reply.status.emoji()) " " (reply.title) }
                    @for line in &reply.lines { div { (line) } }
                }
            }
            (actions(incident.id, &incident.status, access))
            p { a #postmortem href={ "/ui/incidents/" (id) "/postmortem.md" } { "Postmortem draft (Markdown)" } }
            @if open {
                div #live data-live={ "/ui/incidents/" (id) "/live" } data-events={ "/ui/incidents/" (id) "/events" } {
                    (live_part(&story, access))
                }
            } @else {
                div #live { (live_part(&story, access)) }
            }
        },
    ))
}

fn actions(id: i64, status: &str, access: &Access) -> Markup {
    let button = |action: &str, label: &str| {
        html! {
            form method="post" action={ "/ui/incidents/" (id) "/" (action) } {
                input type="hidden" name="csrf" value=(access.csrf);
                button id={ "action-" (action) } type="submit" { (label) }
            }
        }
    };
    html! {
        div.actions {
            @if status == "open" { (button("ack", "Acknowledge")) }
            @if status != "resolved" { (button("resolve", "Resolve")) }
            @if status == "resolved" { (button("reopen", "Reopen")) }
            form method="post" action={ "/ui/incidents/" (id) "/note" } {
                input type="hidden" name="csrf" value=(access.csrf);
                input #note-text type="text" name="text" placeholder="Add a note" required;
                button #action-note type="submit" { "Note" }
            }
        }
    }
}

fn live_part(story: &Story, access: &Access) -> Markup {
    let incident = &story.detail.incident;
    html! {
        table #summary {
            tr { th { "Status" } td #status class={ "status-" (incident.status) } { (incident.status) } }
            tr { th { "Severity" } td { (incident.severity) } }
            tr { th { "Service" } td { (incident.service.as_deref().unwrap_or("—"))
                @if let Some(env) = &incident.environment { " (" (env) ")" } } }
            tr { th { "Opened" } td { (time(incident.opened_at)) } }
            @if let Some(by) = &incident.acknowledged_by {
                tr { th { "Acknowledged by" } td #acknowledged-by { (by) } }
            }
            @if let Some(at) = incident.resolved_at {
                tr { th { "Resolved" } td { (time(at)) } }
            }
            @if let Some(why) = &incident.silenced {
                tr { th { "Silenced" } td { (why) } }
            }
            tr { th { "Escalation level" } td { (incident.escalation_level) } }
        }
        h2 { "Alerts" }
        ul #alerts { @for alert in &story.detail.alerts { li { (alert) } } }
        h2 { "Timeline" }
        table #timeline {
            @for entry in &story.timeline.entries {
                tr {
                    td { (time(entry.at)) }
                    td { (entry.kind.label()) }
                    td { (entry.actor.as_deref().unwrap_or("")) }
                    td {
                        (entry.text)
                        @if let Some(seq) = entry.audit_seq { " " span.muted { "(audit #" (seq) ")" } }
                    }
                }
            }
        }
        @if access.audit {
            h2 { "Audit" }
            @if story.audit.is_empty() {
                p.muted { "No command was run about it yet." }
            } @else {
                (super::audit_page::entries_table(&story.audit))
            }
        }
    }
}

/// How the console prints a time.
pub fn time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}
