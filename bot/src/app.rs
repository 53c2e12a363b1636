//! Wiring: from a loaded configuration to a running engine with its store, audit writer
//! and metrics, and back down again on shutdown.
//!
//! This is the one module that knows the chat adapters (`slack`, `discord`) and the HTTP
//! server: it registers each part's metrics into the one registry, hands the adapters the
//! engine, merges their endpoints into the server's router, and serves it. Everything
//! below it imports none of them.

use std::{sync::Arc, time::Duration};

use opsbot_commands::{Registry, context::Prober};

use crate::{
    audit::{self, AuditLog, AuditWriter},
    config::LoadedConfig,
    console::ConsoleSink,
    engine::{CommandMetrics, Engine, EngineParts},
    incidents::{IncidentSettings, Incidents},
    metrics::Metrics,
    outbox::{Dispatcher, DispatcherConfig, OutboxMetrics},
    rbac::{Policy, PolicyError},
    runtime::RuntimeRouter,
    store::{Store, StoreError},
};

/// Why opsbot could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Adapter(#[from] crate::runtime::AdapterError),
    #[error(transparent)]
    Prober(#[from] opsbot_probes::ProberError),
    #[error(transparent)]
    Cost(#[from] crate::cost::CostSetupError),
    #[error(transparent)]
    Slack(#[from] crate::slack::SlackSetupError),
    #[error(transparent)]
    Discord(#[from] crate::discord::DiscordSetupError),
    #[error("leadership: {0}")]
    Leadership(#[from] crate::leadership::LeadershipError),
    #[error("[investigator]: {0}")]
    Investigator(#[from] opsbot_llm::LlmError),
    #[error("[audit] checkpoint_key ({0}): {1}")]
    CheckpointKey(crate::config::SecretSource, audit::KeyError),
}

/// A started opsbot: the engine and what must be closed cleanly.
pub struct App {
    pub engine: Arc<Engine>,
    pub store: Store,
    /// The one registry every part below registered its series in (`/metrics`).
    pub metrics: Arc<Metrics>,
    /// The outbox's series (also for dispatchers a test spawns beside this one).
    pub outbox_metrics: OutboxMetrics,
    /// Alert ingest's series, for the alert endpoints of [`App::server_state`].
    alert_metrics: crate::server::alerts::AlertMetrics,
    audit: AuditWriter,
    retention: tokio::task::JoinHandle<()>,
    /// Signs audit checkpoints every `[audit] checkpoint_interval` (with a key).
    checkpoints: Option<tokio::task::JoinHandle<()>>,
    expiry: tokio::task::JoinHandle<()>,
    /// Answers chat invocations a stopped process acknowledged but did not finish.
    inbox_recovery: tokio::task::JoinHandle<()>,
    /// Delivers the outbox; the console sink prints incident threads to stdout.
    outbox: Dispatcher,
    /// Alerts into incidents (for `/alerts`), actions, escalation.
    pub incidents: Incidents,
    escalation: tokio::task::JoinHandle<()>,
    /// Tends the storm boards of channels that fell behind.
    storm_boards: tokio::task::JoinHandle<()>,
    /// Spend of cost sources (cached), shared by `cost` and budget alerts.
    pub costs: Arc<crate::cost::SpendService>,
    /// Checks budgets every `[cost] budget_check_interval` (none when it is zero), while
    /// this replica owns the budget-checks role.
    budget_alerts: Option<tokio::task::JoinHandle<()>>,
    /// Slack, when `[slack]` is configured: its HTTP endpoints' state, Socket Mode.
    pub slack: Option<crate::slack::Slack>,
    /// Discord, when `[discord]` is configured: its endpoint's state, the gateway.
    pub discord: Option<crate::discord::Discord>,
    /// Renews the leases of this process's runbook runs; marks dead ones interrupted.
    runbook_leases: tokio::task::JoinHandle<()>,
    /// `[[automations]]`: runbooks started by incidents and budgets, and their kill switch.
    pub automations: crate::automations::Automations,
    /// Evaluates automations on the incidents committed batches opened or fired again.
    automation_task: Option<tokio::task::JoinHandle<()>>,
    /// `[investigator]`: incidents investigated with the team's model, when configured.
    pub investigator: Option<crate::investigator::Investigator>,
    /// Starts investigations of incidents of the `auto` severities as they open.
    investigator_task: Option<tokio::task::JoinHandle<()>>,
    /// The web console (`/ui/`), when `[web]` is on.
    pub web: Option<crate::web::WebConsole>,
}

impl App {
    /// Opens (and migrates) the store, starts the audit writer and the retention task.
    /// Health checks run with the HTTP prober of `opsbot-probes`.
    pub async fn start(loaded: &LoadedConfig, runtime: RuntimeRouter) -> Result<Self, StartError> {
        let prober = Arc::new(opsbot_probes::HttpProber::new()?);
        Self::start_with_prober(loaded, runtime, prober).await
    }

    /// Like [`App::start`], with health checks run by `prober` (tests pass a double).
    pub async fn start_with_prober(
        loaded: &LoadedConfig,
        runtime: RuntimeRouter,
        prober: Arc<dyn Prober>,
    ) -> Result<Self, StartError> {
        Self::start_with_sinks(loaded, runtime, prober, Vec::new()).await
    }

    /// Like [`App::start_with_prober`], delivering chat messages through `extra_sinks`
    /// too: a sink replaces the configured one of its platform (benches, embedders).
    pub async fn start_with_sinks(
        loaded: &LoadedConfig,
        runtime: RuntimeRouter,
        prober: Arc<dyn Prober>,
        extra_sinks: Vec<Arc<dyn crate::outbox::ChatSink>>,
    ) -> Result<Self, StartError> {
        let config = &loaded.config;
        let policy = Policy::from_config(config)?;
        let store = Store::connect_with(&config.store.url, config.store.connect_options()).await?;
        store.migrate().await?;
        let audit = AuditWriter::spawn(store.clone());
        // Each part registers its own series; the registry is shared once all have.
        let mut metrics = Metrics::new();
        let command_metrics = CommandMetrics::register(metrics.registry_mut());
        let outbox_metrics = OutboxMetrics::register(metrics.registry_mut());
        let alert_metrics = crate::server::alerts::AlertMetrics::register(metrics.registry_mut());
        let slack_metrics = crate::slack::SlackMetrics::register(metrics.registry_mut());
        let discord_metrics = crate::discord::DiscordMetrics::register(metrics.registry_mut());
        let cost_metrics = crate::cost::CostMetrics::register(metrics.registry_mut());
        let storm_metrics = crate::incidents::storm::StormMetrics::register(metrics.registry_mut());
        let automation_metrics =
            crate::automations::AutomationMetrics::register(metrics.registry_mut());
        let metrics = Arc::new(metrics);
        let incidents = Incidents::new(
            store.clone(),
            IncidentSettings::from_config(config),
            loaded.catalog.clone(),
        );
        let mut spend = crate::cost::SpendService::new(
            crate::cost::CostSources::from_config(&config.cost)?,
            config.cost.cache_ttl.0,
            cost_metrics,
        );
        if config.investigator.is_some() {
            spend = spend.with_investigations(store.clone());
        }
        let costs = Arc::new(spend);
        let runbooks = crate::runbooks::Runbooks::new(
            config.runbooks.clone(),
            loaded.catalog.clone(),
            store.clone(),
            config.outbox.lease.as_duration(),
        )?;
        let automations = crate::automations::Automations::new(
            config.automations.clone(),
            incidents.clone(),
            runbooks.clone(),
            automation_metrics,
        );
        let investigator = match &config.investigator {
            Some(section) => Some(crate::investigator::Investigator::new(
                section.clone(),
                store.clone(),
                incidents.clone(),
            )?),
            None => None,
        };
        let investigations: Arc<dyn opsbot_commands::investigations::InvestigationDesk> =
            match &investigator {
                Some(investigator) => Arc::new(investigator.clone()),
                None => Arc::new(opsbot_commands::investigations::NoInvestigator),
            };
        let sign_ins = crate::web::SignIns::new(
            store.clone(),
            crate::web::SignInSettings::from_config(&config.web),
        );
        let engine = Arc::new(Engine::new(EngineParts {
            registry: Registry::new(opsbot_commands::builtin::COMMANDS),
            catalog: loaded.catalog.clone(),
            policy,
            store: store.clone(),
            audit: audit.clone(),
            audit_log: AuditLog::new(store.clone()),
            runtime: Arc::new(runtime),
            prober,
            metrics: command_metrics,
            confirmation_timeout: config.confirmation.timeout.as_duration(),
            incidents: Arc::new(incidents.clone()),
            records: Arc::new(crate::record::Records::new(store.clone())),
            costs: costs.clone(),
            known_good: Arc::new(crate::store::known_good::KnownGoodRevisions::new(
                store.clone(),
            )),
            runbooks: Arc::new(runbooks.clone()),
            automations: Arc::new(automations.clone()),
            investigations,
            web: Arc::new(sign_ins.clone()),
        }));
        let web = config.web.serving_url().map(|_| {
            crate::web::WebConsole::new(
                engine.clone(),
                incidents.clone(),
                sign_ins.clone(),
                config.web.secure_cookies(),
            )
        });
        let runbook_leases = runbooks.attach(&engine);
        let automation_task = automations.attach();
        let investigator_task = investigator.as_ref().and_then(|i| i.attach(&engine));
        let signer = checkpoint_signer(&config.audit)?;
        let retention = tokio::spawn(retention_loop(
            store.clone(),
            sign_ins,
            config.audit.retention.as_duration(),
            signer.as_ref().map(|s| s.public().clone()),
        ));
        let checkpoints = signer.map(|signer| {
            let checkpointer = audit::Checkpointer::new(
                store.clone(),
                signer,
                config.audit.checkpoint_file.clone(),
            )
            .post_to(&config.audit.channel);
            tokio::spawn(checkpoint_loop(
                checkpointer,
                config.audit.checkpoint_interval.as_duration(),
            ))
        });
        let expiry = tokio::spawn(expiry_loop(engine.clone()));
        let escalation = tokio::spawn(escalation_loop(incidents.clone()));
        let storm_boards = tokio::spawn(storm_board_loop(incidents.clone(), storm_metrics));
        let budget_interval = config.cost.budget_check_interval.0;
        let budget_alerts = if budget_interval.is_zero() {
            None
        } else {
            let leadership = crate::leadership::Leadership::spawn(
                config,
                &store,
                crate::cost::budget_alerts::BUDGET_CHECKS_ROLE,
            )
            .await?;
            Some(tokio::spawn(budget_alert_loop(
                costs.clone(),
                incidents.clone(),
                budget_interval,
                leadership,
            )))
        };
        // Chat invocations are stored before they are acknowledged; the sweep answers
        // those a stopped process left unfinished (crate::inbox).
        let inbox = crate::inbox::Inbox::spawn(
            store.clone(),
            crate::inbox::Inbox::default_owner(),
            config.outbox.lease.as_duration(),
        );
        let inbox_recovery = crate::inbox::spawn_recovery(inbox.clone(), engine.clone());
        let mut slack = match &config.slack {
            Some(section) => Some(crate::slack::Slack::new(
                section,
                config,
                engine.clone(),
                slack_metrics,
                inbox.clone(),
            )?),
            None => None,
        };
        let mut sinks: Vec<Arc<dyn crate::outbox::ChatSink>> =
            vec![Arc::new(ConsoleSink::stdout())];
        if let Some(slack) = &mut slack {
            sinks.push(slack.sink());
            slack.start_socket_mode(config, &store).await?;
        }
        let mut discord = match &config.discord {
            Some(section) => Some(crate::discord::Discord::new(
                section,
                engine.clone(),
                discord_metrics,
                inbox,
            )?),
            None => None,
        };
        if let Some(discord) = &mut discord {
            sinks.push(discord.sink());
            discord.start_gateway(config, &store).await?;
        }
        sinks.extend(extra_sinks);
        let outbox = Dispatcher::spawn(
            store.clone(),
            sinks,
            DispatcherConfig::from(&config.outbox),
            outbox_metrics.clone(),
        );
        Ok(Self {
            engine,
            store,
            metrics,
            outbox_metrics,
            alert_metrics,
            audit,
            retention,
            checkpoints,
            expiry,
            inbox_recovery,
            outbox,
            incidents,
            escalation,
            storm_boards,
            costs,
            budget_alerts,
            slack,
            discord,
            runbook_leases,
            automations,
            automation_task,
            investigator,
            investigator_task,
            web,
        })
    }

    /// What the HTTP server serves for this app: the operational endpoints, alerts, and
    /// the Slack and Discord endpoints when those run in `http` mode.
    pub fn server_state(&self, config: &crate::config::Config) -> crate::server::ServerState {
        crate::server::ServerState {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            alerts: Some(crate::server::alerts::AlertsState::new(
                config,
                self.incidents.clone(),
                self.alert_metrics.clone(),
            )),
            chat: self.chat_routes(),
            chat_body_limit: config.server.chat_body_limit,
            web: self.web.clone().map(crate::web::routes).unwrap_or_default(),
        }
    }

    /// The chat adapters' HTTP endpoints: Slack's and Discord's, each when it runs in
    /// `http` mode (empty otherwise).
    pub fn chat_routes(&self) -> axum::Router {
        let mut routes = axum::Router::new();
        if let Some(slack) = self.slack.as_ref().and_then(|slack| slack.http_state()) {
            routes = routes.merge(crate::slack::routes(slack));
        }
        if let Some(discord) = self.discord.as_ref().and_then(|d| d.http_state()) {
            routes = routes.merge(crate::discord::routes(discord));
        }
        routes
    }

    /// Serves [`App::server_state`]'s router on `listener` (`[server]` timeouts and
    /// connection cap) until `shutdown` resolves.
    pub fn spawn_http_server(
        &self,
        config: &crate::config::Config,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let router = crate::server::router(self.server_state(config));
        let limits = crate::server::listener::Limits::from_config(&config.server);
        tokio::spawn(crate::server::listener::serve(
            listener, router, limits, shutdown,
        ))
    }

    /// Stops the outbox dispatcher (releasing its claims), flushes the audit log and
    /// closes the store.
    pub async fn shutdown(self) {
        self.retention.abort();
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.abort();
        }
        self.expiry.abort();
        self.runbook_leases.abort();
        if let Some(task) = &self.automation_task {
            task.abort();
        }
        if let Some(task) = &self.investigator_task {
            task.abort();
        }
        self.inbox_recovery.abort();
        self.escalation.abort();
        self.storm_boards.abort();
        if let Some(budget_alerts) = &self.budget_alerts {
            budget_alerts.abort();
        }
        if let Some(slack) = self.slack {
            slack.shutdown().await;
        }
        if let Some(discord) = self.discord {
            discord.shutdown().await;
        }
        self.outbox.shutdown().await;
        drop(self.engine);
        self.audit.close().await;
        self.store.close().await;
    }
}

/// Runs the escalation clock every 10 seconds: pages the next level of incidents nobody
/// acknowledged in time. Durable (the next time is in each incident's row), so a restart
/// picks up where the last process stopped.
async fn escalation_loop(incidents: Incidents) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        match incidents.escalate_due(jiff::Timestamp::now()).await {
            Ok(0) => {}
            Ok(escalated) => tracing::info!(escalated, "escalated incidents"),
            Err(error) => {
                incidents.store().health().write_failed(&error);
                tracing::warn!(%error, "escalating incidents failed; will retry");
            }
        }
    }
}

/// Tends the open storm boards every second (`crate::incidents::storm::keeper`): edits
/// them, gives folded incidents their own thread as a storm subsides, closes them; and
/// keeps the storm metrics.
async fn storm_board_loop(incidents: Incidents, metrics: crate::incidents::storm::StormMetrics) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = incidents
            .tend_storm_boards_measured(jiff::Timestamp::now(), &metrics)
            .await
        {
            incidents.store().health().write_failed(&error);
            tracing::warn!(%error, "tending storm boards failed; will retry");
        }
    }
}

