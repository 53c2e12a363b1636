//! One audit record: everything the log keeps about one invocation or one decision on it.

use std::fmt;

/// What the pipeline decided about an invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Authorized and run (or running).
    Allowed,
    /// Refused by RBAC or a channel rule.
    Denied,
    /// The text did not parse (unknown command, bad arguments, unknown service).
    Unparsed,
    /// Waiting for the requester's confirmation or for an approver.
    Pending,
    /// The requester (or an approver's `deny`) cancelled it.
    Cancelled,
    /// Nobody confirmed or approved it in time.
    Expired,
    /// An approver approved someone else's request.
    Approved,
    /// An approver refused someone else's request.
    Rejected,
}

impl Decision {
    pub const ALL: &'static [Decision] = &[
        Decision::Allowed,
        Decision::Denied,
        Decision::Unparsed,
        Decision::Pending,
        Decision::Cancelled,
        Decision::Expired,
        Decision::Approved,
        Decision::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Unparsed => "unparsed",
            Decision::Pending => "pending",
            Decision::Cancelled => "cancelled",
            Decision::Expired => "expired",
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|d| d.as_str() == text)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Ran and succeeded.
    Ok,
    /// Ran and failed.
    Failed,
    /// Ran past its timeout.
    Timeout,
    /// Did not run (denied, unparsed, pending, cancelled, expired).
    NotRun,
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Ok,
        Outcome::Failed,
        Outcome::Timeout,
        Outcome::NotRun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::NotRun => "not_run",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.as_str() == text)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is appended to the audit log. The log adds the sequence number and hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// When the invocation arrived.
    pub at: jiff::Timestamp,
    /// Pipeline request id (a UUIDv7); a confirmation and its approval share the
    /// request id of the original invocation.
    pub request_id: String,
    pub platform: String,
    pub actor_id: String,
    pub actor_name: String,
    pub channel: String,
    pub thread: Option<String>,
    /// The raw text as typed (or the button's command text).
    pub text: String,
    /// The parsed command name, when it parsed.
    pub command: Option<String>,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub decision: Decision,
    /// Why: the denial, the parse error, the policy that asked for approval.
    pub reason: String,
    /// The actor key (`slack:U1`) of the approver, for approved two-person commands.
    pub approver: Option<String>,
    pub outcome: Outcome,
    /// One-line result summary.
    pub summary: String,
    pub duration_ms: i64,
}

/// A stored record with its place in the hash chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub record: AuditRecord,
    /// Hash of the previous entry (hex SHA-256); 64 zeros for the first entry ever.
    pub prev_hash: String,
    /// Hex SHA-256 over `prev_hash`, `seq` and the record's canonical form.
    pub hash: String,
}
