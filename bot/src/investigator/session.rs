//! One turn of an investigation, start to end: gather the evidence (a fresh one) or take
//! the stored conversation (a follow-up question), let the model call the read-only
//! tools round after round (each call through the engine as the asker, audited), stream
//! its text into the living message, then finish: the answer with its buttons, the
//! conversation and usage stored, one audit record. Every failure (endpoint down,
//! timeout, malformed or endless answer, a model that keeps calling tools) ends the
//! same way: a plain message in the thread with the evidence gathered so far.

use std::{sync::Arc, time::Instant};

use opsbot_commands::{Invocation, Reply, catalog::Money, redact::redact};
use opsbot_llm::{Completion, LlmError, Message, ToolCall};

use super::{
    Inner, answer,
    live::{Draft, LiveMessage, SharedDraft},
    prompt::{self, Evidence},
    repo,
    tools::{self, ToolRequest},
};
use crate::{engine::Engine, incidents::FiredFacts};

/// The most bytes of one tool's answer the model gets.
const TOOL_RESULT_LIMIT: usize = 6_000;

/// What one turn works on.
pub(super) struct Turn {
    pub investigation: i64,
    pub turn: i64,
    pub facts: FiredFacts,
    /// The asker (or the automation principal), in the incident's channel: tools run as
    /// this invocation with their command line as its text.
    pub asker: Invocation,
    pub question: Option<String>,
    /// The conversation so far (a follow-up); empty for a fresh investigation.
    pub history: Vec<Message>,
    pub message: Arc<LiveMessage>,
    pub request_id: String,
}

/// How the turn went, for the audit record and the store.
#[derive(Default)]
struct Tally {
    tokens_in: u64,
    tokens_out: u64,
    tool_calls: u64,
    /// Whether the endpoint reported usage at all.
    usage_reported: bool,
    evidence: Vec<Evidence>,
}

/// Why a turn ended without an answer.
enum Stop {
    Model(LlmError),
    KeptCallingTools(u32),
    Gone,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Model(error) => write!(f, "{error}"),
            Stop::KeptCallingTools(rounds) => write!(
                f,
                "the model kept calling tools after {rounds} rounds instead of answering"
            ),
            Stop::Gone => f.write_str("opsbot is shutting down"),
        }
    }
}

/// Runs one turn to its end (never hangs: each model call has its timeout, the rounds
/// and tool calls are bounded).
pub(super) async fn run(inner: Arc<Inner>, turn: Turn) {
    let started = Instant::now();
    let draft = SharedDraft::new();
    let title = title(&inner, &turn);
    let editor = {
        let title = title.clone();
        tokio::spawn(draft.clone().keep_editing(
            turn.message.clone(),
            inner.config.edit_interval.as_duration(),
            move |d: &Draft| in_progress(&title, d),
        ))
    };
    let mut tally = Tally::default();
    let mut messages = turn.history.clone();
    let result = match inner.engine() {
        Some(engine) => converse(&inner, &engine, &turn, &draft, &mut messages, &mut tally).await,
        None => Err(Stop::Gone),
    };
    draft.stop();
    let _ = editor.await;
    let elapsed = started.elapsed();
    let (ok, reply, summary) = match &result {
        Ok(text) => {
            // What the model says is shown redacted too: it may repeat what it should not.
            let text = &clean(text);
            let reading = match inner.engine() {
                Some(engine) => answer::read(text, engine.registry(), engine.catalog()),
                None => answer::read(
                    text,
                    &opsbot_commands::Registry::new(opsbot_commands::builtin::COMMANDS),
                    inner.incidents.catalog(),
                ),
            };
            let footer = footer(&inner, &turn, &tally, elapsed);
            let summary = reading.summary.clone();
            (true, answer::final_reply(&title, &reading, footer), summary)
        }
        Err(stop) => {
            let summary = format!("stopped: {stop}");
            (
                false,
                stopped(&title, stop, &tally, &draft.snapshot()),
                summary,
            )
        }
    };
    if let Err(error) = turn.message.edit(reply).await {
        tracing::warn!(%error, investigation = turn.investigation, "posting an investigation's answer failed");
    }
    let cost = cost_of(&inner, &tally);
    let finished = repo::Finished {
        ok,
        conversation: &messages,
        tokens_in: tally.tokens_in,
        tokens_out: tally.tokens_out,
        tool_calls: tally.tool_calls,
        cost,
        summary: &summary,
    };
    if let Err(error) = repo::finish(&inner.store, turn.investigation, &finished).await {
        tracing::warn!(%error, investigation = turn.investigation, "recording an investigation failed");
    }
    if let Some(engine) = inner.engine() {
        let endpoint = redact(inner.client.endpoint()).0.into_owned();
        let reason = format!(
            "investigation #{} (turn {}) of incident #{}: model {} at {endpoint}, tokens in {} out {}{}, \
             {} tool calls, cost {} {}, {} ms",
            turn.investigation,
            turn.turn,
            turn.facts.incident.id,
            inner.config.model,
            tally.tokens_in,
            tally.tokens_out,
            if tally.usage_reported {
                ""
            } else {
                " (not reported)"
            },
            tally.tool_calls,
            cost,
            inner.config.currency,
            elapsed.as_millis()
        );
        let mut audited = turn.asker.clone();
        audited.text = match &turn.question {
            Some(question) => format!("incident investigate {} {question}", turn.facts.incident.id),
            None => format!("incident investigate {}", turn.facts.incident.id),
        };
        engine
            .audit_investigation(&audited, &turn.request_id, ok, reason, summary)
            .await;
    }
}

