//! How an incident looks in chat, as neutral [`Reply`]s: the root message (edited in
//! place on every change) and the thread reply that tells what changed.

use opsbot_commands::{Button, Catalog, Reply, Status};

use super::{
    alert_tally::AlertTally,
    model::{EventKind, Incident, IncidentAlert, IncidentEvent, IncidentStatus},
};

/// `1h 23m`, `4m 10s`, `12s`.
pub fn lasted(from: jiff::Timestamp, to: jiff::Timestamp) -> String {
    seconds_text(to.as_second().saturating_sub(from.as_second()))
}

/// `secs` as [`lasted`] says it (negative: `0s`).
pub fn seconds_text(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn severity_mark(severity: &str) -> &'static str {
    match severity {
        "critical" => "🔴",
        "warning" => "🟠",
        _ => "🔵",
    }
}

/// The root message of an incident.
/// `listed`: the first alerts to show (firing first), `tally`: all of them counted;
/// `investigate`: an Investigate button while it is not resolved (`[investigator]`).
pub fn root(
    incident: &Incident,
    tally: &AlertTally,
    listed: &[IncidentAlert],
    catalog: &Catalog,
    investigate: bool,
) -> Reply {
    let id = incident.id;
    let status = match incident.status {
        IncidentStatus::Resolved => Status::Success,
        _ if incident.silenced => Status::Info,
        IncidentStatus::Acknowledged => Status::Warning,
        IncidentStatus::Open if incident.severity == "critical" => Status::Danger,
        IncidentStatus::Open => Status::Warning,
    };
    let mut reply = Reply::new(
        status,
        format!(
            "{} Incident #{id}: {}",
            severity_mark(&incident.severity),
            incident.title
        ),
    );
    let state = match incident.status {
        IncidentStatus::Open if incident.silenced => "open (silenced)".to_string(),
        IncidentStatus::Open => "open".to_string(),
        IncidentStatus::Acknowledged => format!(
            "acknowledged by {}",
            incident.acknowledged_by.as_deref().unwrap_or("someone")
        ),
        IncidentStatus::Resolved => {
            let at = incident.resolved_at.unwrap_or(incident.changed_at);
            format!(
                "resolved after {}{}",
                lasted(incident.opened_at, at),
                incident
                    .resolved_by
                    .as_deref()
                    .map(|by| format!(" by {by}"))
                    .unwrap_or_default()
            )
        }
    };
    if incident.silenced
        && incident.status != IncidentStatus::Resolved
        && let Some(reason) = &incident.silenced_reason
    {
        reply = reply.line(format!("🔕 Silenced, not paged: {reason}"));
    }
    for alert in listed {
        let mark = match (alert.is_firing(), alert.silenced) {
            (true, true) => "🔕",
            (true, false) => "🔥",
            (false, _) => "✅",
        };
        let mut line = format!("{mark} {}", alert.name);
        if alert.summary != alert.name {
            line.push_str(&format!(" — {}", alert.summary));
        }
        if let Some(instance) = alert.labels.get("instance") {
            line.push_str(&format!(" (`{instance}`)"));
        }
        reply = reply.line(line);
    }
    if tally.total > listed.len() {
        reply = reply.line(format!("…and {} more", tally.total - listed.len()));
    }
    reply = reply
        .field("Severity", incident.severity.clone())
        .field("Status", state)
        .field(
            "Service",
            match (&incident.service, &incident.environment) {
                (Some(s), Some(e)) => format!("{s} ({e})"),
                (Some(s), None) => s.clone(),
                (None, _) => "no catalog service".to_string(),
            },
        )
        .field(
            "Alerts",
            format!("{} firing of {}", tally.firing, tally.total),
        );
    if incident.escalation_level > 0 {
        reply = reply.field(
            "Escalation",
            format!("level {} paged", incident.escalation_level),
        );
    }
    let service = incident.service.as_deref().and_then(|s| catalog.get(s));
    if let Some(runbook) = service.and_then(|s| s.runbook.as_ref()) {
        reply = reply.field("Runbook", runbook.clone());
    }
    if incident.status == IncidentStatus::Open {
        reply = reply.button(Button::new("Acknowledge", format!("incident ack {id}")).primary());
    }
    if investigate && incident.status != IncidentStatus::Resolved {
        reply = reply.button(Button::new(
            "Investigate",
            format!("incident investigate {id}"),
        ));
    }
    if incident.status != IncidentStatus::Resolved {
        reply = reply.button(Button::new("Resolve", format!("incident resolve {id}")));
    } else {
        reply = reply.button(Button::new("Reopen", format!("incident reopen {id}")));
    }
    if let Some(service) = service {
        reply = reply
            .button(Button::new("Health", format!("health {}", service.name)))
            .button(
                Button::new("Restart", format!("restart {}", service.name))
                    .danger()
                    .confirming(format!("Restart {}?", service.name)),
            );
    }
    reply
}

/// One timeline event as a line.
pub fn event_line(event: &IncidentEvent) -> String {
    let by = event
        .actor
        .as_deref()
        .map(|a| format!(" by {a}"))
        .unwrap_or_default();
    match event.kind {
        EventKind::Opened => format!("🚨 Opened: {}", event.detail),
        EventKind::AlertFiring => format!("🔥 Firing: {}", event.detail),
        EventKind::AlertResolved => format!("✅ Alert resolved: {}", event.detail),
        EventKind::Acknowledged => format!("👀 Acknowledged{by}"),
        EventKind::Resolved => format!("✅ Resolved{by}: {}", event.detail),
        EventKind::Reopened => format!("🔁 Reopened: {}", event.detail),
        EventKind::Note => format!(
            "📝 {}: {}",
            event.actor.as_deref().unwrap_or("note"),
            event.detail
        ),
        EventKind::Escalated => format!("📣 {}", event.detail),
        EventKind::Silenced => format!("🔕 Silenced: {}", event.detail),
        EventKind::FollowUp => format!("📌 Follow-up{by}: {}", event.detail),
    }
}

/// The thread reply for a set of events of one change.
pub fn change(incident: &Incident, events: &[IncidentEvent], max_listed: usize) -> Reply {
    let status = if events.iter().any(|e| e.kind == EventKind::Escalated) {
        Status::Danger
    } else if incident.status == IncidentStatus::Resolved {
        Status::Success
    } else if events.iter().any(|e| e.kind == EventKind::AlertFiring) && !incident.silenced {
        Status::Warning
    } else {
        Status::Info
    };
    let mut reply = Reply::new(
        status,
        format!("Incident #{} is {}", incident.id, incident.status),
    );
    for event in events.iter().take(max_listed) {
        reply = reply.line(event_line(event));
    }
    if events.len() > max_listed {
        reply = reply.line(format!("…and {} more changes", events.len() - max_listed));
    }
    reply
}
