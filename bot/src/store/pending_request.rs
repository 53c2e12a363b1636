//! A destructive command waiting for its requester's confirmation or a second person's
//! approval. Stored so that any replica can act on a button press, and so expiry holds
//! across restarts.

use std::fmt;

/// Where a pending request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PendingState {
    AwaitingConfirmation,
    AwaitingApproval,
    /// Confirmed (and approved if needed); executed or executing.
    Done,
    Cancelled,
    /// An approver refused it.
    Denied,
    Expired,
}

impl PendingState {
    pub fn as_str(self) -> &'static str {
        match self {
            PendingState::AwaitingConfirmation => "awaiting_confirmation",
            PendingState::AwaitingApproval => "awaiting_approval",
            PendingState::Done => "done",
            PendingState::Cancelled => "cancelled",
            PendingState::Denied => "denied",
            PendingState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            PendingState::AwaitingConfirmation,
            PendingState::AwaitingApproval,
            PendingState::Done,
            PendingState::Cancelled,
            PendingState::Denied,
            PendingState::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            PendingState::AwaitingConfirmation | PendingState::AwaitingApproval
        )
    }
}

impl fmt::Display for PendingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pending request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    /// Short id people type: `confirm 7f3a9c`.
    pub id: String,
    pub state: PendingState,
    /// Request id of the invocation that asked for it.
    pub request_id: String,
    pub platform: String,
    /// Actor id on that platform (not the key).
    pub requester_id: String,
    pub requester_name: String,
    /// The requester's groups when they asked (Slack user groups, Discord roles).
    pub requester_groups: Vec<String>,
    pub channel: String,
    pub thread: Option<String>,
    /// Canonical command text, re-parsed at execution (`restart wrkhrs-gateway`).
    pub text: String,
    pub command: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    /// The two-person policy that applies, if any.
    pub policy: Option<String>,
    pub created_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
    /// Actor key of whoever approved, denied or cancelled it.
    pub decided_by: Option<String>,
}

impl PendingRequest {
    /// The requester as people read it: `Alice (slack:U1)` ([`opsbot_commands::actor_label`]).
    pub fn requester_label(&self) -> String {
        opsbot_commands::actor_label(&self.platform, &self.requester_id, &self.requester_name)
    }
}
