//! Pipelined passes, for one ordered stream of commands (a script piped into the
//! console): the next command need not wait for the previous one's audit fsync.
//!
//! [`Engine::handle_pipelined`] runs a pass like [`Engine::handle`] but returns as soon
//! as its reply is known and its audit record is *queued*; the [`PendingReply`] resolves
//! to the reply once the record is durable (or to the reply saying it could not be
//! written, exactly as [`Engine::handle`] would have). Records are committed in the order
//! they were queued, so consecutive commands share a group commit, and a caller that
//! waits for its pending replies in order shows every reply in order, each only once its
//! record is durable.
//!
//! Safety: what may run ahead of the earlier records' fsync is decided by
//! [`Engine::may_pipeline`]: calls that need no confirmation (and text that is no
//! command). A destructive call (it asks for a confirmation) and `confirm`/`approve`/
//! `cancel` (which run or settle a destructive command) wait until every earlier record
//! is durable, then go through [`Engine::handle`]: a change that needed a confirmation
//! never starts while the record of what came before it could still be lost. `audit`
//! waits too, so that it shows the records of the commands before it. Nothing else
//! changes: within a pass the command ran before its record was written already, and a
//! record that cannot be written is reported in its reply as before.

use std::sync::{Arc, Mutex};

use opsbot_commands::{Invocation, Reply, context::Progress, language};

use super::{CommandMetrics, Engine, unrecorded};
use crate::audit::Queued;

/// The command that shows the audit log: it waits for the records before it, so that
/// it shows them.
const READS_THE_AUDIT_LOG: &str = "audit";

/// The audit records a pipelined pass queued, each with whether nothing ran.
#[derive(Clone, Debug, Default)]
pub struct Deferred(Arc<Mutex<Vec<(Queued, bool)>>>);

impl Deferred {
    pub(super) fn push(&self, queued: Queued, nothing_ran: bool) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((queued, nothing_ran));
    }

    fn take(&self) -> Vec<(Queued, bool)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A reply whose audit record may not be durable yet.
#[derive(Debug)]
pub struct PendingReply {
    reply: Reply,
    records: Vec<(Queued, bool)>,
    metrics: CommandMetrics,
    request_id: String,
}

impl PendingReply {
    /// The reply to show, once its record is durable; when the record could not be
    /// written, the reply saying so (as [`Engine::handle`] answers).
    pub async fn settled(self) -> Reply {
        let mut reply = self.reply;
        for (queued, nothing_ran) in self.records {
            match queued.durable().await {
                Ok(_) => self.metrics.audit_written(),
                Err(error) => {
                    reply = unrecorded(&self.metrics, &self.request_id, &error, nothing_ran, reply);
                }
            }
        }
        reply
    }
}

impl Engine {
    /// Whether `invocation` may run before the audit records of the commands before it
    /// are durable: a call that needs no confirmation, is no `confirm`/`approve`/
    /// `cancel` and does not read the audit log, or text that is no command.
    pub fn may_pipeline(&self, invocation: &Invocation) -> bool {
        let parts = &self.parts;
        match language::parse(
            &invocation.text,
            &parts.registry,
            &parts.catalog,
            invocation.thread_service(),
        ) {
            Ok(call) => {
                !call.command.is_request_control()
                    && !call.command.is_destructive_call(&call)
                    && call.name() != READS_THE_AUDIT_LOG
            }
            Err(_) => true,
        }
    }

    /// Runs `invocation` through the pipeline and returns once its reply is known and its
    /// audit record queued; see the module doc. Use only for what
    /// [`Engine::may_pipeline`] allows.
    pub async fn handle_pipelined(
        &self,
        invocation: &Invocation,
        progress: &dyn Progress,
    ) -> PendingReply {
        let deferred = Deferred::default();
        let request_id = uuid::Uuid::now_v7().to_string();
        let reply = self
            .pass(
                invocation,
                progress,
                request_id.clone(),
                Some(deferred.clone()),
            )
            .await;
        PendingReply {
            reply,
            records: deferred.take(),
            metrics: self.parts.metrics.clone(),
            request_id,
        }
    }
}
