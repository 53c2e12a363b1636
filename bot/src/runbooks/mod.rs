//! Runbooks as code: the `[[runbooks]]` of the configuration, run step by step from chat.
//!
//! [`Runbooks`] is the `runbook` command's [`RunbookDesk`]: it lists and describes
//! runbooks, plans dry runs (checking every step against the invoker's roles, sending
//! nothing), and starts runs, each driven by a task of this process ([`runner`]) whose
//! state is in the store ([`repo`]) and whose living message is in the outbox
//! ([`report`]).
//!
//! Guarantees:
//! * No privilege escalation: every `command` step runs through the engine as the run's
//!   starter (whoever that is: a chat user today, an automation's principal later), and
//!   is authorized against the starter's roles, before the run starts and again when the
//!   step runs. Starting a run grants nothing.
//! * Each step leaves its own audit record, under the run's request id.
//! * A run survives a restart as a record: while it is active its process renews a
//!   lease; when the lease lapses (the process died) the sweep ([`lease`]) marks the run
//!   and its in-flight step `interrupted` and says so in the thread. Nothing re-runs by
//!   itself.

pub mod definition;
mod lease;
pub mod repo;
pub mod report;
mod runner;
pub mod template;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, Weak},
    time::Duration,
};

use async_trait::async_trait;
use opsbot_commands::{
    Actor, Catalog, Invocation, Platform, language,
    runbooks::{
        DryRun, ManualAnswer, RunView, RunbookDesk, RunbookDetail, RunbookSummary, StepPlan,
    },
};
use tokio::sync::Notify;

use crate::{
    config::runbooks::RunbookConfig,
    engine::Engine,
    store::{Store, StoreError, time::to_micros},
};
use definition::{Action, Step};
use repo::Starter;

/// The runbooks of a configuration and the runs of this process.
#[derive(Clone)]
pub struct Runbooks {
    inner: Arc<Inner>,
}

struct Inner {
    runbooks: Vec<RunbookConfig>,
    catalog: Catalog,
    store: Store,
    /// The pipeline command steps run through (set once the engine exists).
    engine: OnceLock<Weak<Engine>>,
    http: opsbot_probes::HttpCaller,
    /// This process, as the owner of the runs it drives.
    owner: String,
    lease: Duration,
    /// Runs this process drives, each with what wakes it (a Done, a Skip, an Abort).
    live: Mutex<HashMap<i64, Arc<Notify>>>,
}

