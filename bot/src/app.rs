//! Wiring: from a loaded configuration to a running engine with its store, audit writer
//! and metrics, and back down again on shutdown.

use std::{sync::Arc, time::Duration};

use opsbot_commands::{Registry, context::Prober};

use crate::{
    audit::{self, AuditLog, AuditWriter},
    config::LoadedConfig,
    console::ConsoleSink,
    engine::{Engine, EngineParts},
    incidents::{IncidentSettings, Incidents},
    metrics::Metrics,
    outbox::{Dispatcher, DispatcherConfig},
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
}

/// A started opsbot: the engine and what must be closed cleanly.
pub struct App {
    pub engine: Arc<Engine>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    audit: AuditWriter,
    retention: tokio::task::JoinHandle<()>,
    expiry: tokio::task::JoinHandle<()>,
    /// Delivers the outbox; the console sink prints incident threads to stdout.
    outbox: Dispatcher,
    /// Alerts into incidents (for `/alerts`), actions, escalation.
    pub incidents: Incidents,
    escalation: tokio::task::JoinHandle<()>,
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
        let config = &loaded.config;
        let policy = Policy::from_config(config)?;
        let store = Store::connect(&config.store.url, config.store.max_connections).await?;
        store.migrate().await?;
        let audit = AuditWriter::spawn(store.clone());
        let metrics = Arc::new(Metrics::new());
        let incidents = Incidents::new(
            store.clone(),
            IncidentSettings::from_config(config),
            loaded.catalog.clone(),
        );
        let engine = Arc::new(Engine::new(EngineParts {
            registry: Registry::builtin(),
            catalog: loaded.catalog.clone(),
            policy,
            store: store.clone(),
            audit: audit.clone(),
            audit_log: AuditLog::new(store.clone()),
            runtime: Arc::new(runtime),
            prober,
            metrics: metrics.clone(),
            confirmation_timeout: config.confirmation.timeout.as_duration(),
            incidents: Arc::new(incidents.clone()),
        }));
        let retention = tokio::spawn(retention_loop(
            store.clone(),
            config.audit.retention.as_duration(),
        ));
        let expiry = tokio::spawn(expiry_loop(engine.clone()));
        let escalation = tokio::spawn(escalation_loop(incidents.clone()));
        let outbox = Dispatcher::spawn(
            store.clone(),
            vec![Arc::new(ConsoleSink::stdout())],
            DispatcherConfig::from(&config.outbox),
            metrics.outbox.clone(),
        );
        Ok(Self {
            engine,
            store,
            metrics,
            audit,
            retention,
            expiry,
            outbox,
            incidents,
            escalation,
        })
    }

    /// Stops the outbox dispatcher (releasing its claims), flushes the audit log and
    /// closes the store.
    pub async fn shutdown(self) {
        self.retention.abort();
        self.expiry.abort();
        self.escalation.abort();
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
            Err(error) => tracing::warn!(%error, "escalating incidents failed; will retry"),
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

/// Prunes audit entries older than the retention, now and every six hours.
async fn retention_loop(store: Store, retention: Duration) {
    let mut tick = tokio::time::interval(Duration::from_secs(6 * 3600));
    loop {
        tick.tick().await;
        let Ok(span) = jiff::SignedDuration::try_from(retention) else {
            return;
        };
        let Ok(cutoff) = jiff::Timestamp::now().checked_sub(span) else {
            continue;
        };
        match audit::prune(&store, cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, %cutoff, "audit retention pruned old entries"),
            Err(error) => tracing::warn!(%error, "audit retention failed; will retry"),
        }
    }
}
