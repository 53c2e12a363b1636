//! `audit [--actor A] [--service S] [--command C] [--decision D] [--since 1h] [--limit N]`:
//! recent audit entries. Who may read the log is decided by RBAC like any command.

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    context::AuditFilter,
    language::Call,
    registry::{FlagSpec, Safety, ServiceArg, ValueKind},
};

pub static COMMAND: Command = Command {
    name: "audit",
    summary: "Show recent audit log entries",
    service: ServiceArg::None,
    args: &[],
    flags: &[
        FlagSpec {
            name: "actor",
            kind: ValueKind::Word,
            help: "only entries by this user id or name",
        },
        FlagSpec {
            name: "service",
            kind: ValueKind::Word,
            help: "only entries about this service",
        },
        FlagSpec {
            name: "command",
            kind: ValueKind::Word,
            help: "only this command",
        },
        FlagSpec {
            name: "decision",
            kind: ValueKind::Choice(&[
                "allowed",
                "denied",
                "unparsed",
                "pending",
                "cancelled",
                "expired",
                "approved",
                "rejected",
            ]),
            help: "only entries with this decision",
        },
        FlagSpec {
            name: "since",
            kind: ValueKind::Duration,
            help: "only entries newer than this (e.g. 1h)",
        },
        FlagSpec {
            name: "limit",
            kind: ValueKind::Integer { min: 1, max: 200 },
            help: "how many entries (default 20)",
        },
    ],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(10),
    examples: &[
        "audit",
        "audit --decision denied --since 24h",
        "audit --service ollama --limit 50",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let since = match call.duration("since") {
        Some(age) => {
            let span = jiff::SignedDuration::try_from(age)
                .map_err(|_| CommandError::Failed("--since is too long".into()))?;
            Some(
                jiff::Timestamp::now()
                    .checked_sub(span)
                    .map_err(|_| CommandError::Failed("--since is too long".into()))?,
            )
        }
        None => None,
    };
    let filter = AuditFilter {
        limit: call.integer("limit").unwrap_or(20) as u32,
        actor: call.text("actor").map(str::to_string),
        service: call.text("service").map(str::to_string),
        command: call.text("command").map(str::to_string),
        decision: call.text("decision").map(str::to_string),
        since,
    };
    let entries = ctx
        .audit
        .recent(&filter)
        .await
        .map_err(|error| CommandError::Unavailable {
            what: "the audit log".into(),
            reason: error.to_string(),
        })?;
    if entries.is_empty() {
        return Ok(Reply::info("No audit entries match").only_actor());
    }
    let mut reply = Reply::info(format!(
        "Last {} audit entries (newest first)",
        entries.len()
    ));
    for e in entries {
        let at = e.at.strftime("%Y-%m-%d %H:%M:%S");
        let mut line = format!(
            "#{} {at} {} in {} `{}` → {} / {}",
            e.seq,
            crate::actor_label(&e.platform, &e.actor_id, &e.actor_name),
            e.channel,
            e.text,
            e.decision,
            e.status
        );
        if let Some(service) = &e.service {
            line.push_str(&format!(" [{service}"));
            if let Some(env) = &e.environment {
                line.push_str(&format!("@{env}"));
            }
            line.push(']');
        }
        if let Some(approver) = &e.approver {
            line.push_str(&format!(" approved by {approver}"));
        }
        match (e.summary.is_empty(), e.reason.is_empty()) {
            (false, false) => line.push_str(&format!(" — {} ({})", e.summary, e.reason)),
            (false, true) => line.push_str(&format!(" — {}", e.summary)),
            (true, false) => line.push_str(&format!(" — {}", e.reason)),
            (true, true) => {}
        }
        line.push_str(&format!(" ({} ms)", e.duration_ms));
        reply = reply.line(line);
    }
    Ok(reply.only_actor())
}
