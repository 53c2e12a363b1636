//! `confirm`, `cancel`, `approve` and `deny`: they act on a pending request by id, so
//! their handler is [`Handler::RequestControl`] and the engine, which owns pending
//! requests, runs them.

use std::time::Duration;

use crate::{
    command::{Command, Handler, RequestAction},
    registry::{ArgSpec, Safety, ServiceArg, ValueKind},
};

const REQUEST_ID: &[ArgSpec] = &[ArgSpec {
    name: "request",
    kind: ValueKind::Word,
    required: true,
    help: "the request id shown in the confirmation or approval message",
}];

const fn control(
    name: &'static str,
    action: RequestAction,
    summary: &'static str,
    examples: &'static [&'static str],
) -> Command {
    Command {
        name,
        summary,
        service: ServiceArg::None,
        args: REQUEST_ID,
        flags: &[],
        safety: Safety::ReadOnly,
        timeout: Duration::from_secs(600),
        examples,
        handler: Handler::RequestControl(action),
    }
}

pub static CONFIRM: Command = control(
    "confirm",
    RequestAction::Confirm,
    "Confirm a destructive command you asked for",
    &["confirm 7f3a9c"],
);
pub static CANCEL: Command = control(
    "cancel",
    RequestAction::Cancel,
    "Cancel a command waiting for confirmation or approval",
    &["cancel 7f3a9c"],
);
pub static APPROVE: Command = control(
    "approve",
    RequestAction::Approve,
    "Approve someone else's request (two-person rule)",
    &["approve 7f3a9c"],
);
pub static DENY: Command = control(
    "deny",
    RequestAction::Deny,
    "Refuse someone else's request (two-person rule)",
    &["deny 7f3a9c"],
);
