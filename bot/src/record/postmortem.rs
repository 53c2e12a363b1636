//! [`Postmortem`]: a draft postmortem of an incident, from its record — summary, impact
//! window, time to acknowledge, to mitigate (the first successful restart, rollback,
//! scale or runbook run) and to resolve, the timeline, the actions taken (who, and the
//! audit entries that prove it), the follow-ups (`incident followup`), and whether the
//! audit entries it cites still verify ([`CitationCheck`]). Reads only.

use crate::{
    audit::{AuditEntry, Decision, Outcome},
    incidents::EventKind,
    store::Store,
};

use super::{
    RecordError,
    citations::CitationCheck,
    markdown::{cell, duration, time},
    sources::IncidentSources,
    timeline::{Timeline, command_text},
};

/// Commands that change something on a service: the first successful one mitigates.
const MITIGATIONS: &[&str] = &["restart", "rollback", "scale"];
/// Commands that are actions taken when they were let through.
const ACTIONS: &[&str] = &[
    "restart",
    "rollback",
    "scale",
    "runbook",
    "silence",
    "automation",
    "incident",
];
/// Action words of `incident` and `runbook` calls that only read.
const READING_WORDS: &[&str] = &["list", "show", "status", "timeline", "postmortem", "stats"];

/// A moment of the response, and what or who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Milestone {
    pub at: jiff::Timestamp,
    /// `Alice (slack:U1)`, `` `restart wrkhrs-gateway` by Alice (audit #12) ``.
    pub by: String,
}

/// How the response went, in times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseTimes {
    pub opened_at: jiff::Timestamp,
    /// The earliest alert start the source reported (or the opening).
    pub impact_start: jiff::Timestamp,
    /// The last alert end, or the resolution; `None` while it lasts.
    pub impact_end: Option<jiff::Timestamp>,
    pub acknowledged: Option<Milestone>,
    pub mitigated: Option<Milestone>,
    pub resolved: Option<Milestone>,
}

impl ResponseTimes {
    fn since_opened(&self, milestone: &Option<Milestone>) -> Option<jiff::SignedDuration> {
        milestone
            .as_ref()
            .map(|m| m.at.duration_since(self.opened_at))
    }

    pub fn to_acknowledge(&self) -> Option<jiff::SignedDuration> {
        self.since_opened(&self.acknowledged)
    }

    pub fn to_mitigate(&self) -> Option<jiff::SignedDuration> {
        self.since_opened(&self.mitigated)
    }

    pub fn to_resolve(&self) -> Option<jiff::SignedDuration> {
        self.since_opened(&self.resolved)
    }
}

/// An action someone took, with the audit entry that records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub at: jiff::Timestamp,
    pub who: String,
    pub what: String,
    pub audit_seq: i64,
}

/// A follow-up item (`incident followup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUp {
    pub at: jiff::Timestamp,
    pub by: Option<String>,
    pub text: String,
}

/// A postmortem draft.
#[derive(Clone, Debug)]
pub struct Postmortem {
    pub timeline: Timeline,
    pub times: ResponseTimes,
    pub actions: Vec<Action>,
    pub follow_ups: Vec<FollowUp>,
    /// The verification of every audit entry the draft cites, and of the chain.
    pub evidence: CitationCheck,
    pub drafted_at: jiff::Timestamp,
}

impl Postmortem {
    /// Drafts the postmortem of incident `id` from the store, as of `now`.
    pub async fn draft(store: &Store, id: i64, now: jiff::Timestamp) -> Result<Self, RecordError> {
        let sources = IncidentSources::load(store, id).await?;
        let timeline = Timeline::merge(&sources);
        let evidence = CitationCheck::run(store, &timeline.audit_seqs()).await?;
        Ok(Self {
            times: response_times(&sources),
            actions: sources
                .audit
                .iter()
                .filter(|e| is_action(e))
                .map(|e| Action {
                    at: e.record.at,
                    who: actor(e),
                    what: command_text(e),
                    audit_seq: e.seq,
                })
                .collect(),
            follow_ups: sources
                .events
                .iter()
                .filter(|e| e.kind == EventKind::FollowUp)
                .map(|e| FollowUp {
                    at: e.at,
                    by: e.actor.clone(),
                    text: e.detail.clone(),
                })
                .collect(),
            timeline,
            evidence,
            drafted_at: now,
        })
    }

    /// `Postmortem draft: Incident #42: …`.
    pub fn heading(&self) -> String {
        format!("Postmortem draft: {}", self.timeline.heading())
    }

    /// The concise chat message.
    pub fn chat_lines(&self) -> Vec<String> {
        let t = &self.times;
        let mut lines = vec![
            format!(
                "Time to acknowledge {}, to mitigate {}, to resolve {}",
                or_not_yet(t.to_acknowledge()),
                or_not_yet(t.to_mitigate()),
                or_not_yet(t.to_resolve())
            ),
            format!(
                "{} actions taken, {} follow-ups, {} timeline entries",
                self.actions.len(),
                self.follow_ups.len(),
                self.timeline.entries.len()
            ),
        ];
        lines.push(self.evidence.summary());
        lines
    }

