//! `silence SERVICE|MATCHERS DURATION --reason TEXT`, `silence list`, `silence expire ID`:
//! ad hoc quiet. Matching alerts are still recorded and shown in their incident's thread
//! as silenced; they just page nobody. Typed in an incident thread, the service may be
//! left out (`silence 2h --reason deploying`).

use std::time::Duration;

use crate::{
    CommandError, Ctx, HumanDuration, Reply,
    command::{Command, Handler},
    context::SilenceRequest,
    language::Call,
    registry::{ArgSpec, FlagSpec, Safety, ServiceArg, ValueKind},
};

pub static COMMAND: Command = Command {
    name: "silence",
    summary: "Silence a service's (or matching) alerts for a while, list or expire silences",
    service: ServiceArg::None,
    args: &[
        ArgSpec {
            name: "what",
            kind: ValueKind::Word,
            required: true,
            help: "a service, label matchers (`alertname=Foo,job=bar`), `list` or `expire`",
        },
        ArgSpec {
            name: "duration",
            kind: ValueKind::Word,
            required: false,
            help: "how long (`2h`); for `expire`, the silence number",
        },
    ],
    flags: &[FlagSpec {
        name: "reason",
        kind: ValueKind::Word,
        help: "why (quote it: --reason \"deploying 1.4\")",
    }],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(30),
    examples: &[
        "silence list",
        "silence wrkhrs-rag 2h --reason \"reindexing\"",
        "silence alertname=HighErrorRate,job=wrkhrs-gateway 30m --reason \"load test\"",
        "silence expire 3",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let what = call.text("what").unwrap_or_default();
    let second = call.text("duration");
    match what {
        "list" => {
            if second.is_some() {
                return Err(CommandError::Failed(
                    "`silence list` takes nothing more".into(),
                ));
            }
            let silences = ctx.incidents.silences().await?;
            if silences.is_empty() {
                return Ok(Reply::info("No active silences"));
            }
            let now = jiff::Timestamp::now();
            let mut reply = Reply::info(format!("Active silences ({})", silences.len()));
            for s in silences {
                let left = humantime::format_duration(Duration::from_secs(
                    s.until.as_second().saturating_sub(now.as_second()).max(0) as u64,
                ));
                reply = reply.line(format!(
                    "🔕 {} `{}` — {left} left, by {}: {}",
                    s.id, s.target, s.created_by, s.reason
                ));
            }
            return Ok(reply);
        }
        "expire" => {
            let id = second
                .and_then(|t| t.trim_start_matches('#').parse::<i64>().ok())
                .ok_or_else(|| CommandError::Failed("which silence? `silence expire ID`".into()))?;
            let ended = ctx
                .incidents
                .expire_silence(id, &ctx.invocation.actor)
                .await?;
            return Ok(if ended {
                Reply::success(format!("Silence {id} expired"))
            } else {
                Reply::warning(format!("Silence {id} is not active"))
            });
        }
        _ => {}
    }
    // `silence 2h` in an incident thread: the thread's service.
    let (target, duration) = match (second, ctx.invocation.thread_service()) {
        (Some(duration), _) => (what.to_string(), duration),
        (None, Some(service)) if what.parse::<HumanDuration>().is_ok() => {
            (service.to_string(), what)
        }
        (None, _) => {
            return Err(CommandError::Failed(format!(
                "for how long? `silence {what} 2h --reason TEXT`"
            )));
        }
    };
    let duration = duration
        .parse::<HumanDuration>()
        .map_err(CommandError::Failed)?
        .as_duration();
    let reason = call
        .text("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            CommandError::Failed(
                "say why: `--reason \"…\"` (it is shown with every silenced alert)".into(),
            )
        })?
        .to_string();
    let request = if target.contains('=') {
        SilenceRequest {
            service: None,
            matchers: Some(target.clone()),
            duration,
            reason,
        }
    } else {
        let service = ctx
            .catalog
            .resolve(&target)
            .map_err(|e| CommandError::Failed(e.to_string()))?;
        SilenceRequest {
            service: Some(service.name.to_string()),
            matchers: None,
            duration,
            reason,
        }
    };
    let view = ctx
        .incidents
        .silence(request, &ctx.invocation.actor)
        .await?;
    Ok(Reply::success(format!(
        "Silenced `{}` for {}",
        view.target,
        humantime::format_duration(duration)
    ))
    .line(format!(
        "Silence {} ends {}; `silence expire {}` ends it sooner.",
        view.id,
        view.until.strftime("%Y-%m-%d %H:%M UTC"),
        view.id
    ))
    .field("Reason", view.reason))
}
