//! What the `runbook` command asks of the binary: the [`RunbookDesk`] trait and the
//! views it answers with. Runbooks are procedures from the configuration (steps that run
//! commands, call admin APIs, wait, ask a person); runs are stored by the binary, which
//! executes them step by step. This module only says what the command can ask and see;
//! the command (`builtin/runbook.rs`) words the replies.

use async_trait::async_trait;

use crate::{Button, Invocation, Reply, Status};

/// A runbook as `runbook list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunbookSummary {
    pub name: String,
    pub description: String,
    /// Service globs it may be run for (empty: any).
    pub services: Vec<String>,
    /// `service (service)`, `message (string, default "…")`.
    pub params: Vec<String>,
    pub steps: usize,
}

/// One step of a runbook, described for people (secrets redacted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepPlan {
    /// 1-based position.
    pub index: usize,
    /// `command`, `http`, `wait`, `wait_healthy`, `manual`, `notify`.
    pub kind: String,
    /// What it does: `restart alice-backend`, `POST http://…/set-mode {"mode":"offline"}`.
    pub what: String,
    /// `stop` or `continue`.
    pub on_failure: String,
    /// For a dry run: whether the invoker may run this step (`Err` says why not). `Ok`
    /// for steps that need no right.
    pub allowed: Result<(), String>,
}

/// `runbook show NAME`: the runbook and its steps as written (placeholders unfilled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunbookDetail {
    pub summary: RunbookSummary,
    pub steps: Vec<StepPlan>,
    pub rollback_steps: Vec<StepPlan>,
}

/// `runbook run NAME … --dry-run`: the parameters as resolved and every step as it would
/// run. Nothing was sent or changed to produce it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
    pub runbook: String,
    /// `service = alice-backend`, in declaration order, defaults filled in.
    pub params: Vec<(String, String)>,
    pub steps: Vec<StepPlan>,
    pub rollback_steps: Vec<StepPlan>,
}

/// The state of a stored step of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepView {
    pub index: usize,
    pub kind: String,
    pub what: String,
    /// `pending`, `running`, `waiting`, `ok`, `failed`, `skipped`, `interrupted`,
    /// `aborted`.
    pub state: String,
    /// What came of it (`HTTP 200`, the command's summary, `Done by Alice`).
    pub detail: String,
    /// Whether it belongs to the rollback steps.
    pub rollback: bool,
}

/// A stored run as `runbook status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunView {
    pub id: i64,
    pub runbook: String,
    /// `running`, `waiting`, `succeeded`, `failed`, `aborted`, `interrupted`.
    pub state: String,
    /// Who started it, as people read it (`Alice (slack:U1)`, `automation:restart-ai`).
    pub started_by: String,
    pub started_at: jiff::Timestamp,
    pub params: Vec<(String, String)>,
    pub steps: Vec<StepView>,
}

impl RunView {
    /// Whether the run may still change (running or waiting for a person).
    pub fn is_active(&self) -> bool {
        matches!(self.state.as_str(), "running" | "waiting")
    }

    /// The run with every step, as `runbook status RUN` and the run's own message show it.
    pub fn reply(&self) -> Reply {
        run_reply(self)
    }
}

/// A person's answer to a manual step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManualAnswer {
    Done,
    Skip,
}

/// Runbooks and their runs. Errors are sentences for the person who typed the command
/// (`there is no runbook `x``, `run 7 is not waiting for anyone`).
#[async_trait]
pub trait RunbookDesk: Send + Sync {
    /// Every configured runbook, in configuration order.
    fn list(&self) -> Vec<RunbookSummary>;
    /// One runbook, as written.
    fn show(&self, name: &str) -> Option<RunbookDetail>;
    /// Validates the parameters and describes every step as it would run for the
    /// invocation's actor, checking each against their roles. Sends nothing.
    fn dry_run(
        &self,
        name: &str,
        args: &[(String, String)],
        invocation: &Invocation,
    ) -> Result<DryRun, String>;
    /// Starts a run (the request was confirmed, and approved where a policy asks):
    /// parameters and rights are checked before anything runs; the steps then run in the
    /// background, reported in a message of their own.
    async fn start(
        &self,
        name: &str,
        args: &[(String, String)],
        invocation: &Invocation,
    ) -> Result<RunView, String>;
    /// One run, or (`None`) the active runs and the most recent ones.
    async fn status(&self, run: Option<i64>) -> Result<Vec<RunView>, String>;
    /// Stops a run before its next step (a step already running finishes).
    async fn abort(&self, run: i64, invocation: &Invocation) -> Result<RunView, String>;
    /// Answers the manual step a run is waiting on.
    async fn answer(
        &self,
        run: i64,
        answer: ManualAnswer,
        invocation: &Invocation,
    ) -> Result<RunView, String>;
}