fn title(inner: &Inner, turn: &Turn) -> String {
    let incident = &turn.facts.incident;
    match &turn.question {
        Some(question) => format!("🔎 #{}: {question}", incident.id),
        None => format!(
            "🔎 Investigation of incident #{} ({}) with {}",
            incident.id, incident.title, inner.config.model
        ),
    }
}

/// The conversation: evidence (or the follow-up), then rounds of tool calls until the
/// model answers; the answer's text.
async fn converse(
    inner: &Inner,
    engine: &Engine,
    turn: &Turn,
    draft: &SharedDraft,
    messages: &mut Vec<Message>,
    tally: &mut Tally,
) -> Result<String, Stop> {
    if messages.is_empty() {
        let evidence = gather(inner, engine, turn, draft).await;
        let incident = &turn.facts.incident;
        let mut brief = prompt::brief(
            incident.id,
            &incident.title,
            incident.service.as_deref(),
            &evidence,
        );
        if let Some(question) = &turn.question {
            brief.push_str(&format!("\nThe responder asks: {question}"));
        }
        tally.evidence = evidence;
        messages.push(Message::system(prompt::SYSTEM));
        messages.push(Message::user(clean(&brief)));
    } else if let Some(question) = &turn.question {
        draft.note(format!("Follow-up: {question}"));
        messages.push(Message::user(clean(question)));
    }
    let config = &inner.config;
    let specs = tools::specs();
    let mut calls_left = config.max_tool_calls;
    for round in 0..=config.max_rounds {
        let offer: &[_] = if round < config.max_rounds && calls_left > 0 {
            &specs
        } else {
            &[]
        };
        draft.clear_text();
        let completion: Completion = inner
            .client
            .complete(messages, offer, &mut |text: &str| draft.push_text(text))
            .await
            .map_err(Stop::Model)?;
        if let Some(usage) = completion.usage {
            tally.usage_reported = true;
            tally.tokens_in += usage.prompt_tokens;
            tally.tokens_out += usage.completion_tokens;
        }
        if completion.tool_calls.is_empty() {
            messages.push(Message::assistant(clean(&completion.content), Vec::new()));
            return Ok(completion.content);
        }
        if offer.is_empty() {
            return Err(Stop::KeptCallingTools(config.max_rounds));
        }
        messages.push(Message::assistant(
            clean(&completion.content),
            completion.tool_calls.clone(),
        ));
        for call in &completion.tool_calls {
            let result = if calls_left == 0 {
                "Refused: the investigation's tool calls are used up; answer with what you have."
                    .to_string()
            } else {
                calls_left -= 1;
                tally.tool_calls += 1;
                let (source, text) = run_tool(inner, engine, turn, call).await;
                draft.note(format!("Round {}: {source}", round + 1));
                prompt::tool_result(&source, &text, TOOL_RESULT_LIMIT)
            };
            messages.push(Message::tool(call.id.clone(), clean(&result)));
        }
    }
    Err(Stop::KeptCallingTools(config.max_rounds))
}

/// Redacted text: what may leave opsbot.
fn clean(text: &str) -> String {
    redact(text).0.into_owned()
}

/// The evidence opsbot reads before asking: the firing alerts, `incident show`, and for
/// the incident's service `health`, `logs`, `rollback --list`, `cost`, and similar past
/// incidents. Each tool runs as the asker (what they may not read is said, not read).
async fn gather(inner: &Inner, engine: &Engine, turn: &Turn, draft: &SharedDraft) -> Vec<Evidence> {
    let mut evidence = Vec::new();
    for alert in &turn.facts.firing {
        let mut text = format!("{} ({}): {}", alert.name, alert.severity, alert.summary);
        for (key, value) in &alert.labels {
            text.push_str(&format!("\nlabel {key}={value}"));
        }
        for (key, value) in &alert.annotations {
            text.push_str(&format!("\nannotation {key}: {value}"));
        }
        evidence.push(Evidence {
            source: format!("alert {}", alert.name),
            text: clean(&text),
        });
    }
    let incident = &turn.facts.incident;
    let mut lines = vec![format!("incident show {}", incident.id)];
    if let Some(service) = &incident.service {
        lines.push(format!("health {service}"));
        lines.push(format!("logs {service} --tail 50"));
        lines.push(format!("rollback {service} --list"));
        lines.push(format!("cost {service}"));
    }
    for line in lines {
        let text = run_command(engine, turn, &line, "evidence").await;
        draft.note(format!("Read `{line}`"));
        evidence.push(Evidence { source: line, text });
    }
    let text = similar(inner, turn).await;
    draft.note("Read similar past incidents");
    evidence.push(Evidence {
        source: "similar incidents".into(),
        text,
    });
    evidence
}

