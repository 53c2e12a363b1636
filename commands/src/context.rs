//! What a command may use while it runs: the traits the `opsbot` binary implements.
//!
//! Commands never reach the network, the store or a chat platform directly; they get a
//! [`Ctx`] of trait objects. Tests pass their own implementations.
//!
//! Each seam fails with its own small error type ([`RuntimeError`], [`AuditQueryError`],
//! [`DeskError`]); a failure of the store behind a seam is carried as a boxed source,
//! since this crate names no store types.

use async_trait::async_trait;

use crate::{Actor, Catalog, Invocation, Registry, Service};

/// One role an actor holds, how they got it, and what it allows, for `whoami`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDescription {
    pub role: String,
    /// The binding subject that matched (`slack-group:S0ONCALL`).
    pub via: String,
    /// Human lines such as `restart, rollback on * in prod`.
    pub grants: Vec<String>,
}

/// Read-only view of the access policy.
pub trait AccessView: Send + Sync {
    /// The roles an actor holds (with inherited roles expanded) and what each allows.
    fn describe(&self, actor: &Actor) -> Vec<RoleDescription>;
    /// Whether the actor could run the command on the service (or on some service when
    /// `service` is `None`), ignoring channel limits. Used to tailor `help`.
    /// `command` is a command's name (`restart`).
    fn may_run(&self, actor: &Actor, command: &str, service: Option<&Service>) -> bool;
}

/// Filters for `audit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub limit: u32,
    pub actor: Option<String>,
    pub service: Option<String>,
    pub command: Option<String>,
    pub decision: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<jiff::Timestamp>,
}

/// One audit entry as `audit` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditView {
    pub seq: i64,
    pub at: jiff::Timestamp,
    pub platform: String,
    pub actor_id: String,
    pub actor_name: String,
    pub channel: String,
    pub text: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub decision: String,
    pub reason: String,
    pub approver: Option<String>,
    pub status: String,
    pub summary: String,
    pub duration_ms: i64,
}

/// An error from the store behind a seam, as its implementation reports it.
pub type StoreFailure = Box<dyn std::error::Error + Send + Sync>;

/// Why the audit log could not be read: the store behind it failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuditQueryError(#[source] pub StoreFailure);

/// Reads the audit log.
#[async_trait]
pub trait AuditQuery: Send + Sync {
    async fn recent(&self, filter: &AuditFilter) -> Result<Vec<AuditView>, AuditQueryError>;
}

/// What a runtime action achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionReport {
    pub succeeded: bool,
    pub summary: String,
    pub details: Vec<String>,
}

/// Why a runtime action could not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    NotSupported(String),
    #[error("{0}")]
    Refused(String),
    #[error("{what} is unreachable: {reason}")]
    Unreachable { what: String, reason: String },
    #[error("{0}")]
    Failed(String),
}

impl RuntimeError {
    /// `service`'s target is not one this adapter operates: `the docker adapter operates
    /// compose services, not systemd unit ollama.service`.
    pub fn foreign_target(adapter: &str, operates: &str, service: &Service) -> Self {
        RuntimeError::NotSupported(format!(
            "the {adapter} adapter operates {operates}, not {}",
            service.target.describe()
        ))
    }

    /// The target cannot do this, so it is done by hand: `why`, then where the service's
    /// runbook is (`…; see the runbook (runbooks/wrkhrs-ai-stack.md)`).
    pub fn by_hand(service: &Service, why: impl std::fmt::Display) -> Self {
        RuntimeError::NotSupported(format!("{why}; {}", runbook_pointer(service)))
    }
}

/// `see the runbook (runbooks/agent-aiops.txt)`, or `see the runbook` when the catalog
/// names none: what [`RuntimeError::by_hand`] appends.
pub fn runbook_pointer(service: &Service) -> String {
    match &service.runbook {
        Some(runbook) => format!("see the runbook ({runbook})"),
        None => "see the runbook".to_string(),
    }
}

/// One revision of a rollout history (`rollback SERVICE --list`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub number: i64,
    /// What identifies the revision's pod template for good (the Kubernetes ReplicaSet's
    /// name): numbers change when a rollback re-uses an old revision, this does not.
    pub id: Option<String>,
    pub images: Vec<String>,
    pub created: Option<jiff::Timestamp>,
    pub change_cause: Option<String>,
    /// Whether this revision is the one running now.
    pub current: bool,
}

