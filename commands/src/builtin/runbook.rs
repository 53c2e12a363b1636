//! `runbook [list|show|run|status|abort|done|skip] [NAME|RUN] [key=value …] [--dry-run]`:
//! the procedures of the configuration, run from chat.
//!
//! `list`, `show`, `status` and `run --dry-run` only read; `run` starts a run (the engine
//! has it confirmed, and approved where a policy says so, first); `abort`, `done` and
//! `skip` act on a run (`done`/`skip` answer the manual step it waits on). The runs
//! themselves are the [`RunbookDesk`]'s; this file parses and words the replies.

use std::time::Duration;

use crate::{
    Button, CommandError, Ctx, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{ArgSpec, FlagSpec, Safety, ServiceArg, ValueKind},
    runbooks::{DryRun, ManualAnswer, RunView, RunbookDesk, StepPlan},
};

const ACTIONS: &[&str] = &["list", "show", "run", "status", "abort", "done", "skip"];

pub static COMMAND: Command = Command {
    name: "runbook",
    summary: "List runbooks, show one, run it (or --dry-run it), follow, abort or answer a run",
    service: ServiceArg::None,
    args: &[
        ArgSpec {
            name: "action",
            kind: ValueKind::Choice(ACTIONS),
            required: false,
            help: "list (default), show, run, status, abort, done, skip",
        },
        ArgSpec {
            name: "target",
            kind: ValueKind::Word,
            required: false,
            help: "the runbook's name (show, run) or the run's number (status, abort, done, skip)",
        },
        ArgSpec {
            name: "params",
            kind: ValueKind::Rest,
            required: false,
            help: "parameters of a run, key=value",
        },
    ],
    flags: &[FlagSpec {
        name: "dry-run",
        kind: ValueKind::Switch,
        help: "show what each step would do and check your rights; send nothing",
    }],
    safety: Safety::DestructiveActions {
        arg: "action",
        actions: &["run"],
        unless: &["dry-run"],
    },
    timeout: Duration::from_secs(60),
    examples: &[
        "runbook list",
        "runbook show alice-openai-outage",
        "runbook run ai-assistant-restart --dry-run",
        "runbook run service-restart service=ai-assistant",
        "runbook status 7",
        "runbook done 7",
    ],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let desk = ctx.runbooks;
    let action = call.text("action").unwrap_or("list");
    let target = call.text("target");
    let params = call.text("params");
    if params.is_some() && action != "run" {
        return Err(CommandError::Failed(format!(
            "`runbook {action}` takes no parameters (got `{}`)",
            params.unwrap_or_default()
        )));
    }
    if call.switch("dry-run") && action != "run" {
        return Err(CommandError::Failed(
            "`--dry-run` goes with `runbook run NAME`".into(),
        ));
    }
    let failed = CommandError::Failed;
    match action {
        "list" => match target {
            Some(extra) => Err(failed(format!(
                "`runbook list` takes nothing more (got `{extra}`); `runbook show {extra}` shows one"
            ))),
            None => Ok(list(desk)),
        },
        "show" => {
            let name = needs_name(target, "show")?;
            let detail = desk.show(name).ok_or_else(|| unknown_runbook(desk, name))?;
            let summary = &detail.summary;
            let mut reply = Reply::info(format!("Runbook `{}`", summary.name));
            if !summary.description.is_empty() {
                reply = reply.line(summary.description.clone());
            }
            if !summary.params.is_empty() {
                reply = reply.field("Parameters", summary.params.join(", "));
            }
            if !summary.services.is_empty() {
                reply = reply.field("Services", summary.services.join(", "));
            }
            reply = reply.line("Steps:".to_string());
            reply = reply.lines(detail.steps.iter().map(plan_line));
            if !detail.rollback_steps.is_empty() {
                reply = reply.line("When it stops on a failure (rollback):".to_string());
                reply = reply.lines(detail.rollback_steps.iter().map(plan_line));
            }
            Ok(reply.button(Button::new(
                "Dry run",
                format!("runbook run {} --dry-run", summary.name),
            )))
        }
        "run" => {
            let name = needs_name(target, "run")?;
            let args = parse_params(params.unwrap_or_default()).map_err(failed)?;
            if call.switch("dry-run") {
                let plan = desk.dry_run(name, &args, ctx.invocation).map_err(failed)?;
                Ok(dry_run_reply(&plan))
            } else {
                let run = desk
                    .start(name, &args, ctx.invocation)
                    .await
                    .map_err(failed)?;
                Ok(Reply::success(format!(
                    "Runbook `{}` started: run #{}",
                    run.runbook, run.id
                ))
                .line(format!(
                    "Its steps are reported in the run's own message; `runbook status {}` shows where it is.",
                    run.id
                ))
                .button(
                    Button::new("Abort", format!("runbook abort {}", run.id))
                        .danger()
                        .confirming(format!("Abort run #{}?", run.id)),
                ))
            }
        }
        "status" => {
            let run = target.map(run_number).transpose().map_err(failed)?;
            let runs = desk.status(run).await.map_err(failed)?;
            match (run, runs.as_slice()) {
                (Some(id), []) => Err(failed(format!("there is no run {id}"))),
                (Some(_), [one, ..]) => Ok(one.reply()),
                (None, []) => Ok(Reply::info("No runbook has been run yet")),
                (None, runs) => {
                    let active = runs.iter().filter(|r| r.is_active()).count();
                    let mut reply = Reply::info(format!("Runbook runs ({active} active)"));
                    for run in runs {
                        reply = reply.line(run_headline(run));
                    }
                    Ok(reply)
                }
            }
        }
        "abort" | "done" | "skip" => {
            let id = run_number(target.ok_or_else(|| {
                failed(format!(
                    "which run? say `runbook {action} RUN` (`runbook status` lists them)"
                ))
            })?)
            .map_err(failed)?;
            let view = match action {
                "abort" => desk.abort(id, ctx.invocation).await,
                "done" => desk.answer(id, ManualAnswer::Done, ctx.invocation).await,
                _ => desk.answer(id, ManualAnswer::Skip, ctx.invocation).await,
            }
            .map_err(failed)?;
            let said = match action {
                "abort" => "will stop before its next step",
                "done" => "step marked done",
                _ => "step skipped",
            };
            Ok(
                Reply::success(format!("Run #{} of `{}`: {said}", view.id, view.runbook))
                    .line(format!("by {}", ctx.invocation.actor.label())),
            )
        }
        other => Err(failed(format!("unknown action `{other}`"))),
    }
}