/// Checks budgets every `interval` and raises an incident for each threshold crossed
/// (once per threshold and period; see [`crate::cost::budget_alerts`]).
async fn budget_alert_loop(
    costs: Arc<crate::cost::SpendService>,
    incidents: Incidents,
    interval: Duration,
    leadership: crate::leadership::LeadershipHandle,
) {
    // The first check comes one interval after start, not at once: a process that is
    // restarted again and again (a crash loop, a rollout) must not hit the cost APIs on
    // every start, and crossings are durable (fingerprints), so nothing is missed.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !leadership.owns_now() {
            continue; // another replica checks
        }
        match crate::cost::budget_alerts::check(costs.as_ref(), &incidents, jiff::Timestamp::now())
            .await
        {
            Ok(raised) => {
                for crossing in &raised {
                    costs.metrics().budget_alert(crossing.level.as_str());
                }
            }
            Err(error) => tracing::warn!(%error, "checking budgets failed; will retry"),
        }
    }
}

/// Expires abandoned confirmations and approvals every 15 seconds.
async fn expiry_loop(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tick.tick().await;
        if let Err(error) = engine.expire_abandoned().await {
            tracing::warn!(%error, "expiring abandoned requests failed; will retry");
        }
    }
}

/// The checkpoint signer of `[audit] checkpoint_key`, if one is configured.
pub fn checkpoint_signer(
    config: &crate::config::AuditConfig,
) -> Result<Option<audit::CheckpointSigner>, StartError> {
    let Some(secret) = &config.checkpoint_key else {
        return Ok(None);
    };
    audit::CheckpointSigner::from_seed(secret.expose())
        .map(Some)
        .map_err(|error| StartError::CheckpointKey(secret.source().clone(), error))
}