impl Runbooks {
    /// The runbooks of `runbooks` (checked by configuration validation), runs stored in
    /// `store`, leased for `lease` at a time.
    pub fn new(
        runbooks: Vec<RunbookConfig>,
        catalog: Catalog,
        store: Store,
        lease: Duration,
    ) -> Result<Self, opsbot_probes::ProberError> {
        Ok(Self {
            inner: Arc::new(Inner {
                runbooks,
                catalog,
                store,
                engine: OnceLock::new(),
                http: opsbot_probes::HttpCaller::new()?,
                owner: crate::inbox::Inbox::default_owner(),
                lease: lease.max(Duration::from_millis(200)),
                live: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Connects the engine command steps run through, and starts renewing this process's
    /// leases and sweeping runs whose process died.
    pub fn attach(&self, engine: &Arc<Engine>) -> tokio::task::JoinHandle<()> {
        let _ = self.inner.engine.set(Arc::downgrade(engine));
        tokio::spawn(lease::maintain(self.inner.clone()))
    }

    fn find(&self, name: &str) -> Option<&RunbookConfig> {
        self.inner.runbooks.iter().find(|r| r.name == name)
    }

    fn unknown(&self, name: &str) -> String {
        let known: Vec<&str> = self
            .inner
            .runbooks
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        if known.is_empty() {
            format!("there is no runbook `{name}`; none is configured")
        } else {
            format!(
                "there is no runbook `{name}`; runbooks: {}",
                known.join(", ")
            )
        }
    }

    fn summary(runbook: &RunbookConfig) -> RunbookSummary {
        RunbookSummary {
            name: runbook.name.clone(),
            description: runbook.description.clone(),
            services: runbook.services.clone(),
            params: runbook
                .params
                .iter()
                .map(definition::describe_param)
                .collect(),
            steps: runbook.steps.len(),
        }
    }

    /// The steps and rollback steps of a run with `params`.
    fn plan(
        runbook: &RunbookConfig,
        params: &[(String, String)],
    ) -> Result<(Vec<Step>, Vec<Step>), String> {
        Ok((
            definition::steps(runbook, &runbook.steps, params)?,
            definition::steps(runbook, &runbook.rollback_steps, params)?,
        ))
    }

    /// `restart alice-backend on compose alice/alice-backend`: a step's description with
    /// the target its command acts on.
    fn describe(&self, step: &Step) -> String {
        let text = step.describe();
        let Action::Command(line) = &step.action else {
            return text;
        };
        let registry = opsbot_commands::Registry::new(opsbot_commands::builtin::COMMANDS);
        match language::parse(line, &registry, &self.inner.catalog, None)
            .ok()
            .and_then(|call| call.service)
        {
            Some(service) => format!(
                "{text} (on {}, {})",
                service.target.describe(),
                service.environment
            ),
            None => text,
        }
    }

    /// Whether `actor` may run `step` from `channel` (`Err`: why not).
    fn rights(&self, actor: &Actor, step: &Step, channel: &str) -> Result<(), String> {
        let engine = self.engine()?;
        match &step.action {
            Action::Command(line) => engine.authorize_step(actor, line, channel),
            Action::WaitHealthy { service, .. } => {
                engine.authorize_step(actor, &format!("health {service}"), channel)
            }
            _ => Ok(()),
        }
    }

    fn engine(&self) -> Result<Arc<Engine>, String> {
        self.inner
            .engine
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| "opsbot is shutting down".to_string())
    }

    fn plans(&self, steps: &[Step], check: Option<(&Actor, &str)>) -> Vec<StepPlan> {
        steps
            .iter()
            .enumerate()
            .map(|(index, step)| StepPlan {
                index: index + 1,
                kind: step.kind.as_str().to_string(),
                what: self.describe(step),
                on_failure: step.on_failure.as_str().to_string(),
                allowed: match check {
                    Some((actor, channel)) => self.rights(actor, step, channel),
                    None => Ok(()),
                },
            })
            .collect()
    }

    async fn view(&self, id: i64) -> Result<Option<RunView>, StoreError> {
        let mut conn = self.inner.store.read_pool().acquire().await?;
        report::load(&mut conn, id).await
    }

    fn wake(&self, id: i64) {
        if let Some(notify) = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|l| l.get(&id).cloned())
        {
            notify.notify_one();
        }
    }
}

impl Runbooks {
    /// Starts runbook `name` as `actor`, reporting on `platform` in `channel` (and
    /// `thread`): a chat command's invocation, or an automation (whose actor has no chat
    /// of its own, so its runs report where its incident is).
    pub async fn start_as(
        &self,
        name: &str,
        args: &[(String, String)],
        actor: &Actor,
        platform: Platform,
        channel: &str,
        thread: Option<&str>,
    ) -> Result<RunView, String> {
        let runbook = self.find(name).ok_or_else(|| self.unknown(name))?;
        let params = definition::resolve_params(runbook, args, &self.inner.catalog)?;
        let (steps, rollback) = Self::plan(runbook, &params)?;
        // Every right a step needs, before anything runs: starting grants nothing.
        let refused: Vec<String> = steps
            .iter()
            .chain(&rollback)
            .enumerate()
            .filter_map(|(index, step)| {
                self.rights(actor, step, channel)
                    .err()
                    .map(|why| format!("step {} ({}): {why}", index + 1, step.describe()))
            })
            .collect();
        if !refused.is_empty() {
            return Err(format!(
                "{} may not run every step of `{name}`, so nothing was run: {}",
                actor.label(),
                refused.join("; ")
            ));
        }
        let starter = starter_of(actor);
        let request_id = uuid::Uuid::now_v7().to_string();
        let now = jiff::Timestamp::now();
        let lease_until = to_micros(now).saturating_add(self.inner.lease.as_micros() as i64);
        let described: Vec<(bool, &str, String)> = steps
            .iter()
            .map(|s| (false, s.kind.as_str(), self.describe(s)))
            .chain(
                rollback
                    .iter()
                    .map(|s| (true, s.kind.as_str(), self.describe(s))),
            )
            .collect();
        let new = repo::NewRun {
            runbook: &runbook.name,
            params: &params,
            request_id: &request_id,
            starter: &starter,
            platform: platform.as_str(),
            channel,
            thread,
            owner: &self.inner.owner,
            lease_until_us: lease_until,
            now,
            steps: described,
        };
        let store = &self.inner.store;
        let id = async {
            let mut tx = store.pool().begin().await?;
            let id = repo::insert_run(&mut tx, &new).await?;
            report::publish(&mut tx, id, true, report::Extra::Nothing).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        }
        .await;
        let id = id.map_err(store_error)?;
        crate::outbox::wake();
        let notify = Arc::new(Notify::new());
        if let Ok(mut live) = self.inner.live.lock() {
            live.insert(id, notify.clone());
        }
        let run = runner::Run {
            id,
            runbook: runbook.name.clone(),
            request_id,
            starter,
            channel: channel.to_string(),
            thread: thread.map(str::to_string),
            steps,
            rollback,
            notify,
        };
        tokio::spawn(runner::drive(self.inner.clone(), run));
        self.view(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| format!("run {id} vanished"))
    }

    /// A run as it is now.
    pub async fn run_view(&self, id: i64) -> Result<Option<RunView>, String> {
        self.view(id).await.map_err(store_error)
    }

    /// Why `service` is unhealthy now, as `actor` would see it with `health` (one look,
    /// not audited); `None` when it is healthy, or has no health checks to tell.
    pub async fn still_unhealthy(&self, actor: &Actor, service: &str) -> Option<String> {
        let found = self.inner.catalog.resolve(service).ok()?;
        if found.health.is_empty() {
            return None;
        }
        let engine = self.engine().ok()?;
        let look = Invocation::new(actor.clone(), "", format!("health {}", found.name));
        let (reply, healthy) = engine.look_at_health(&look, found.name.as_str()).await;
        (!healthy).then(|| reply.summary())
    }
}

/// The starter of an invocation, as stored.
fn starter_of(actor: &Actor) -> Starter {
    Starter {
        kind: actor.platform.as_str().to_string(),
        id: actor.id.clone(),
        name: actor.display_name.clone(),
        groups: actor.groups.clone(),
    }
}

/// The actor a stored starter stands for; `None` for a principal kind this build does
/// not know (its command steps are refused).
pub(crate) fn actor_of(starter: &Starter) -> Option<Actor> {
    let platform = Platform::parse(&starter.kind)?;
    Some(
        Actor::new(platform, starter.id.clone(), starter.name.clone())
            .with_groups(starter.groups.clone()),
    )
}

fn store_error(error: StoreError) -> String {
    format!("the store is unavailable ({error}); nothing was done")
}

#[async_trait]
impl RunbookDesk for Runbooks {
    fn list(&self) -> Vec<RunbookSummary> {
        self.inner.runbooks.iter().map(Self::summary).collect()
    }

    fn show(&self, name: &str) -> Option<RunbookDetail> {
        let runbook = self.find(name)?;
        // Placeholders stay visible: each parameter "filled" with itself.
        let params: Vec<(String, String)> = runbook
            .params
            .iter()
            .map(|p| (p.name.clone(), format!("{{{}}}", p.name)))
            .collect();
        let (steps, rollback) = Self::plan(runbook, &params).ok()?;
        Some(RunbookDetail {
            summary: Self::summary(runbook),
            steps: self.plans(&steps, None),
            rollback_steps: self.plans(&rollback, None),
        })
    }

    fn dry_run(
        &self,
        name: &str,
        args: &[(String, String)],
        invocation: &Invocation,
    ) -> Result<DryRun, String> {
        let runbook = self.find(name).ok_or_else(|| self.unknown(name))?;
        let params = definition::resolve_params(runbook, args, &self.inner.catalog)?;
        let (steps, rollback) = Self::plan(runbook, &params)?;
        let check = Some((&invocation.actor, invocation.channel.as_str()));
        Ok(DryRun {
            runbook: runbook.name.clone(),
            params,
            steps: self.plans(&steps, check),
            rollback_steps: self.plans(&rollback, check),
        })
    }

    async fn start(
        &self,
        name: &str,
        args: &[(String, String)],
        invocation: &Invocation,
    ) -> Result<RunView, String> {
        self.start_as(
            name,
            args,
            &invocation.actor,
            invocation.platform(),
            &invocation.channel,
            invocation.thread.as_deref(),
        )
        .await
    }

    async fn status(&self, run: Option<i64>) -> Result<Vec<RunView>, String> {
        match run {
            Some(id) => Ok(self
                .view(id)
                .await
                .map_err(store_error)?
                .into_iter()
                .collect()),
            None => {
                let runs = repo::recent(&self.inner.store, 10)
                    .await
                    .map_err(store_error)?;
                let mut views = Vec::new();
                for run in runs {
                    if let Some(view) = self.view(run.id).await.map_err(store_error)? {
                        views.push(view);
                    }
                }
                Ok(views)
            }
        }
    }

    async fn abort(&self, run: i64, invocation: &Invocation) -> Result<RunView, String> {
        let asked = repo::request_abort(&self.inner.store, run, &invocation.actor.label())
            .await
            .map_err(store_error)?;
        let view = self
            .view(run)
            .await
            .map_err(store_error)?
            .ok_or_else(|| format!("there is no run {run}"))?;
        if !asked {
            return Err(if view.is_active() {
                format!("run {run} is already stopping")
            } else {
                format!("run {run} is already {}", view.state)
            });
        }
        self.wake(run);
        Ok(view)
    }

    async fn answer(
        &self,
        run: i64,
        answer: ManualAnswer,
        invocation: &Invocation,
    ) -> Result<RunView, String> {
        let store = &self.inner.store;
        let by = invocation.actor.label();
        let (state, said) = match answer {
            ManualAnswer::Done => ("ok", format!("done by {by}")),
            ManualAnswer::Skip => ("skipped", format!("skipped by {by}")),
        };
        let moved = async {
            let mut tx = store.pool().begin().await?;
            let steps = repo::steps(&mut tx, run).await?;
            let Some(waiting) = steps.iter().find(|s| s.state == "waiting") else {
                return Ok(false);
            };
            let now = jiff::Timestamp::now();
            let took = repo::move_step(
                &mut tx,
                run,
                waiting.position,
                &repo::StepChange {
                    from: &["waiting"],
                    to: state,
                    detail: &said,
                    answered_by: Some(&by),
                },
                now,
            )
            .await?;
            if !took {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE runbook_runs SET state = 'running' WHERE id = $1 AND state = 'waiting'",
            )
            .bind(run)
            .execute(&mut *tx)
            .await?;
            report::publish(&mut tx, run, false, report::Extra::Nothing).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        }
        .await
        .map_err(store_error)?;
        let view = self
            .view(run)
            .await
            .map_err(store_error)?
            .ok_or_else(|| format!("there is no run {run}"))?;
        if !moved {
            return Err(format!(
                "run {run} is not waiting for anyone (it is {})",
                view.state
            ));
        }
        crate::outbox::wake();
        self.wake(run);
        Ok(view)
    }
}
