//! Test doubles for command tests: a scripted [`Prober`], an access view that allows
//! everything, and a helper that parses and runs a line of text. The runtime is the
//! workspace's one recording runtime, `opsbot_fakes::RecordingRuntime`, whose source
//! `builtin/mod.rs` compiles into this crate's tests (see its top-of-file doc).

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_trait::async_trait;

pub use super::recording_runtime::RecordingRuntime;

use crate::{
    Actor, Catalog, CommandError, Ctx, Invocation, Platform, Registry, Reply, Service,
    catalog::{HealthCheck, HttpCheck},
    context::{
        AccessView, AuditFilter, AuditQuery, AuditQueryError, AuditView, CheckOutcome,
        GoodRevision, HealthLevel, KnownGood, NoProgress, Prober, RoleDescription, Runtime,
    },
    language,
    web_sign_in::{NoWebConsole, WebSignIn},
};

/// Answers each check by name: a level, a detail and how long to take. Unknown checks
/// are OK at once.
#[derive(Default)]
pub struct FakeProber {
    pub answers: HashMap<String, (HealthLevel, String, Duration)>,
    pub probed: Mutex<Vec<String>>,
}

impl FakeProber {
    pub fn answer(mut self, check: &str, level: HealthLevel, detail: &str) -> Self {
        self.answers
            .insert(check.into(), (level, detail.into(), Duration::ZERO));
        self
    }

    pub fn slow(mut self, check: &str, delay: Duration) -> Self {
        self.answers.insert(
            check.into(),
            (HealthLevel::Ok, "200 in 1000 ms".into(), delay),
        );
        self
    }
}

#[async_trait]
impl Prober for FakeProber {
    async fn probe(&self, service: &Service, check: &HealthCheck) -> CheckOutcome {
        self.probed
            .lock()
            .unwrap()
            .push(format!("{}/{}", service.name, check.name()));
        let (level, detail, delay) = self.answers.get(check.name()).cloned().unwrap_or((
            HealthLevel::Ok,
            "200 in 3 ms".into(),
            Duration::ZERO,
        ));
        tokio::time::sleep(delay).await;
        CheckOutcome {
            name: check.name().to_string(),
            level,
            detail,
            latency: delay,
        }
    }
}

struct AllowAll;

impl AccessView for AllowAll {
    fn describe(&self, _: &Actor) -> Vec<RoleDescription> {
        vec![]
    }
    fn may_run(&self, _: &Actor, _: &str, _: Option<&Service>) -> bool {
        true
    }
}

struct NoAudit;

#[async_trait]
impl AuditQuery for NoAudit {
    async fn recent(&self, _: &AuditFilter) -> Result<Vec<AuditView>, AuditQueryError> {
        Ok(vec![])
    }
}

/// Revisions known good, in memory (newest pass first), as the store keeps them.
#[derive(Default)]
pub struct MemoryKnownGood {
    pub passes: Mutex<Vec<(String, GoodRevision)>>,
}

#[async_trait]
impl KnownGood for MemoryKnownGood {
    async fn passed(&self, service: &Service, revision: &GoodRevision) -> Result<(), String> {
        let mut passes = self.passes.lock().unwrap();
        let key = service.name.to_string();
        passes.retain(|(s, r)| !(*s == key && r.id == revision.id));
        passes.insert(0, (key, revision.clone()));
        Ok(())
    }
    async fn good_revisions(&self, service: &Service) -> Result<Vec<GoodRevision>, String> {
        let key = service.name.to_string();
        Ok(self
            .passes
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| *s == key)
            .map(|(_, r)| r.clone())
            .collect())
    }
}

/// A service with HTTP checks of these names (`http://NAME/`).
pub fn service(name: &str, env: &str, checks: &[&str]) -> Service {
    let mut service = Service::new(name.parse().unwrap(), env.parse().unwrap()).with_target(
        crate::catalog::Target::Compose {
            project: "p".into(),
            service: name.into(),
            docker_host: None,
            scalable: false,
        },
    );
    service.health = checks
        .iter()
        .map(|check| {
            HealthCheck::Http(HttpCheck {
                name: Some((*check).into()),
                url: format!("http://{check}/"),
                expect_status: 200,
                expect_json: vec![],
                expect_body: None,
                timeout: crate::HumanDuration::from_secs(5),
            })
        })
        .collect();
    service
}

/// Parses and runs `text` as the console user against these doubles.
pub async fn run(
    text: &str,
    catalog: &Catalog,
    prober: &dyn Prober,
    runtime: &dyn Runtime,
) -> Result<Reply, CommandError> {
    run_with_costs(text, catalog, prober, runtime, &NoCosts).await
}

