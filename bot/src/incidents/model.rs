//! What the incident tables hold, as types: an incident, its status, its alerts and its
//! timeline events.

use std::{collections::BTreeMap, fmt};

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IncidentStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(IncidentStatus::Open),
            "acknowledged" => Some(IncidentStatus::Acknowledged),
            "resolved" => Some(IncidentStatus::Resolved),
            _ => None,
        }
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry kind of an incident's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Opened,
    AlertFiring,
    AlertResolved,
    Acknowledged,
    Resolved,
    Reopened,
    Note,
    Escalated,
    Silenced,
    /// Something to do after the incident (`incident followup`), for the postmortem.
    FollowUp,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::Opened,
        EventKind::AlertFiring,
        EventKind::AlertResolved,
        EventKind::Acknowledged,
        EventKind::Resolved,
        EventKind::Reopened,
        EventKind::Note,
        EventKind::Escalated,
        EventKind::Silenced,
        EventKind::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::AlertFiring => "alert_firing",
            EventKind::AlertResolved => "alert_resolved",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Resolved => "resolved",
            EventKind::Reopened => "reopened",
            EventKind::Note => "note",
            EventKind::Escalated => "escalated",
            EventKind::Silenced => "silenced",
            EventKind::FollowUp => "followup",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

/// An incident row.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub id: i64,
    /// The group it belongs to (unique among current incidents).
    pub key: String,
    pub group_key: String,
    /// `alertmanager`, `grafana` or `generic`.
    pub source: String,
    /// The catalog service, `None` when the alerts matched none.
    pub service: Option<String>,
    pub environment: Option<String>,
    pub title: String,
    /// `critical`, `warning` or `info`: the worst of its alerts.
    pub severity: String,
    pub status: IncidentStatus,
    /// Every firing alert is silenced (maintenance window or silence): shown, not paged.
    pub silenced: bool,
    pub silenced_reason: Option<String>,
    pub opened_at: jiff::Timestamp,
    pub acknowledged_at: Option<jiff::Timestamp>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<jiff::Timestamp>,
    pub resolved_by: Option<String>,
    pub escalation_policy: Option<String>,
    /// Levels paged so far (0: nobody yet; 1: L1 …).
    pub escalation_level: i64,
    pub next_escalation_at: Option<jiff::Timestamp>,
    pub changed_at: jiff::Timestamp,
}

impl Incident {
    /// The outbox thread key of its root message and replies.
    pub fn thread_key(&self) -> String {
        thread_key(self.id)
    }
}

/// `incident:ID`.
pub fn thread_key(id: i64) -> String {
    format!("incident:{id}")
}

/// The incident whose thread key `key` is (`incident:ID`), if it is one.
pub fn of_thread_key(key: &str) -> Option<i64> {
    key.strip_prefix("incident:")?.parse().ok()
}

/// One alert of an incident, deduplicated by fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentAlert {
    pub fingerprint: String,
    pub name: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub severity: String,
    pub summary: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub generator_url: Option<String>,
    pub starts_at: Option<jiff::Timestamp>,
    pub ends_at: Option<jiff::Timestamp>,
    pub first_seen: jiff::Timestamp,
    pub last_seen: jiff::Timestamp,
    pub silenced: bool,
}

impl IncidentAlert {
    pub fn is_firing(&self) -> bool {
        self.status == "firing"
    }
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentEvent {
    pub id: i64,
    pub incident_id: i64,
    pub at: jiff::Timestamp,
    pub kind: EventKind,
    pub actor: Option<String>,
    pub detail: String,
}
