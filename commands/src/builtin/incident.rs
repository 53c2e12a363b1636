//! `incident [list|show|ack|resolve|reopen|note|escalate|followup|investigate] [ID] [TEXT]`:
//! look at and act on incidents opened from alerts. Typed in an incident's thread, the ID
//! may be left out. `incident ack --service SERVICE` acknowledges every open incident of a
//! service (a storm board's "Ack all" button). The record of an incident —
//! `incident timeline [ID]`, `incident postmortem [ID]` (Markdown attached) and
//! `incident stats [--since 30d] [--service S]` — comes from [`IncidentRecords`].
//! `incident investigate [ID] [QUESTION]` has the team's model look into it (or answer a
//! follow-up question), streaming its answer into the incident's thread.

use std::time::Duration;

use crate::{
    Button, CommandError, Ctx, Reply, Status,
    command::{Command, Handler},
    context::{IncidentAction, IncidentRecords, IncidentView, RecordDocument, StatsRequest},
    language::Call,
    registry::{ArgSpec, FlagSpec, Safety, ServiceArg, ValueKind},
    reply::Attachment,
};

const ACTIONS: &[&str] = &[
    "list",
    "show",
    "ack",
    "resolve",
    "reopen",
    "note",
    "escalate",
    "investigate",
    "followup",
    "timeline",
    "postmortem",
    "stats",
];

/// `incident stats` looks back this far unless `--since` says otherwise.
const STATS_DEFAULT_SINCE: Duration = Duration::from_secs(30 * 24 * 3600);

