//! What a signed-in identity may see and do on the console: the same [`Policy`] answers as
//! for the same commands in chat (`incident` for the incident and statistics pages and
//! the incident buttons, `runbook` for the runbook runs, `audit` for the audit pages and
//! every fact the other pages read from the audit log, `services` for the services pages,
//! whose per-service facts ask [`Access::may`] for `cost` and `rollback` on that service).
//! Actions are authorized again, and audited, by the engine when they run.

use opsbot_commands::{Actor, Service, context::AccessView};

use super::{error::WebError, sign_in::Session};
use crate::rbac::Policy;

/// The console as one identity sees it.
#[derive(Clone, Debug)]
pub struct Access {
    pub actor: Actor,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// May run `incident` (list, show, ack, resolve, note).
    pub incidents: bool,
    /// May run `runbook` (see its runs).
    pub runbooks: bool,
    /// May run `audit`.
    pub audit: bool,
    /// May run `services` (see the catalog).
    pub services: bool,
}

impl Access {
    pub fn of(session: &Session, policy: &Policy) -> Self {
        let actor = &session.actor;
        Self {
            actor: actor.clone(),
            csrf: session.csrf(),
            incidents: policy.may_run(actor, "incident", None),
            runbooks: policy.may_run(actor, "runbook", None),
            audit: policy.may_run(actor, "audit", None),
            services: policy.may_run(actor, "services", None),
        }
    }

    /// Whether the identity may run `command` on `service` (`cost`, `rollback`: what a
    /// services page shows of one service).
    pub fn may(&self, policy: &Policy, command: &str, service: &Service) -> bool {
        policy.may_run(&self.actor, command, Some(service))
    }

    /// `Ok` when the identity may run `command`, else the 403 that says which role is
    /// missing.
    pub fn require(&self, allowed: bool, command: &str) -> Result<(), WebError> {
        if allowed {
            Ok(())
        } else {
            Err(WebError::Forbidden(format!(
                "{} holds no role that allows `{command}`, which this page needs",
                self.actor.label()
            )))
        }
    }
}
