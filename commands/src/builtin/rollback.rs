//! `rollback SERVICE [--to REVISION]`: undo the last rollout, like `kubectl rollout undo`.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    language::Call,
    registry::{CommandSpec, FlagSpec, Safety, ServiceArg, ValueKind},
};

pub static SPEC: CommandSpec = CommandSpec {
    name: crate::CommandName::Rollback,
    summary: "Roll a service back to its previous (or a given) revision",
    service: ServiceArg::Required,
    args: &[],
    flags: &[FlagSpec {
        name: "to",
        kind: ValueKind::Integer {
            min: 1,
            max: i64::MAX,
        },
        help: "the revision to roll back to (default: the previous one)",
    }],
    safety: Safety::Destructive,
    timeout: Duration::from_secs(600),
    examples: &[
        "rollback ai-orchestration",
        "rollback ai-orchestration --to 3",
    ],
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let service = super::required_service(call)?;
    let to = call.integer("to");
    ctx.progress
        .report(&format!("Rolling back {}…", service.name));
    let result = ctx.runtime.rollback(service, to, ctx.progress).await;
    super::action_reply("Rollback", service, result)
}