/// A desk without runbooks (tests of other commands; a binary with none configured).
pub struct NoRunbooks;

#[async_trait]
impl RunbookDesk for NoRunbooks {
    fn list(&self) -> Vec<RunbookSummary> {
        Vec::new()
    }
    fn show(&self, _name: &str) -> Option<RunbookDetail> {
        None
    }
    fn dry_run(
        &self,
        name: &str,
        _args: &[(String, String)],
        _invocation: &Invocation,
    ) -> Result<DryRun, String> {
        Err(format!("there is no runbook `{name}`"))
    }
    async fn start(
        &self,
        name: &str,
        _args: &[(String, String)],
        _invocation: &Invocation,
    ) -> Result<RunView, String> {
        Err(format!("there is no runbook `{name}`"))
    }
    async fn status(&self, _run: Option<i64>) -> Result<Vec<RunView>, String> {
        Ok(Vec::new())
    }
    async fn abort(&self, run: i64, _invocation: &Invocation) -> Result<RunView, String> {
        Err(format!("there is no run {run}"))
    }
    async fn answer(
        &self,
        run: i64,
        _answer: ManualAnswer,
        _invocation: &Invocation,
    ) -> Result<RunView, String> {
        Err(format!("there is no run {run}"))
    }
}

/// The mark of a step's state.
pub fn step_mark(state: &str) -> &'static str {
    match state {
        "running" => "⏳",
        "waiting" => "✋",
        "ok" => "✅",
        "failed" => "❌",
        "skipped" => "⏭",
        "interrupted" => "⚠️",
        "aborted" => "⛔",
        _ => "▫️",
    }
}

/// `✅ 2. [http] POST … — 200`: one step as the run's message lists it.
pub fn step_line(step: &StepView) -> String {
    let mut line = format!(
        "{} {}. [{}] {}",
        step_mark(&step.state),
        step.index,
        step.kind,
        step.what
    );
    if !step.detail.is_empty() {
        line.push_str(&format!(" — {}", step.detail));
    }
    line
}

/// A run with every step: `runbook status RUN` (and the run's living message).
pub fn run_reply(run: &RunView) -> Reply {
    let status = match run.state.as_str() {
        "succeeded" => Status::Success,
        "failed" | "interrupted" => Status::Danger,
        "aborted" | "waiting" => Status::Warning,
        _ => Status::Info,
    };
    let title = match run.state.as_str() {
        "running" => format!("Runbook `{}` run #{} is running", run.runbook, run.id),
        "waiting" => format!(
            "Runbook `{}` run #{} waits for a person",
            run.runbook, run.id
        ),
        state => format!("Runbook `{}` run #{}: {state}", run.runbook, run.id),
    };
    let mut reply = Reply::new(status, title);
    let (main, rollback): (Vec<&StepView>, Vec<&StepView>) =
        run.steps.iter().partition(|s| !s.rollback);
    reply = reply.lines(main.into_iter().map(step_line));
    if !rollback.is_empty() {
        reply = reply.line("Rollback:".to_string());
        reply = reply.lines(rollback.into_iter().map(step_line));
    }
    reply = reply.field("Started by", run.started_by.clone());
    if !run.params.is_empty() {
        let params: Vec<String> = run.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        reply = reply.field("Parameters", params.join(" "));
    }
    if run.state == "waiting" {
        reply = reply
            .button(Button::new("Done", format!("runbook done {}", run.id)).primary())
            .button(Button::new("Skip", format!("runbook skip {}", run.id)));
    }
    if run.is_active() {
        reply = reply.button(
            Button::new("Abort", format!("runbook abort {}", run.id))
                .danger()
                .confirming(format!("Abort run #{}?", run.id)),
        );
    }
    reply
}