/// Like [`run`], with the revisions known good kept in `known_good`.
pub async fn run_with_known_good(
    text: &str,
    catalog: &Catalog,
    prober: &dyn Prober,
    runtime: &dyn Runtime,
    known_good: &dyn KnownGood,
) -> Result<Reply, CommandError> {
    run_in(
        text,
        catalog,
        prober,
        runtime,
        &NoCosts,
        known_good,
        &NoWebConsole,
        &NoIncidents,
        None,
    )
    .await
}

/// Like [`run`] with no services, sign-in links issued by `web`.
pub async fn run_with_web(text: &str, web: &dyn WebSignIn) -> Result<Reply, CommandError> {
    run_in(
        text,
        &Catalog::default(),
        &FakeProber::default(),
        &RecordingRuntime::default(),
        &NoCosts,
        &MemoryKnownGood::default(),
        web,
        &NoIncidents,
        None,
    )
    .await
}

/// Like [`run`], with incidents' records read from `records`, typed in the thread of
/// `incident` when given.
pub async fn run_with_records(
    text: &str,
    records: &dyn crate::context::IncidentRecords,
    incident: Option<crate::IncidentRef>,
) -> Result<Reply, CommandError> {
    run_in(
        text,
        &Catalog::default(),
        &FakeProber::default(),
        &RecordingRuntime::default(),
        &NoCosts,
        &MemoryKnownGood::default(),
        &NoWebConsole,
        records,
        incident,
    )
    .await
}

/// Like [`run`], with spend read from `costs`.
pub async fn run_with_costs(
    text: &str,
    catalog: &Catalog,
    prober: &dyn Prober,
    runtime: &dyn Runtime,
    costs: &dyn crate::context::CostReader,
) -> Result<Reply, CommandError> {
    run_in(
        text,
        catalog,
        prober,
        runtime,
        costs,
        &MemoryKnownGood::default(),
        &NoWebConsole,
        &NoIncidents,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_in(
    text: &str,
    catalog: &Catalog,
    prober: &dyn Prober,
    runtime: &dyn Runtime,
    costs: &dyn crate::context::CostReader,
    known_good: &dyn KnownGood,
    web: &dyn WebSignIn,
    records: &dyn crate::context::IncidentRecords,
    incident: Option<crate::IncidentRef>,
) -> Result<Reply, CommandError> {
    let registry = Registry::new(super::COMMANDS);
    let call = language::parse(text, &registry, catalog, None).expect("test text parses");
    let mut invocation = Invocation::new(
        Actor::new(Platform::Console, "tester", "Tester"),
        "console",
        text,
    );
    invocation.incident = incident;
    let ctx = Ctx {
        invocation: &invocation,
        registry: &registry,
        catalog,
        access: &AllowAll,
        audit: &NoAudit,
        runtime,
        prober,
        progress: &NoProgress,
        incidents: &NoIncidents,
        records,
        costs,
        known_good,
        runbooks: &crate::runbooks::NoRunbooks,
        automations: &crate::automations::NoAutomations,
        investigations: &crate::investigations::NoInvestigator,
        web,
    };
    call.command.run(&call, ctx).await
}

use crate::context::{
    DeskError, IncidentAction, IncidentDetail, IncidentView, SilenceRequest, SilenceView,
};

/// No incident store (for command tests that do not touch incidents): every call says so.
pub struct NoIncidents;

const NO_INCIDENTS: &str = "incidents are not available here";

#[async_trait::async_trait]
impl crate::context::IncidentDesk for NoIncidents {
    async fn list(&self, _: bool, _: u32) -> Result<Vec<IncidentView>, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn show(&self, _: i64) -> Result<Option<IncidentDetail>, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn act(
        &self,
        _: i64,
        _: IncidentAction,
        _: &Invocation,
    ) -> Result<IncidentView, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn silence(&self, _: SilenceRequest, _: &Actor) -> Result<SilenceView, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn silences(&self) -> Result<Vec<SilenceView>, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn expire_silence(&self, _: i64, _: &Actor) -> Result<bool, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
}

#[async_trait::async_trait]
impl crate::context::IncidentRecords for NoIncidents {
    async fn timeline(&self, _: i64) -> Result<crate::context::RecordDocument, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn postmortem(&self, _: i64) -> Result<crate::context::RecordDocument, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
    async fn stats(
        &self,
        _: &crate::context::StatsRequest,
    ) -> Result<crate::context::StatsReport, DeskError> {
        Err(DeskError::Refused(NO_INCIDENTS.into()))
    }
}

/// No cost sources (for command tests that do not read spend): every source fails.
pub struct NoCosts;

#[async_trait::async_trait]
impl crate::context::CostReader for NoCosts {
    async fn spend(
        &self,
        service: &Service,
        _: &crate::context::SpendQuery,
    ) -> crate::context::SpendReport {
        crate::context::SpendReport {
            sources: service
                .cost
                .iter()
                .map(|_| crate::context::SourceSpend {
                    source: "none".into(),
                    result: Err("cost sources are not available here".into()),
                })
                .collect(),
            fetched_at: jiff::Timestamp::now(),
        }
    }
}
