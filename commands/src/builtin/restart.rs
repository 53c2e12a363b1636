//! `restart SERVICE`: restart a service on its runtime, the way its runbook does by hand,
//! then check its health (the health gate).

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{Safety, ServiceArg},
};

pub static COMMAND: Command = Command {
    name: "restart",
    summary: "Restart a service (rollout restart, compose restart, systemctl restart)",
    service: ServiceArg::Required,
    args: &[],
    flags: &[],
    safety: Safety::Destructive,
    timeout: Duration::from_secs(600),
    examples: &["restart wrkhrs-gateway", "restart ollama"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let service = super::service_arg::required_service(call)?;
    ctx.progress.report(&format!(
        "Restarting {} ({})…",
        service.name,
        service.target.describe()
    ));
    let result = ctx.runtime.restart(service, ctx.progress).await;
    let reply = super::action_reply::action_reply("Restart", service, result);
    let reply = super::last_good::after_rollout(ctx, service, true, reply).await?;
    Ok(super::health_gate::check(ctx, service, super::health_gate::After::Restart, reply).await)
}
