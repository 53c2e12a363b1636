//! [`Timeline`]: one chronological record of an incident, merged from every source the
//! store holds ([`IncidentSources`]): alerts starting and ending, the incident's own
//! events (opened, firing, resolved, pages and escalations, acknowledgements, notes,
//! follow-ups), the audit entries of commands typed in its thread or run on its service
//! (who, what, decision, approver, result, audit seq), runbook runs and their steps, and
//! health gate passes. Rendered for chat ([`Timeline::chat_lines`]) and as Markdown
//! ([`Timeline::to_markdown`]). Reads only.

use crate::{
    audit::{AuditEntry, Decision},
    incidents::{EventKind, Incident, IncidentAlert, event_line},
    store::Store,
};

use super::{
    RecordError,
    markdown::{cell, time},
    sources::{IncidentSources, RunbookRunRecord},
};

/// Where a timeline entry comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// An alert started or ended, as its source reported.
    Alert,
    /// An event of the incident's own timeline.
    Incident(EventKind),
    /// An audit entry: a command typed, decided or run.
    Command,
    /// A runbook run started or ended.
    Runbook,
    /// A step of a runbook run.
    RunbookStep,
    /// A revision of the service passed the health gate.
    HealthGate,
}

impl EntryKind {
    /// `alert`, `incident`, `command`, `runbook`, `health gate`.
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Alert => "alert",
            EntryKind::Incident(_) => "incident",
            EntryKind::Command => "command",
            EntryKind::Runbook | EntryKind::RunbookStep => "runbook",
            EntryKind::HealthGate => "health gate",
        }
    }
}

/// One line of the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub at: jiff::Timestamp,
    pub kind: EntryKind,
    /// Who did it, when someone did (`Alice (slack:U1)`).
    pub actor: Option<String>,
    pub text: String,
    /// The audit entry it is, for commands.
    pub audit_seq: Option<i64>,
}

/// An incident's whole story, oldest entry first.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub incident: Incident,
    pub alerts: Vec<IncidentAlert>,
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// Reads incident `id`'s record from the store and merges it.
    pub async fn load(store: &Store, id: i64) -> Result<Self, RecordError> {
        Ok(Self::merge(&IncidentSources::load(store, id).await?))
    }

    /// Merges what was read into one chronological list. Entries at the same time keep
    /// the order alerts, incident events, commands, runbooks, health gates (each in the
    /// order it was written).
    pub fn merge(sources: &IncidentSources) -> Self {
        let mut entries = Vec::new();
        for alert in &sources.alerts {
            if let Some(at) = alert.starts_at {
                entries.push(alert_entry(at, alert, "started firing"));
            }
            if let (Some(at), false) = (alert.ends_at, alert.status == "firing") {
                entries.push(alert_entry(at, alert, "ended"));
            }
        }
        entries.extend(sources.events.iter().map(|event| Entry {
            at: event.at,
            kind: EntryKind::Incident(event.kind),
            actor: event.actor.clone(),
            text: event_line(event),
            audit_seq: None,
        }));
        entries.extend(sources.audit.iter().map(command_entry));
        for run in &sources.runbook_runs {
            runbook_entries(run, &mut entries);
        }
        entries.extend(sources.health_gates.iter().map(|pass| {
            let images = if pass.images.is_empty() {
                String::new()
            } else {
                format!(" ({})", pass.images.join(", "))
            };
            Entry {
                at: pass.passed_at,
                kind: EntryKind::HealthGate,
                actor: Some(pass.passed_by.clone()),
                text: format!(
                    "🩺 Health gate passed: revision {} `{}`{images} in {}",
                    pass.revision, pass.revision_id, pass.environment
                ),
                audit_seq: None,
            }
        }));
        entries.sort_by_key(|entry| entry.at);
        Self {
            incident: sources.incident.clone(),
            alerts: sources.alerts.clone(),
            entries,
        }
    }

    /// `Incident #42: WrkHrsGatewayDown on wrkhrs-gateway`.
    pub fn heading(&self) -> String {
        format!("Incident #{}: {}", self.incident.id, self.incident.title)
    }

    /// The audit entries it cites, in order.
    pub fn audit_seqs(&self) -> Vec<i64> {
        self.entries.iter().filter_map(|e| e.audit_seq).collect()
    }

    /// The concise chat message: what the record holds and its last `last` entries.
    pub fn chat_lines(&self, last: usize) -> Vec<String> {
        let count = |f: fn(&EntryKind) -> bool| self.entries.iter().filter(|e| f(&e.kind)).count();
        let mut lines = vec![format!(
            "{} entries: {} incident events, {} alert reports, {} commands (audited), \
             {} runbook entries, {} health gate passes",
            self.entries.len(),
            count(|k| matches!(k, EntryKind::Incident(_))),
            count(|k| matches!(k, EntryKind::Alert)),
            count(|k| matches!(k, EntryKind::Command)),
            count(|k| matches!(k, EntryKind::Runbook | EntryKind::RunbookStep)),
            count(|k| matches!(k, EntryKind::HealthGate)),
        )];
        let skip = self.entries.len().saturating_sub(last);
        if skip > 0 {
            lines.push(format!("… {skip} earlier entries in the attached file"));
        }
        lines.extend(
            self.entries[skip..]
                .iter()
                .map(|e| format!("{} {}", time(e.at), e.text)),
        );
        lines
    }

    /// The facts of the incident as a Markdown list.
    pub fn facts_markdown(&self) -> String {
        let i = &self.incident;
        let mut out = String::new();
        let service = match (&i.service, &i.environment) {
            (Some(s), Some(e)) => format!("{s} ({e})"),
            (Some(s), None) => s.clone(),
            (None, _) => "none matched".to_string(),
        };
        out.push_str(&format!("- Service: {service}\n"));
        out.push_str(&format!("- Severity: {}\n", i.severity));
        out.push_str(&format!("- Status: {}\n", i.status));
        out.push_str(&format!("- Opened: {}\n", time(i.opened_at)));
        if let Some(at) = i.acknowledged_at {
            let by = i.acknowledged_by.as_deref().unwrap_or("someone");
            out.push_str(&format!("- Acknowledged: {} by {by}\n", time(at)));
        }
        if let Some(at) = i.resolved_at {
            let by = i.resolved_by.as_deref().unwrap_or("the alert source");
            out.push_str(&format!("- Resolved: {} by {by}\n", time(at)));
        }
        out
    }

    /// The alerts as a Markdown table.
    pub fn alerts_markdown(&self) -> String {
        if self.alerts.is_empty() {
            return "No alerts.\n".to_string();
        }
        let mut out = String::from(
            "| Alert | Status | Severity | Started | Ended | Summary |\n|---|---|---|---|---|---|\n",
        );
        for a in &self.alerts {
            out.push_str(&format!(
                "| {} | {}{} | {} | {} | {} | {} |\n",
                cell(&a.name),
                cell(&a.status),
                if a.silenced { ", silenced" } else { "" },
                cell(&a.severity),
                a.starts_at.map(time).unwrap_or_default(),
                a.ends_at.map(time).unwrap_or_default(),
                cell(&a.summary),
            ));
        }
        out
    }

    /// The entries as a Markdown table.
    pub fn entries_markdown(&self) -> String {
        let mut out =
            String::from("| Time (UTC) | Source | Who | What | Audit |\n|---|---|---|---|---|\n");
        for e in &self.entries {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                time(e.at),
                e.kind.label(),
                cell(e.actor.as_deref().unwrap_or("")),
                cell(&e.text),
                e.audit_seq.map(|s| format!("#{s}")).unwrap_or_default(),
            ));
        }
        out
    }

    /// The whole record as a Markdown document.
    pub fn to_markdown(&self) -> String {
        format!(
            "# {} — timeline\n\n{}\n## Alerts\n\n{}\n## Timeline\n\n{}",
            self.heading(),
            self.facts_markdown(),
            self.alerts_markdown(),
            self.entries_markdown()
        )
    }
}