    /// The draft as Markdown.
    pub fn to_markdown(&self) -> String {
        let t = &self.times;
        let timeline = &self.timeline;
        let mut out = format!(
            "# {}\n\n_Drafted by opsbot at {} UTC from the store and the audit log: edit it \
             before you share it._\n\n## Summary\n\n{}\n",
            self.heading(),
            time(self.drafted_at),
            timeline.facts_markdown()
        );
        out.push_str("_What happened and why, in a few sentences: to be written._\n\n");
        out.push_str("## Impact\n\n");
        let end = match t.impact_end {
            Some(end) => format!(
                "{} ({})",
                time(end),
                duration(end.duration_since(t.impact_start))
            ),
            None => "ongoing".to_string(),
        };
        out.push_str(&format!(
            "- Window: {} – {end}\n- Alerts: {}\n\n",
            time(t.impact_start),
            timeline.alerts.len()
        ));
        out.push_str(&timeline.alerts_markdown());
        out.push_str("\n## Response times\n\n| Measure | Time | When and how |\n|---|---|---|\n");
        for (measure, span, milestone) in [
            ("Time to acknowledge", t.to_acknowledge(), &t.acknowledged),
            ("Time to mitigate", t.to_mitigate(), &t.mitigated),
            ("Time to resolve", t.to_resolve(), &t.resolved),
        ] {
            let how = milestone
                .as_ref()
                .map(|m| format!("{} {}", time(m.at), m.by))
                .unwrap_or_default();
            out.push_str(&format!(
                "| {measure} | {} | {} |\n",
                or_not_yet(span),
                cell(&how)
            ));
        }
        out.push_str("\n## Timeline\n\n");
        out.push_str(&timeline.entries_markdown());
        out.push_str("\n## Actions taken\n\n");
        if self.actions.is_empty() {
            out.push_str("None recorded in the audit log.\n");
        }
        for action in &self.actions {
            out.push_str(&format!(
                "- {} {}: {} — audit #{}\n",
                time(action.at),
                action.who,
                action.what,
                action.audit_seq
            ));
        }
        out.push_str("\n## Follow-ups\n\n");
        if self.follow_ups.is_empty() {
            out.push_str("None yet (`incident followup ID TEXT` adds one).\n");
        }
        for item in &self.follow_ups {
            let by = item
                .by
                .as_deref()
                .map(|b| format!(" ({b}, {})", time(item.at)))
                .unwrap_or_default();
            out.push_str(&format!("- [ ] {}{by}\n", item.text));
        }
        out.push_str("\n## Audit evidence\n\n");
        out.push_str(&format!("{}\n\n", self.evidence.summary()));
        if !self.evidence.citations.is_empty() {
            out.push_str("| Audit entry | Verification |\n|---|---|\n");
            for citation in &self.evidence.citations {
                let status = match &citation.problem {
                    None => "✅ hash and links hold".to_string(),
                    Some(problem) => format!("❌ TAMPERED: {}", cell(problem)),
                };
                out.push_str(&format!("| #{} | {status} |\n", citation.seq));
            }
        }
        out
    }
}

fn or_not_yet(span: Option<jiff::SignedDuration>) -> String {
    span.map(duration).unwrap_or_else(|| "—".to_string())
}

fn actor(entry: &AuditEntry) -> String {
    let r = &entry.record;
    opsbot_commands::actor_label(&r.platform, &r.actor_id, &r.actor_name)
}

fn let_through(entry: &AuditEntry) -> bool {
    matches!(
        entry.record.decision,
        Decision::Allowed | Decision::Approved
    )
}

fn is_action(entry: &AuditEntry) -> bool {
    let Some(command) = entry.record.command.as_deref() else {
        return false;
    };
    if !ACTIONS.contains(&command) || !let_through(entry) {
        return false;
    }
    // The action word of `incident ACTION …` and `runbook ACTION …`; a bare `incident`
    // lists incidents.
    match entry.record.text.split_whitespace().nth(1) {
        Some(action) => !READING_WORDS.contains(&action),
        None => command != "incident",
    }
}

fn response_times(sources: &IncidentSources) -> ResponseTimes {
    let incident = &sources.incident;
    let impact_start = sources
        .alerts
        .iter()
        .filter_map(|a| a.starts_at)
        .chain([incident.opened_at])
        .min()
        .unwrap_or(incident.opened_at);
    let all_ended =
        !sources.alerts.is_empty() && sources.alerts.iter().all(|a| a.status != "firing");
    let last_end = sources.alerts.iter().filter_map(|a| a.ends_at).max();
    let impact_end = match (all_ended, last_end) {
        (true, Some(end)) => Some(end),
        _ => incident.resolved_at,
    };
    let acknowledged = sources
        .events
        .iter()
        .find(|e| e.kind == EventKind::Acknowledged)
        .map(|e| Milestone {
            at: e.at,
            by: e.actor.clone().unwrap_or_default(),
        });
    let by_command = sources
        .audit
        .iter()
        .find(|e| {
            e.record
                .command
                .as_deref()
                .is_some_and(|c| MITIGATIONS.contains(&c))
                && let_through(e)
                && e.record.outcome == Outcome::Ok
        })
        .map(|e| Milestone {
            at: e.record.at,
            by: format!("`{}` by {} (audit #{})", e.record.text, actor(e), e.seq),
        });
    let by_runbook = sources
        .runbook_runs
        .iter()
        .filter(|r| r.state == "succeeded")
        .filter_map(|r| {
            Some(Milestone {
                at: r.finished_at?,
                by: format!("runbook `{}` run #{} by {}", r.runbook, r.id, r.started_by),
            })
        })
        .min_by_key(|m| m.at);
    let mitigated = match (by_command, by_runbook) {
        (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
        (a, b) => a.or(b),
    };
    let resolved = incident.resolved_at.map(|at| Milestone {
        at,
        by: incident
            .resolved_by
            .clone()
            .unwrap_or_else(|| "the alert source".to_string()),
    });
    ResponseTimes {
        opened_at: incident.opened_at,
        impact_start,
        impact_end,
        acknowledged,
        mitigated,
        resolved,
    }
}
