//! `scale SERVICE N`: set the replica count, bounded by the service's `max_replicas`.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{ArgSpec, Safety, ServiceArg, ValueKind},
};

pub static COMMAND: Command = Command {
    name: "scale",
    summary: "Set the number of replicas of a service",
    service: ServiceArg::Required,
    args: &[ArgSpec {
        name: "replicas",
        kind: ValueKind::Integer { min: 0, max: 1000 },
        required: true,
        help: "the number of replicas wanted",
    }],
    flags: &[],
    safety: Safety::Destructive,
    timeout: Duration::from_secs(600),
    examples: &["scale ai-orchestration 5"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: Some(|call, _| Box::pin(std::future::ready(precheck(call)))),
    },
};

/// Refuses, before anyone confirms, a scale the catalog does not allow.
pub fn precheck(call: &Call<'_>) -> Result<(), CommandError> {
    let service = super::service_arg::required_service(call)?;
    let replicas = call.integer("replicas").unwrap_or_default() as u32;
    match service.max_replicas {
        None => Err(CommandError::NotSupported(format!(
            "{} has no `max_replicas` in the catalog, so opsbot does not scale it",
            service.name
        ))),
        Some(max) if replicas > max => Err(CommandError::Failed(format!(
            "{} may have at most {max} replicas (catalog `max_replicas`)",
            service.name
        ))),
        Some(_) => Ok(()),
    }
}

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    precheck(call)?;
    let service = super::service_arg::required_service(call)?;
    let replicas = call.integer("replicas").unwrap_or_default() as u32;
    ctx.progress
        .report(&format!("Scaling {} to {replicas}…", service.name));
    let result = ctx.runtime.scale(service, replicas, ctx.progress).await;
    let reply = super::action_reply::action_reply("Scale", service, result);
    super::last_good::after_rollout(ctx, service, true, reply).await
}