fn alert_entry(at: jiff::Timestamp, alert: &IncidentAlert, what: &str) -> Entry {
    Entry {
        at,
        kind: EntryKind::Alert,
        actor: None,
        text: format!("Alert {} {what}: {}", alert.name, alert.summary),
        audit_seq: None,
    }
}

/// `` `restart wrkhrs-gateway` allowed, ok: restarted (approved by Bob) ``.
pub(crate) fn command_text(entry: &AuditEntry) -> String {
    let r = &entry.record;
    let mut text = format!("`{}` {}", r.text, r.decision.as_str());
    if matches!(r.decision, Decision::Allowed | Decision::Approved) {
        text.push_str(&format!(", {}", r.outcome.as_str()));
    }
    match (r.summary.is_empty(), r.reason.is_empty()) {
        (false, _) => text.push_str(&format!(": {}", r.summary)),
        (true, false) => text.push_str(&format!(": {}", r.reason)),
        (true, true) => {}
    }
    if let Some(approver) = &r.approver {
        text.push_str(&format!(" (approved by {approver})"));
    }
    text
}

fn command_entry(entry: &AuditEntry) -> Entry {
    let r = &entry.record;
    Entry {
        at: r.at,
        kind: EntryKind::Command,
        actor: Some(opsbot_commands::actor_label(
            &r.platform,
            &r.actor_id,
            &r.actor_name,
        )),
        text: command_text(entry),
        audit_seq: Some(entry.seq),
    }
}

fn runbook_entries(run: &RunbookRunRecord, entries: &mut Vec<Entry>) {
    entries.push(Entry {
        at: run.started_at,
        kind: EntryKind::Runbook,
        actor: Some(run.started_by.clone()),
        text: format!("▶️ Runbook `{}` run #{} started", run.runbook, run.id),
        audit_seq: None,
    });
    for step in &run.steps {
        let Some(at) = step.finished_at.or(step.started_at) else {
            continue;
        };
        let mut text = format!(
            "Runbook run #{} {}step {}: {} — {}",
            run.id,
            if step.rollback { "rollback " } else { "" },
            step.position,
            step.description,
            step.state
        );
        if !step.detail.is_empty() {
            text.push_str(&format!(": {}", step.detail));
        }
        entries.push(Entry {
            at,
            kind: EntryKind::RunbookStep,
            actor: step.answered_by.clone(),
            text,
            audit_seq: None,
        });
    }
    if let Some(at) = run.finished_at {
        entries.push(Entry {
            at,
            kind: EntryKind::Runbook,
            actor: None,
            text: format!("⏹ Runbook `{}` run #{} {}", run.runbook, run.id, run.state),
            audit_seq: None,
        });
    }
}