/// A revision of a service that passed the health gate (all checks at least warning, none
/// critical, right after a `restart` or `rollback` brought it up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoodRevision {
    /// [`Revision::id`] of the revision.
    pub id: String,
    /// Its number when it passed (it may have another one now).
    pub number: i64,
    pub images: Vec<String>,
    pub passed_at: jiff::Timestamp,
    /// Who ran the command after which it passed.
    pub passed_by: String,
}

/// Which revisions passed the health gate (`rollback SERVICE --to last-good`). Errors are
/// sentences (`the store is unavailable: …`).
#[async_trait]
pub trait KnownGood: Send + Sync {
    /// Records that a revision of `service` passed the gate (again).
    async fn passed(&self, service: &Service, revision: &GoodRevision) -> Result<(), String>;
    /// The revisions of `service` that passed, the most recent pass first.
    async fn good_revisions(&self, service: &Service) -> Result<Vec<GoodRevision>, String>;
}

/// What `logs` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    pub since: Option<std::time::Duration>,
    /// At most this many lines per source (pod, container).
    pub tail: u32,
    /// Keep only lines containing this text (plain substring, not a pattern).
    pub grep: Option<String>,
}

/// Log lines from one source (a pod's container, a compose container).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogChunk {
    pub source: String,
    pub lines: Vec<String>,
}

/// How healthy something is; ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthLevel {
    Ok,
    Warning,
    Critical,
}

impl HealthLevel {
    pub fn emoji(self) -> &'static str {
        match self {
            HealthLevel::Ok => "✅",
            HealthLevel::Warning => "⚠️",
            HealthLevel::Critical => "❌",
        }
    }
}

/// The runtime's own view of a service (ready replicas, container state, unit state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeView {
    pub level: HealthLevel,
    /// One line: `3/3 ready, 0 restarts` or `active (running)`.
    pub summary: String,
    /// Detail lines: pods in CrashLoopBackOff, recent warning events, container health.
    pub details: Vec<String>,
}

/// The result of one health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOutcome {
    pub name: String,
    pub level: HealthLevel,
    /// Why: `200 in 12 ms`, `connection refused`, `timed out after 5s`, `p95 142 ms > 100 ms`.
    pub detail: String,
    pub latency: std::time::Duration,
}

/// Runs health checks (HTTP, Prometheus). Never hangs: every check has its timeout.
#[async_trait]
pub trait Prober: Send + Sync {
    async fn probe(&self, service: &Service, check: &crate::catalog::HealthCheck) -> CheckOutcome;
}

/// Operates services on their targets (Kubernetes, docker compose, systemd). Targets
/// without a capability answer [`RuntimeError::NotSupported`] (the default).
#[async_trait]
pub trait Runtime: Send + Sync {
    async fn restart(
        &self,
        service: &Service,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError>;
    async fn rollback(
        &self,
        service: &Service,
        to_revision: Option<i64>,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError>;
    async fn scale(
        &self,
        service: &Service,
        replicas: u32,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError>;

    /// Rollout history, newest last.
    async fn history(&self, service: &Service) -> Result<Vec<Revision>, RuntimeError> {
        Err(RuntimeError::NotSupported(format!(
            "{} keeps no revision history",
            service.target.describe()
        )))
    }

    async fn logs(
        &self,
        service: &Service,
        query: &LogQuery,
    ) -> Result<Vec<LogChunk>, RuntimeError> {
        let _ = query;
        Err(RuntimeError::NotSupported(format!(
            "opsbot cannot read logs of {}",
            service.target.describe()
        )))
    }

    /// The runtime's own view, for `health SERVICE`.
    async fn inspect(&self, service: &Service) -> Result<RuntimeView, RuntimeError> {
        Err(RuntimeError::NotSupported(format!(
            "opsbot cannot inspect {}",
            service.target.describe()
        )))
    }
}

/// Where long-running commands report what they are doing ("2/3 replicas updated").
pub trait Progress: Send + Sync {
    fn report(&self, message: &str);
}

/// Progress that goes nowhere, for callers with no live channel.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _message: &str) {}
}

/// An incident as `incident list` and `incident show` present it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentView {
    pub id: i64,
    pub title: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    /// Why it is not paged (maintenance window, silence), while it is silenced.
    pub silenced: Option<String>,
    pub opened_at: jiff::Timestamp,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<jiff::Timestamp>,
    /// Escalation levels paged so far.
    pub escalation_level: i64,
    pub firing: i64,
    pub alerts: i64,
}

/// One line of an incident's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: jiff::Timestamp,
    pub text: String,
}