/// Runs one of the model's tool calls; its source label and redacted text.
async fn run_tool(
    inner: &Inner,
    engine: &Engine,
    turn: &Turn,
    call: &ToolCall,
) -> (String, String) {
    match tools::interpret(call) {
        ToolRequest::Command(line) => {
            let text = run_command(engine, turn, &line, &format!("tool {}", call.name)).await;
            (line, text)
        }
        ToolRequest::SimilarIncidents => ("similar incidents".into(), similar(inner, turn).await),
        ToolRequest::Refused { command, why } => {
            let reason = format!(
                "investigation #{} of incident #{}: refused tool call `{command}` ({})",
                turn.investigation,
                turn.facts.incident.id,
                clean(&call.arguments)
            );
            engine
                .refuse_tool(
                    &turn.asker,
                    &turn.request_id,
                    &command,
                    &format!("{reason}: {why}"),
                )
                .await;
            (format!("refused {command}"), format!("Refused: {why}"))
        }
    }
}

/// `line` through the engine as the asker (read-only, audited); the reply as redacted
/// plain text.
async fn run_command(engine: &Engine, turn: &Turn, line: &str, what: &str) -> String {
    let mut invocation = turn.asker.clone();
    invocation.text = line.to_string();
    let reason = format!(
        "investigation #{} of incident #{} ({what})",
        turn.investigation, turn.facts.incident.id
    );
    let (reply, _) = engine
        .run_tool_command(&invocation, &turn.request_id, &reason)
        .await;
    clean(&reply.to_plain_text())
}

async fn similar(inner: &Inner, turn: &Turn) -> String {
    let incident = &turn.facts.incident;
    let names: Vec<String> = turn.facts.firing.iter().map(|a| a.name.clone()).collect();
    match repo::similar(
        &inner.store,
        incident.id,
        incident.service.as_deref(),
        &names,
        5,
    )
    .await
    {
        Ok(found) if found.is_empty() => "No earlier incident of this service or alert.".into(),
        Ok(found) => {
            let mut text = String::new();
            for past in found {
                text.push_str(&format!("#{} {} ({}", past.id, past.title, past.status));
                if let Some(by) = &past.resolved_by {
                    text.push_str(&format!(", resolved by {by}"));
                }
                text.push_str(")\n");
                for done in &past.what_was_done {
                    text.push_str(&format!("  {done}\n"));
                }
            }
            clean(&text)
        }
        Err(error) => format!("unavailable: {error}"),
    }
}

/// The message while the investigation runs.
fn in_progress(title: &str, draft: &Draft) -> Reply {
    let mut reply = Reply::info(title.to_string());
    if let Some(last) = draft.notes.last() {
        reply = reply.line(format!(
            "_{} step(s) so far; last: {last}_",
            draft.notes.len()
        ));
    }
    if draft.text.is_empty() {
        reply.line("…")
    } else {
        reply.line(format!("{} …", clean(&draft.text)))
    }
}

fn footer(inner: &Inner, turn: &Turn, tally: &Tally, elapsed: std::time::Duration) -> String {
    let usage = if tally.usage_reported {
        format!("{} tokens in, {} out", tally.tokens_in, tally.tokens_out)
    } else {
        "usage not reported".to_string()
    };
    format!(
        "🤖 {} for {} · {usage} · {} tool calls · {:.1}s · proposed actions run only when a \
         person presses them",
        inner.config.model,
        turn.asker.actor.label(),
        tally.tool_calls,
        elapsed.as_secs_f64()
    )
}

/// The message of a turn that stopped: why, and the evidence gathered so far.
fn stopped(title: &str, stop: &Stop, tally: &Tally, draft: &Draft) -> Reply {
    let mut reply =
        Reply::danger(title.to_string()).line(format!("The investigation stopped: {stop}"));
    if !tally.evidence.is_empty() {
        reply = reply.line("Evidence gathered so far:".to_string());
        for piece in &tally.evidence {
            let first = piece
                .text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("(nothing)");
            reply = reply.line(format!("• {}: {first}", piece.source));
        }
    }
    for note in draft.notes.iter().filter(|n| n.starts_with("Round")) {
        reply = reply.line(format!("• {note}"));
    }
    if !draft.text.is_empty() {
        reply = reply.line(format!("The model had said: {}", clean(&draft.text)));
    }
    reply
}

/// What the turn's tokens cost at the configured prices.
fn cost_of(inner: &Inner, tally: &Tally) -> Money {
    let million = Money::from(1_000_000u32);
    (Money::from(tally.tokens_in) * inner.config.price_per_million_input
        + Money::from(tally.tokens_out) * inner.config.price_per_million_output)
        / million
}