fn needs_name<'a>(target: Option<&'a str>, action: &str) -> Result<&'a str, CommandError> {
    target.ok_or_else(|| {
        CommandError::Failed(format!(
            "which runbook? say `runbook {action} NAME` (`runbook list` lists them)"
        ))
    })
}

fn unknown_runbook(desk: &dyn RunbookDesk, name: &str) -> CommandError {
    let known: Vec<String> = desk.list().into_iter().map(|r| r.name).collect();
    CommandError::Failed(if known.is_empty() {
        format!("there is no runbook `{name}`; none is configured")
    } else {
        format!(
            "there is no runbook `{name}`; runbooks: {}",
            known.join(", ")
        )
    })
}

/// `7` or `#7`.
fn run_number(text: &str) -> Result<i64, String> {
    text.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a run number"))
}

/// `service=ai-assistant message=hello world`: each `key=` starts a parameter; words
/// without one continue the previous value (chat text has no reliable quoting).
pub(crate) fn parse_params(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut params: Vec<(String, String)> = Vec::new();
    for word in text.split_whitespace() {
        match word.split_once('=') {
            Some((key, value))
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                if params.iter().any(|(k, _)| k == key) {
                    return Err(format!("parameter `{key}` is given twice"));
                }
                params.push((key.to_string(), value.to_string()));
            }
            _ => match params.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(word);
                }
                None => {
                    return Err(format!(
                        "parameters are written key=value; `{word}` is not (`runbook show NAME` lists them)"
                    ));
                }
            },
        }
    }
    Ok(params)
}

fn list(desk: &dyn RunbookDesk) -> Reply {
    let runbooks = desk.list();
    if runbooks.is_empty() {
        return Reply::info("No runbooks are configured")
            .line("Add `[[runbooks]]` to the configuration (see the README, \"Runbooks\").");
    }
    let mut reply = Reply::info(format!("Runbooks ({})", runbooks.len()));
    for runbook in &runbooks {
        let steps = if runbook.steps == 1 { "step" } else { "steps" };
        let mut line = format!(
            "`{}` — {} ({} {steps}",
            runbook.name, runbook.description, runbook.steps
        );
        if !runbook.params.is_empty() {
            line.push_str(&format!("; {}", runbook.params.join(", ")));
        }
        line.push(')');
        reply = reply.line(line);
    }
    reply
}