/// `incident show`: the incident, its alerts (one line each) and its timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentDetail {
    pub incident: IncidentView,
    pub alerts: Vec<String>,
    pub timeline: Vec<TimelineEntry>,
}

/// What a person does to an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncidentAction {
    Acknowledge,
    Resolve,
    Reopen,
    Note(String),
    /// Page the next escalation level now.
    Escalate,
    /// Something to do after the incident (a postmortem lists them).
    FollowUp(String),
}

/// `silence SERVICE|MATCHERS DURATION --reason TEXT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceRequest {
    /// Only alerts of this service.
    pub service: Option<String>,
    /// `alertname=Foo,job!=bar`, when given.
    pub matchers: Option<String>,
    pub duration: std::time::Duration,
    pub reason: String,
}

/// A silence as `silence list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceView {
    pub id: i64,
    /// `wrkhrs-rag` or `alertname=Foo,job=bar`.
    pub target: String,
    pub until: jiff::Timestamp,
    pub reason: String,
    pub created_by: String,
}

/// Why the incident desk did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// Refused, with a sentence for the person who typed the command (`incident 7 is
    /// already resolved`, `there is no silence 3`).
    #[error("{0}")]
    Refused(String),
    /// The store cannot be reached or cannot write right now: nothing was done, and
    /// trying again shortly is fine.
    #[error("{0}")]
    Unavailable(#[source] StoreFailure),
    /// The store failed otherwise.
    #[error("{0}")]
    Store(#[source] StoreFailure),
}

/// Incidents and silences, as the `incident` and `silence` commands use them.
#[async_trait]
pub trait IncidentDesk: Send + Sync {
    /// Newest first; open and acknowledged ones only unless `all`.
    async fn list(&self, all: bool, limit: u32) -> Result<Vec<IncidentView>, DeskError>;
    async fn show(&self, id: i64) -> Result<Option<IncidentDetail>, DeskError>;
    /// Applies `action` as the invocation's actor. Typed (or pressed) in the incident's
    /// own thread ([`Invocation::incident`]), the command's reply is the one answer
    /// there: the desk posts no separate thread update in that thread.
    async fn act(
        &self,
        id: i64,
        action: IncidentAction,
        invocation: &Invocation,
    ) -> Result<IncidentView, DeskError>;
    /// Acknowledges every open incident of `service` (the storm board's "Ack all"
    /// button); the ones acknowledged, oldest first. Unlike [`IncidentDesk::act`], it
    /// gives no incident a thread of its own: a storm board shows them.
    async fn acknowledge_service(
        &self,
        service: &str,
        invocation: &Invocation,
    ) -> Result<Vec<IncidentView>, DeskError> {
        let mut open: Vec<IncidentView> = self
            .list(false, 1000)
            .await?
            .into_iter()
            .filter(|i| i.status == "open" && i.service.as_deref() == Some(service))
            .collect();
        open.reverse();
        let mut done = Vec::with_capacity(open.len());
        for incident in open {
            done.push(
                self.act(incident.id, IncidentAction::Acknowledge, invocation)
                    .await?,
            );
        }
        Ok(done)
    }
    async fn silence(
        &self,
        request: SilenceRequest,
        actor: &Actor,
    ) -> Result<SilenceView, DeskError>;
    /// Active silences.
    async fn silences(&self) -> Result<Vec<SilenceView>, DeskError>;
    /// Ends a silence now; `false` when it was not active.
    async fn expire_silence(&self, id: i64, actor: &Actor) -> Result<bool, DeskError>;
}

/// An incident's record as a document (`incident timeline`, `incident postmortem`): a
/// few lines for chat and the whole of it as Markdown, attached to the reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordDocument {
    /// `Incident #42 timeline: WrkHrsGatewayDown on wrkhrs-gateway`.
    pub title: String,
    /// The concise chat message: counts, times, the last entries.
    pub lines: Vec<String>,
    /// The file name without extension (`incident-42-timeline`).
    pub file_stem: String,
    pub markdown: String,
}