/// Signs a checkpoint of the audit chain now and every `interval` (when it moved).
async fn checkpoint_loop(checkpointer: audit::Checkpointer, interval: Duration) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match checkpointer.checkpoint().await {
            Ok(Some(signed)) => tracing::info!(
                seq = signed.checkpoint.seq,
                anchor = signed.checkpoint.anchor_seq,
                "audit checkpoint signed"
            ),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "audit checkpoint failed; will retry"),
        }
    }
}

/// Prunes audit entries older than the retention (with a checkpoint key, only those a
/// checkpoint older than the retention covers), expired records of signed requests
/// (`seen_requests`) and expired web sign-in links and sessions, now and every six hours.
async fn retention_loop(
    store: Store,
    sign_ins: crate::web::SignIns,
    retention: Duration,
    key: Option<audit::CheckpointKey>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(6 * 3600));
    loop {
        tick.tick().await;
        if let Err(error) = sign_ins.prune(jiff::Timestamp::now()).await {
            tracing::warn!(%error, "pruning expired web sessions failed; will retry");
        }
        if let Err(error) = crate::store::seen_requests::prune(&store, jiff::Timestamp::now()).await
        {
            tracing::warn!(%error, "pruning seen signed requests failed; will retry");
        }
        let Ok(span) = jiff::SignedDuration::try_from(retention) else {
            return;
        };
        let Ok(cutoff) = jiff::Timestamp::now().checked_sub(span) else {
            continue;
        };
        match audit::prune_checked(&store, cutoff, key.as_ref()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, %cutoff, "audit retention pruned old entries"),
            Err(error) => tracing::warn!(%error, "audit retention failed; will retry"),
        }
    }
}

/// The Slack app manifest generated from `registry` and `[slack]` (`opsbot slack manifest`).
pub fn slack_app_manifest(
    registry: &Registry,
    slack: &crate::config::SlackConfig,
) -> serde_json::Value {
    crate::slack::app_manifest(registry, slack)
}

/// Registers `registry`'s commands as Discord application commands
/// (`opsbot discord register-commands`); how many were registered.
pub async fn register_discord_commands(
    discord: &crate::config::DiscordConfig,
    registry: &Registry,
) -> Result<usize, crate::discord::DiscordSetupError> {
    crate::discord::register_commands(discord, registry).await
}