/// `2. [http] POST http://…/set-mode {"mode":"offline"} (on failure: continue)`.
fn plan_line(step: &StepPlan) -> String {
    let mut line = format!("{}. [{}] {}", step.index, step.kind, step.what);
    if step.on_failure != "stop" {
        line.push_str(&format!(" (on failure: {})", step.on_failure));
    }
    line
}

fn dry_run_reply(plan: &DryRun) -> Reply {
    let refused: Vec<&StepPlan> = plan
        .steps
        .iter()
        .chain(&plan.rollback_steps)
        .filter(|s| s.allowed.is_err())
        .collect();
    let title = format!(
        "Dry run of `{}`: {} steps, nothing was sent",
        plan.runbook,
        plan.steps.len()
    );
    let mut reply = if refused.is_empty() {
        Reply::info(title)
    } else {
        Reply::warning(title).line(format!(
            "You may not run {} of its steps, so a real run would be refused.",
            refused.len()
        ))
    };
    let mark = |step: &StepPlan| match &step.allowed {
        Ok(()) => format!("✅ {}", plan_line(step)),
        Err(why) => format!("⛔ {} — {why}", plan_line(step)),
    };
    reply = reply.lines(plan.steps.iter().map(mark));
    if !plan.rollback_steps.is_empty() {
        reply = reply.line("When it stops on a failure (rollback):".to_string());
        reply = reply.lines(plan.rollback_steps.iter().map(mark));
    }
    if !plan.params.is_empty() {
        let params: Vec<String> = plan
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        reply = reply.field("Parameters", params.join(" "));
    }
    if refused.is_empty() {
        let mut text = format!("runbook run {}", plan.runbook);
        for (key, value) in &plan.params {
            text.push_str(&format!(" {key}={value}"));
        }
        reply = reply.button(Button::new("Run it", text).primary());
    }
    reply
}

fn run_headline(run: &RunView) -> String {
    let done = run
        .steps
        .iter()
        .filter(|s| !s.rollback && matches!(s.state.as_str(), "ok" | "skipped"))
        .count();
    let total = run.steps.iter().filter(|s| !s.rollback).count();
    format!(
        "#{} `{}` — {}, {done}/{total} steps, started by {} at {}",
        run.id,
        run.runbook,
        run.state,
        run.started_by,
        run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_key_value_and_values_may_have_spaces() {
        assert_eq!(
            parse_params("service=ai-assistant message=back in a minute").unwrap(),
            vec![
                ("service".to_string(), "ai-assistant".to_string()),
                ("message".to_string(), "back in a minute".to_string())
            ]
        );
        assert!(parse_params("").unwrap().is_empty());
        assert!(parse_params("oops service=x").is_err());
        assert!(parse_params("a=1 a=2").is_err());
        assert_eq!(
            parse_params("url=http://x/?a=b").unwrap(),
            vec![("url".to_string(), "http://x/?a=b".to_string())]
        );
    }

    #[test]
    fn only_a_real_run_asks_for_confirmation() {
        let registry = crate::Registry::new(crate::builtin::COMMANDS);
        let catalog = crate::Catalog::new(Vec::new()).unwrap();
        let destructive = |text: &str| {
            let call = crate::language::parse(text, &registry, &catalog, None).unwrap();
            call.command.is_destructive_call(&call)
        };
        assert!(destructive("runbook run recovery service=web"));
        assert!(!destructive("runbook run recovery --dry-run"));
        assert!(!destructive("runbook list"));
        assert!(!destructive("runbook show recovery"));
        assert!(!destructive("runbook done 7"));
        assert!(!destructive("runbook"));
    }

    #[test]
    fn run_numbers_take_a_hash() {
        assert_eq!(run_number("#7"), Ok(7));
        assert_eq!(run_number("7"), Ok(7));
        assert!(run_number("seven").is_err());
        assert!(run_number("0").is_err());
    }
}