/// What `incident stats` covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsRequest {
    /// Incidents opened at or after this time.
    pub since: jiff::Timestamp,
    /// Only this service's incidents.
    pub service: Option<String>,
}

/// `incident stats`: lines for chat and, where charts are available, a PNG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsReport {
    pub title: String,
    pub lines: Vec<String>,
    /// Incidents per service as a bar chart.
    pub chart: Option<Vec<u8>>,
}

/// The record of incidents, read from everything the store keeps about them (timeline
/// events, alerts, the audit log, runbook runs, health gate results): `incident
/// timeline`, `incident postmortem`, `incident stats`. Read-only. A missing incident is
/// [`DeskError::Refused`].
#[async_trait]
pub trait IncidentRecords: Send + Sync {
    async fn timeline(&self, id: i64) -> Result<RecordDocument, DeskError>;
    async fn postmortem(&self, id: i64) -> Result<RecordDocument, DeskError>;
    async fn stats(&self, request: &StatsRequest) -> Result<StatsReport, DeskError>;
}

/// How `cost` breaks spend down (`--by`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CostGrouping {
    /// OpenAI projects, Anthropic workspaces.
    Project,
    /// OpenAI line items, Anthropic cost descriptions (the default).
    #[default]
    LineItem,
    Model,
}

/// What `cost` asks a [`CostReader`] for: spend per UTC day in `from..to` (`to`
/// exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpendQuery {
    pub from: jiff::civil::Date,
    pub to: jiff::civil::Date,
    pub grouping: CostGrouping,
}

/// One day's spend in one item (a line item, project, model, namespace), exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpendRow {
    pub day: jiff::civil::Date,
    pub amount: crate::catalog::Money,
    pub item: Option<String>,
}

/// What one of a service's cost sources answered; the error is a sentence naming why
/// (`rate limited (429), retry after 30s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpend {
    /// `openai`, `anthropic`, `opencost alice`, `prometheus http://…`.
    pub source: String,
    pub result: Result<Vec<SpendRow>, String>,
}

/// A service's spend from all its sources, and when it was fetched (it may come from a
/// cache).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpendReport {
    pub sources: Vec<SourceSpend>,
    pub fetched_at: jiff::Timestamp,
}

/// Reads spend from a service's cost sources (`cost`, budget alerts), and draws charts.
#[async_trait]
pub trait CostReader: Send + Sync {
    /// Every source of the service, each answering or failing on its own.
    async fn spend(&self, service: &Service, query: &SpendQuery) -> SpendReport;

    /// A PNG of daily spend (`days` in order) against the budget per day, when charts are
    /// available.
    fn chart(
        &self,
        title: &str,
        days: &[(jiff::civil::Date, crate::catalog::Money)],
        budget_per_day: Option<crate::catalog::Money>,
        currency: &str,
    ) -> Option<Vec<u8>> {
        let _ = (title, days, budget_per_day, currency);
        None
    }

    /// The current time, for periods and forecasts.
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Everything a command may use while it runs.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub invocation: &'a Invocation,
    pub registry: &'a Registry,
    pub catalog: &'a Catalog,
    pub access: &'a dyn AccessView,
    pub audit: &'a dyn AuditQuery,
    pub runtime: &'a dyn Runtime,
    /// Runs health checks (`health`, the health gate after `restart` and `rollback`).
    pub prober: &'a dyn Prober,
    pub progress: &'a dyn Progress,
    /// Incidents and silences (`incident`, `silence`).
    pub incidents: &'a dyn IncidentDesk,
    /// Incidents' timelines, postmortem drafts and statistics (`incident timeline`, …).
    pub records: &'a dyn IncidentRecords,
    /// Spend of services' cost sources (`cost`).
    pub costs: &'a dyn CostReader,
    /// Revisions that passed the health gate (`rollback --to last-good`).
    pub known_good: &'a dyn KnownGood,
    /// Runbooks and their runs (`runbook`).
    pub runbooks: &'a dyn crate::runbooks::RunbookDesk,
    /// The automations' kill switch and list (`automation`).
    pub automations: &'a dyn crate::automations::AutomationDesk,
    /// Investigations of incidents with the team's model (`incident investigate`).
    pub investigations: &'a dyn crate::investigations::InvestigationDesk,
    /// Sign-in links to the web console (`web`).
    pub web: &'a dyn crate::web_sign_in::WebSignIn,
}
