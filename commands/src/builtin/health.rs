//! `health [SERVICE] [--env ENV]`: are the services healthy, as their runbooks define it?
//!
//! Without a service, every service (of one environment) is checked at once and gets one
//! line with its worst reason. With a service, every check's outcome and the runtime's own
//! view (ready replicas, container or unit state) are shown. The reply's colour is the
//! worst level; a failing service gets `Restart` and `Logs` buttons.

use std::time::{Duration, Instant};

use crate::{
    Button, CommandError, Ctx, Reply, Service,
    catalog::Target,
    command::{Command, Handler},
    context::{HealthLevel, RuntimeError, RuntimeView},
    language::Call,
    registry::{FlagSpec, Safety, ServiceArg, ValueKind},
};

use super::checks::{self, ServiceHealth};

pub static COMMAND: Command = Command {
    name: "health",
    summary: "Check the health of every service, or of one in detail",
    service: ServiceArg::Optional,
    args: &[],
    flags: &[FlagSpec {
        name: "env",
        kind: ValueKind::Word,
        help: "only services in this environment (prod, staging, …)",
    }],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(60),
    examples: &["health", "health --env prod", "health ollama"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

/// How long `health SERVICE` waits for the runtime's own view.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many failing services get buttons in the overview.
const MAX_BUTTON_SERVICES: usize = 3;

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let env = super::environment_flag::wanted_environment(call, ctx)?;
    match call.service {
        Some(service) => {
            if let Some(env) = env.filter(|env| *env != service.environment) {
                return Err(CommandError::Failed(format!(
                    "{} is in {}, not {env}",
                    service.name, service.environment
                )));
            }
            Ok(detail(service, ctx).await)
        }
        None => {
            let services: Vec<&Service> = ctx
                .catalog
                .services()
                .iter()
                .filter(|s| env.as_ref().is_none_or(|env| &s.environment == env))
                .collect();
            Ok(overview(&services, env.as_ref().map(|e| e.as_str()), ctx).await)
        }
    }
}

/// One line per service, worst first.
async fn overview(services: &[&Service], env: Option<&str>, ctx: Ctx<'_>) -> Reply {
    let started = Instant::now();
    let checked: Vec<&Service> = services
        .iter()
        .copied()
        .filter(|s| !s.health.is_empty())
        .collect();
    let unchecked: Vec<&str> = services
        .iter()
        .filter(|s| s.health.is_empty())
        .map(|s| s.name.as_str())
        .collect();
    ctx.progress
        .report(&format!("Checking {} services…", checked.len()));
    let mut results = checks::check_services(ctx.prober, &checked).await;
    let took = started.elapsed();
    // Worst first; catalog order within a level (the sort is stable).
    results.sort_by_key(|r| std::cmp::Reverse(r.level()));

    let count = |level| results.iter().filter(|r| r.level() == Some(level)).count();
    let (critical, warning, ok) = (
        count(HealthLevel::Critical),
        count(HealthLevel::Warning),
        count(HealthLevel::Ok),
    );
    let scope = env.map(|e| format!(" in {e}")).unwrap_or_default();
    let mut parts = Vec::new();
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    if warning > 0 {
        parts.push(format!("{warning} warning"));
    }
    parts.push(format!("{ok} healthy"));
    let worst = results.iter().filter_map(ServiceHealth::level).max();
    let title = if checked.is_empty() {
        format!("No service{scope} has health checks")
    } else {
        let noun = if checked.len() == 1 {
            "service"
        } else {
            "services"
        };
        format!(
            "Health of {} {noun}{scope}: {}",
            checked.len(),
            parts.join(", ")
        )
    };
    let mut reply = match worst {
        Some(level) => Reply::new(checks::status_of(level), title),
        None => Reply::info(title),
    };
    for result in &results {
        reply = reply.line(summary_line(result));
    }
    if !unchecked.is_empty() {
        reply = reply.line(format!("▫️ no health checks: {}", unchecked.join(", ")));
    }
    let checks_run: usize = results.iter().map(|r| r.outcomes.len()).sum();
    reply = reply.field(
        "Checked",
        format!(
            "{checks_run} {} in {:.1} s",
            if checks_run == 1 { "check" } else { "checks" },
            took.as_secs_f64()
        ),
    );
    for result in results
        .iter()
        .filter(|r| r.level() > Some(HealthLevel::Ok))
        .take(MAX_BUTTON_SERVICES)
    {
        reply = failing_buttons(reply, result.service, true);
    }
    reply
}

/// `❌ ollama — models installed: connection refused (+1 more)`.
fn summary_line(result: &ServiceHealth<'_>) -> String {
    let name = result.service.name.as_str();
    match result.worst() {
        Some(worst) if worst.level != HealthLevel::Ok => {
            let more = result.failing().len() - 1;
            let more = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            format!(
                "{} `{name}` — {}: {}{more}",
                worst.level.emoji(),
                worst.name,
                worst.detail
            )
        }
        _ => {
            let n = result.count(HealthLevel::Ok);
            let checks = if n == 1 { "check" } else { "checks" };
            format!("{} `{name}` — {n} {checks} ok", HealthLevel::Ok.emoji())
        }
    }
}

/// Every check of one service, and the runtime's own view.
async fn detail(service: &Service, ctx: Ctx<'_>) -> Reply {
    ctx.progress.report(&format!("Checking {}…", service.name));
    let inspect = async {
        tokio::time::timeout(INSPECT_TIMEOUT, ctx.runtime.inspect(service))
            .await
            .unwrap_or_else(|_| {
                Err(RuntimeError::Unreachable {
                    what: service.target.describe(),
                    reason: format!(
                        "no answer within {}",
                        humantime::format_duration(INSPECT_TIMEOUT)
                    ),
                })
            })
    };
    let (health, inspected) =
        futures_util::future::join(checks::check_service(ctx.prober, service), inspect).await;
    let inspect_failed = matches!(
        inspected,
        Err(RuntimeError::Refused(_) | RuntimeError::Failed(_))
    );
    let (runtime_level, runtime_lines) = runtime_view(service, inspected);

    let level = health.level().max(runtime_level);
    let name = service.name.as_str();
    let mut reply = match level {
        None => Reply::info(format!("{name}: nothing to check"))
            .line("The catalog has no health checks for it, and its runtime cannot be inspected."),
        Some(HealthLevel::Ok) => Reply::success(format!("{name} is healthy")),
        Some(HealthLevel::Warning) => Reply::warning(format!("{name} has warnings")),
        // The checks may pass, but opsbot could not look: the command failed, not the service.
        Some(HealthLevel::Critical)
            if inspect_failed && health.level() < Some(HealthLevel::Critical) =>
        {
            Reply::danger(format!("{name}: cannot inspect its runtime"))
        }
        Some(HealthLevel::Critical) => Reply::danger(format!("{name} is unhealthy")),
    };
    reply = reply.lines(health.outcomes.iter().map(checks::outcome_line));
    reply = reply.lines(runtime_lines);
    reply = reply
        .field("Environment", service.environment.to_string())
        .field("Target", service.target.describe());
    if let Some(runbook) = &service.runbook {
        reply = reply.field("Runbook", runbook.clone());
    }
    if level > Some(HealthLevel::Ok) {
        reply = failing_buttons(reply, service, false);
        reply = reply.button(Button::new("Check again", format!("health {name}")));
    }
    reply
}

/// The runtime's view as a level and lines. Not supported: a short note (or nothing for
/// a service without a target). Unreachable: critical. Refused or failed (401, 403, a bad
/// kubeconfig, a missing deployment): critical too — the health is unknown and the
/// command failed (a danger reply, audited as `failed`), never a mere warning.
fn runtime_view(
    service: &Service,
    inspected: Result<RuntimeView, RuntimeError>,
) -> (Option<HealthLevel>, Vec<String>) {
    match inspected {
        Ok(view) => {
            let mut lines = vec![format!("{} runtime — {}", view.level.emoji(), view.summary)];
            lines.extend(view.details.into_iter().map(|d| format!("    • {d}")));
            (Some(view.level), lines)
        }
        Err(RuntimeError::NotSupported(_)) if service.target == Target::None => (None, vec![]),
        Err(RuntimeError::NotSupported(why)) => {
            (None, vec![format!("▫️ runtime — not inspected: {why}")])
        }
        Err(error @ RuntimeError::Unreachable { .. }) => (
            Some(HealthLevel::Critical),
            vec![format!(
                "{} runtime — {error}",
                HealthLevel::Critical.emoji()
            )],
        ),
        Err(RuntimeError::Refused(why) | RuntimeError::Failed(why)) => (
            Some(HealthLevel::Critical),
            vec![format!(
                "{} runtime — cannot inspect: {why}",
                HealthLevel::Critical.emoji()
            )],
        ),
    }
}

/// `Restart` and `Logs` buttons for a failing service that has a runtime target.
fn failing_buttons(reply: Reply, service: &Service, named: bool) -> Reply {
    if service.target == Target::None {
        return reply;
    }
    let name = service.name.as_str();
    let label = |action: &str| {
        if named {
            format!("{action} {name}")
        } else {
            action.to_string()
        }
    };
    reply
        .button(Button::new(label("Restart"), format!("restart {name}")).danger())
        .button(Button::new(label("Logs"), format!("logs {name}")))
}
