//! The audit trail of one pass through the pipeline: when it started, for whom, and the
//! record it leaves behind.

use std::time::Instant;

use opsbot_commands::{Invocation, Service};

use crate::audit::{AuditRecord, Decision, Outcome};

/// What the pipeline concluded; turned into an [`AuditRecord`] by [`Trail::record`].
pub struct Verdict<'a> {
    pub command: Option<&'static str>,
    pub service: Option<&'a Service>,
    pub decision: Decision,
    pub outcome: Outcome,
    pub reason: String,
    pub summary: String,
    pub approver: Option<String>,
}

impl<'a> Verdict<'a> {
    pub fn new(decision: Decision, outcome: Outcome) -> Self {
        Self {
            command: None,
            service: None,
            decision,
            outcome,
            reason: String::new(),
            summary: String::new(),
            approver: None,
        }
    }

    pub fn command(mut self, command: &'static str) -> Self {
        self.command = Some(command);
        self
    }

    pub fn service(mut self, service: Option<&'a Service>) -> Self {
        self.service = service;
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    pub fn approver(mut self, approver: Option<String>) -> Self {
        self.approver = approver;
        self
    }
}

/// One pass through the pipeline for one invocation.
pub struct Trail<'i> {
    pub request_id: String,
    pub at: jiff::Timestamp,
    pub started: Instant,
    pub invocation: &'i Invocation,
    /// Set for a pipelined pass ([`super::pipelined`]): its audit record is queued and
    /// left here instead of waited for.
    pub deferred: Option<super::pipelined::Deferred>,
}

impl<'i> Trail<'i> {
    pub fn new(invocation: &'i Invocation) -> Self {
        Self {
            request_id: uuid::Uuid::now_v7().to_string(),
            at: jiff::Timestamp::now(),
            started: Instant::now(),
            invocation,
            deferred: None,
        }
    }

    /// A trail that continues an earlier request (a confirmation, an approval).
    pub fn continuing(invocation: &'i Invocation, request_id: String) -> Self {
        Self {
            request_id,
            ..Self::new(invocation)
        }
    }

    pub fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn record(&self, verdict: Verdict<'_>) -> AuditRecord {
        let invocation = self.invocation;
        AuditRecord {
            at: self.at,
            request_id: self.request_id.clone(),
            // Through the web console: platform `web`, and the chat identity it acted
            // as in full (`slack:U024BE7LH`), so the row names both.
            platform: invocation.surface().as_str().to_string(),
            actor_id: match invocation.via {
                Some(_) => invocation.actor.key(),
                None => invocation.actor.id.clone(),
            },
            actor_name: invocation.actor.display_name.clone(),
            channel: invocation.channel.clone(),
            thread: invocation.thread.clone(),
            text: invocation.text.clone(),
            command: verdict.command.map(str::to_string),
            service: verdict.service.map(|s| s.name.to_string()),
            environment: verdict.service.map(|s| s.environment.to_string()),
            decision: verdict.decision,
            reason: verdict.reason,
            approver: verdict.approver,
            outcome: verdict.outcome,
            summary: verdict.summary,
            duration_ms: self.started.elapsed().as_millis() as i64,
        }
    }
}
