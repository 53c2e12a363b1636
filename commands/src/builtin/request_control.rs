//! Specs of `confirm`, `cancel`, `approve` and `deny`. They act on a pending request by id
//! and are executed by the engine, which owns pending requests.

use std::time::Duration;

use crate::{
    CommandName,
    registry::{ArgSpec, CommandSpec, Safety, ServiceArg, ValueKind},
};

const REQUEST_ID: &[ArgSpec] = &[ArgSpec {
    name: "request",
    kind: ValueKind::Word,
    required: true,
    help: "the request id shown in the confirmation or approval message",
}];

const fn control(
    name: CommandName,
    summary: &'static str,
    examples: &'static [&'static str],
) -> CommandSpec {
    CommandSpec {
        name,
        summary,
        service: ServiceArg::None,
        args: REQUEST_ID,
        flags: &[],
        safety: Safety::ReadOnly,
        timeout: Duration::from_secs(600),
        examples,
    }
}

pub static CONFIRM: CommandSpec = control(
    CommandName::Confirm,
    "Confirm a destructive command you asked for",
    &["confirm 7f3a9c"],
);
pub static CANCEL: CommandSpec = control(
    CommandName::Cancel,
    "Cancel a command waiting for confirmation or approval",
    &["cancel 7f3a9c"],
);
pub static APPROVE: CommandSpec = control(
    CommandName::Approve,
    "Approve someone else's request (two-person rule)",
    &["approve 7f3a9c"],
);
pub static DENY: CommandSpec = control(
    CommandName::Deny,
    "Refuse someone else's request (two-person rule)",
    &["deny 7f3a9c"],
);
