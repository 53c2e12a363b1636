//! `logs SERVICE [--since 1h] [--grep ERROR] [--tail 100]`: recent log lines of a service,
//! the way its runbook reads them (`kubectl logs`, `docker compose logs`, `journalctl`),
//! with secrets redacted, cut to fit one chat message, and counted like the runbooks'
//! `grep -c ERROR`.

mod render;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    context::{LogChunk, LogQuery},
    language::Call,
    redact,
    registry::{FlagSpec, Safety, ServiceArg, ValueKind},
};

pub static COMMAND: Command = Command {
    name: "logs",
    summary: "Show recent log lines of a service (secrets redacted)",
    service: ServiceArg::Required,
    args: &[],
    flags: &[
        FlagSpec {
            name: "since",
            kind: ValueKind::Duration,
            help: "only lines newer than this (e.g. 1h)",
        },
        FlagSpec {
            name: "grep",
            kind: ValueKind::Word,
            help: "only lines containing this text (e.g. ERROR); quote text with spaces",
        },
        FlagSpec {
            name: "tail",
            kind: ValueKind::Integer { min: 1, max: 5_000 },
            help: "at most this many lines per container (default 100)",
        },
    ],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(30),
    examples: &[
        "logs ai-orchestration",
        "logs wrkhrs-gateway --since 1h --grep ERROR",
        "logs ollama --tail 20",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

const DEFAULT_TAIL: u32 = 100;

/// What the lines say, counted before anything is cut.
#[derive(Default)]
struct Counts {
    lines: usize,
    errors: usize,
    warnings: usize,
    redacted: usize,
}

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let service = super::service_arg::required_service(call)?;
    let query = LogQuery {
        since: call.duration("since"),
        tail: call.integer("tail").map_or(DEFAULT_TAIL, |n| n as u32),
        grep: call.text("grep").map(str::to_string),
    };
    ctx.progress
        .report(&format!("Reading the logs of {}…", service.name));
    let chunks = ctx
        .runtime
        .logs(service, &query)
        .await
        .map_err(|e| super::action_reply::runtime_error(service, e))?;
    let (chunks, counts) = prepare(chunks, &query);
    Ok(reply(service, &query, chunks, &counts))
}

/// Redacts, then applies `--grep` (to the redacted text, so a grep for a piece of a
/// secret matches nothing) and `--tail` (again: a runtime may not), counts, caps lines.
fn prepare(chunks: Vec<LogChunk>, query: &LogQuery) -> (Vec<LogChunk>, Counts) {
    let mut counts = Counts::default();
    let chunks = chunks
        .into_iter()
        .map(|chunk| {
            let mut lines: Vec<(String, usize)> = chunk
                .lines
                .into_iter()
                .map(|line| {
                    let (clean, redacted) = match redact::redact(&line) {
                        (std::borrow::Cow::Owned(clean), redacted) => (Some(clean), redacted),
                        (std::borrow::Cow::Borrowed(_), _) => (None, 0),
                    };
                    (clean.unwrap_or(line), redacted)
                })
                .filter(|(clean, _)| query.grep.as_deref().is_none_or(|g| clean.contains(g)))
                .collect();
            let extra = lines.len().saturating_sub(query.tail as usize);
            lines.drain(..extra);
            let lines = lines
                .into_iter()
                .map(|(clean, redacted)| {
                    counts.lines += 1;
                    counts.errors += usize::from(clean.contains("ERROR"));
                    counts.warnings += usize::from(clean.contains("WARN"));
                    counts.redacted += redacted;
                    // A fence inside a line would end the code block early.
                    render::cap_line(&clean.replace("```", "'''"))
                })
                .collect();
            LogChunk {
                source: chunk.source,
                lines,
            }
        })
        .filter(|chunk| !chunk.lines.is_empty())
        .collect();
    (chunks, counts)
}

fn reply(
    service: &crate::Service,
    query: &LogQuery,
    chunks: Vec<LogChunk>,
    counts: &Counts,
) -> Reply {
    let name = service.name.as_str();
    let mut scope = String::new();
    if let Some(since) = query.since {
        scope.push_str(&format!(
            " in the last {}",
            humantime::format_duration(since)
        ));
    }
    // The pattern may itself be a pasted secret: echo it redacted.
    let grep = query.grep.as_deref().map(|g| redact::redact(g).0);
    if let Some(grep) = &grep {
        scope.push_str(&format!(" matching `{grep}`"));
    }
    if counts.lines == 0 {
        return Reply::info(format!("No log lines of {name}{scope}"))
            .field("Target", service.target.describe());
    }
    let several = chunks.len() > 1;
    let shown = render::fit(chunks, render::BUDGET_CHARS);
    let cut: usize = shown.iter().map(|s| s.cut).sum();
    let plural = |n: usize| if n == 1 { "line" } else { "lines" };
    let mut reply = Reply::info(format!(
        "Logs of {name}: {} {}{scope}",
        counts.lines,
        plural(counts.lines)
    ));
    reply = reply.line("```");
    for source in shown {
        if several {
            reply = reply.line(format!("── {} ──", source.source));
        }
        reply = reply.lines(source.lines);
    }
    reply = reply.line("```");
    if cut > 0 {
        reply = reply.line(format!(
            "✂️ {cut} older {} not shown: a chat message holds about 3,500 characters. \
             Narrow it with --grep, --since or --tail.",
            plural(cut)
        ));
    }
    if counts.redacted > 0 {
        reply = reply.line(format!(
            "🔒 {} {} redacted",
            counts.redacted,
            if counts.redacted == 1 {
                "secret"
            } else {
                "secrets"
            }
        ));
    }
    if let Some(grep) = &grep {
        reply = reply.field(format!("Matching `{grep}`"), counts.lines.to_string());
    }
    reply
        .field("ERROR lines", counts.errors.to_string())
        .field("WARN lines", counts.warnings.to_string())
        .field("Target", service.target.describe())
}