pub static COMMAND: Command = Command {
    name: "incident",
    summary: "List, show and act on incidents; read an incident's timeline, postmortem draft and stats; investigate it",
    service: ServiceArg::None,
    args: &[
        ArgSpec {
            name: "action",
            kind: ValueKind::Choice(ACTIONS),
            required: false,
            help: "list (default), show, ack, resolve, reopen, note, escalate, followup, timeline, postmortem, stats, investigate",
        },
        ArgSpec {
            name: "id",
            kind: ValueKind::Word,
            required: false,
            help: "the incident number (default: the incident of this thread)",
        },
        ArgSpec {
            name: "text",
            kind: ValueKind::Rest,
            required: false,
            help: "the note (for `note`), the follow-up item (for `followup`), a question (for `investigate`)",
        },
    ],
    flags: &[
        FlagSpec {
            name: "all",
            kind: ValueKind::Switch,
            help: "list resolved incidents too",
        },
        FlagSpec {
            name: "limit",
            kind: ValueKind::Integer { min: 1, max: 100 },
            help: "list at most this many (default 20)",
        },
        FlagSpec {
            name: "service",
            kind: ValueKind::Word,
            help: "with `ack`: every open incident of this service; with `stats`: only its incidents",
        },
        FlagSpec {
            name: "since",
            kind: ValueKind::Duration,
            help: "with `stats`: incidents opened in this past period (default 30d)",
        },
    ],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(30),
    examples: &[
        "incident list",
        "incident show 42",
        "incident ack 42",
        "incident ack --service wrkhrs-gateway",
        "incident note 42 restarted the gateway, watching",
        "incident resolve",
        "incident investigate 42",
        "incident investigate 42 why did the GPU memory fill up?",
        "incident timeline 42",
        "incident postmortem 42",
        "incident followup 42 alert on queue depth before the gateway falls over",
        "incident stats --since 30d --service wrkhrs-gateway",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let action = call.text("action").unwrap_or("list");
    if action == "list" {
        if let Some(extra) = call.text("id") {
            return Err(CommandError::Failed(format!(
                "`incident list` takes no incident number (got `{extra}`)"
            )));
        }
        let limit = call.integer("limit").unwrap_or(20) as u32;
        let incidents = ctx.incidents.list(call.switch("all"), limit).await?;
        return Ok(list_reply(&incidents, call.switch("all")));
    }
    if action == "stats" {
        return stats(call, ctx.records).await;
    }
    if call.duration("since").is_some() {
        return Err(CommandError::Failed(format!(
            "`--since` goes with `incident stats` only (not `{action}`)"
        )));
    }
    if let Some(service) = call.text("service") {
        return ack_service(action, service, call, ctx).await;
    }
    // The incident number, else the incident of this thread; a word that is not a number
    // starts the note.
    let mut note_words: Vec<String> = Vec::new();
    let given = call.text("id").map(|t| t.trim_start_matches('#'));
    let id = match given.map(str::parse::<i64>) {
        Some(Ok(id)) => id,
        other => {
            if let (Some(Err(_)), Some(word)) = (&other, call.text("id")) {
                if !takes_text(action) {
                    return Err(CommandError::Failed(format!(
                        "`{word}` is not an incident number"
                    )));
                }
                note_words.push(word.to_string());
            }
            ctx.invocation
                .incident
                .as_ref()
                .map(|incident| incident.id)
                .ok_or_else(|| {
                    CommandError::Failed(format!(
                        "which incident? say `incident {action} ID` (`incident list` shows them), \
                         or type it in the incident's thread"
                    ))
                })?
        }
    };
    if let Some(text) = call.text("text") {
        note_words.push(text.to_string());
    }
    let note = note_words.join(" ");
    let action = match action {
        "show" => return show(id, ctx).await,
        "investigate" => return investigate(id, &note, ctx).await,
        "timeline" | "postmortem" if !note.is_empty() => {
            return Err(CommandError::Failed(format!("unexpected `{note}`")));
        }
        "timeline" => return Ok(document_reply(ctx.records.timeline(id).await?)),
        "postmortem" => return Ok(document_reply(ctx.records.postmortem(id).await?)),
        "followup" if note.trim().is_empty() => {
            return Err(CommandError::Failed(
                "what is to follow up? `incident followup ID TEXT`".into(),
            ));
        }
        "followup" => IncidentAction::FollowUp(note.clone()),
        "ack" => IncidentAction::Acknowledge,
        "resolve" => IncidentAction::Resolve,
        "reopen" => IncidentAction::Reopen,
        "escalate" => IncidentAction::Escalate,
        "note" if note.trim().is_empty() => {
            return Err(CommandError::Failed(
                "what is the note? `incident note ID TEXT`".into(),
            ));
        }
        "note" => IncidentAction::Note(note.clone()),
        other => {
            return Err(CommandError::Failed(format!("unknown action `{other}`")));
        }
    };
    if !matches!(
        action,
        IncidentAction::Note(_) | IncidentAction::FollowUp(_)
    ) && !note.is_empty()
    {
        return Err(CommandError::Failed(format!("unexpected `{note}`")));
    }
    let done = match &action {
        IncidentAction::Acknowledge => "acknowledged",
        IncidentAction::Resolve => "resolved",
        IncidentAction::Reopen => "reopened",
        IncidentAction::Note(_) => "noted",
        IncidentAction::Escalate => "escalated",
        IncidentAction::FollowUp(_) => "has a new follow-up",
    };
    let view = ctx.incidents.act(id, action, ctx.invocation).await?;
    Ok(Reply::success(format!("Incident #{} {done}", view.id)).line(headline(&view)))
}

/// `incident investigate [ID] [QUESTION]`: starts (or, with a question, continues) the
/// incident's investigation; the answer streams into its thread.
async fn investigate(id: i64, question: &str, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let question = Some(question.trim()).filter(|q| !q.is_empty());
    let said = ctx
        .investigations
        .investigate(id, question, ctx.invocation)
        .await
        .map_err(CommandError::Failed)?;
    Ok(Reply::info(said))
}

/// Whether the action takes free text after the incident number.
fn takes_text(action: &str) -> bool {
    matches!(action, "note" | "followup" | "investigate")
}

/// A timeline or postmortem draft: its lines in chat, the whole of it as Markdown.
fn document_reply(document: RecordDocument) -> Reply {
    let attachment = Attachment::markdown(
        document.title.clone(),
        &document.file_stem,
        document.markdown,
    );
    Reply::info(document.title)
        .lines(document.lines)
        .attach(attachment)
}

/// `incident stats [--since 30d] [--service S]`.
async fn stats(call: &Call<'_>, records: &dyn IncidentRecords) -> Result<Reply, CommandError> {
    if let Some(extra) = call.text("id").or(call.text("text")) {
        return Err(CommandError::Failed(format!(
            "`incident stats` takes no incident number (got `{extra}`)"
        )));
    }
    let back = call.duration("since").unwrap_or(STATS_DEFAULT_SINCE);
    let since = jiff::SignedDuration::try_from(back)
        .ok()
        .and_then(|span| jiff::Timestamp::now().checked_sub(span).ok())
        .ok_or_else(|| CommandError::Failed("--since is too long".into()))?;
    let report = records
        .stats(&StatsRequest {
            since,
            service: call.text("service").map(str::to_string),
        })
        .await?;
    let mut reply = Reply::info(report.title.clone()).lines(report.lines);
    if let Some(png) = report.chart {
        reply = reply.attach(Attachment::png(report.title, png));
    }
    Ok(reply)
}

/// `incident ack --service SERVICE`.
async fn ack_service(
    action: &str,
    service: &str,
    call: &Call<'_>,
    ctx: Ctx<'_>,
) -> Result<Reply, CommandError> {
    if action != "ack" {
        return Err(CommandError::Failed(format!(
            "`--service` goes with `incident ack` only (not `{action}`)"
        )));
    }
    if let Some(extra) = call.text("id").or(call.text("text")) {
        return Err(CommandError::Failed(format!(
            "`incident ack --service {service}` takes no incident number (got `{extra}`)"
        )));
    }
    let done = ctx
        .incidents
        .acknowledge_service(service, ctx.invocation)
        .await?;
    if done.is_empty() {
        return Ok(Reply::info(format!(
            "No open incident of {service} to acknowledge"
        )));
    }
    let mut reply = Reply::success(format!(
        "Acknowledged {} incident{} of {service}",
        done.len(),
        if done.len() == 1 { "" } else { "s" }
    ));
    for view in &done {
        reply = reply.line(headline(view));
    }
    Ok(reply)
}

fn mark(view: &IncidentView) -> &'static str {
    match (view.status.as_str(), view.severity.as_str()) {
        ("resolved", _) => "✅",
        _ if view.silenced.is_some() => "🔕",
        ("acknowledged", _) => "👀",
        (_, "critical") => "🔴",
        (_, "warning") => "🟠",
        _ => "🔵",
    }
}

/// `🔴 #42 WrkHrsGatewayDown on wrkhrs-gateway — critical, open, 2/3 firing, 12m ago`.
fn headline(view: &IncidentView) -> String {
    let now = jiff::Timestamp::now();
    let mut line = format!(
        "{} #{} {} — {}, {}",
        mark(view),
        view.id,
        view.title,
        view.severity,
        view.status
    );
    if let Some(by) = &view.acknowledged_by
        && view.status == "acknowledged"
    {
        line.push_str(&format!(" by {by}"));
    }
    line.push_str(&format!(
        ", {}/{} firing, opened {}",
        view.firing,
        view.alerts,
        crate::human_duration::age(now, view.opened_at)
    ));
    line
}

fn list_reply(incidents: &[IncidentView], all: bool) -> Reply {
    if incidents.is_empty() {
        return Reply::success(if all {
            "No incidents yet"
        } else {
            "No open incidents"
        });
    }
    let open = incidents.iter().filter(|i| i.status != "resolved").count();
    let status = if incidents
        .iter()
        .any(|i| i.status == "open" && i.severity == "critical" && i.silenced.is_none())
    {
        Status::Danger
    } else if open > 0 {
        Status::Warning
    } else {
        Status::Success
    };
    let title = if all {
        format!("Incidents ({open} open)")
    } else {
        format!("Open incidents ({open})")
    };
    let mut reply = Reply::new(status, title);
    for view in incidents {
        reply = reply.line(headline(view));
    }
    reply
}

async fn show(id: i64, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let detail = ctx
        .incidents
        .show(id)
        .await?
        .ok_or_else(|| CommandError::Failed(format!("there is no incident {id}")))?;
    let view = &detail.incident;
    let status = match view.status.as_str() {
        "resolved" => Status::Success,
        _ if view.severity == "critical" => Status::Danger,
        _ => Status::Warning,
    };
    let mut reply = Reply::new(status, format!("Incident #{}: {}", view.id, view.title))
        .field("Severity", view.severity.clone())
        .field("Status", view.status.clone());
    if let Some(service) = &view.service {
        reply = reply.field("Service", service.clone());
    }
    if let Some(reason) = &view.silenced {
        reply = reply.field("Silenced", reason.clone());
    }
    reply = reply
        .line("Alerts:".to_string())
        .lines(detail.alerts.clone());
    reply = reply.line("Timeline:".to_string());
    for entry in &detail.timeline {
        reply = reply.line(format!(
            "{} {}",
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.text
        ));
    }
    if view.status == "open" {
        reply =
            reply.button(Button::new("Acknowledge", format!("incident ack {}", view.id)).primary());
    }
    if view.status != "resolved" {
        reply = reply.button(Button::new(
            "Resolve",
            format!("incident resolve {}", view.id),
        ));
    }
    Ok(reply)
}
