//! [`RecordingRuntime`]: the one recording stand-in for opsbot's runtimes (Kubernetes,
//! docker compose, systemd) in every crate's tests. It performs nothing: it records each
//! action (`restart NAME`, `rollback NAME`, `rollback NAME --to N`, `scale NAME N`),
//! answers `logs` with the chunks a test gave it (recording the queries), and keeps a
//! two-revision history for Kubernetes targets only, as the real adapters do (compose and
//! systemd keep none). A test can script what it answers instead: a history, an inspection,
//! a `logs` error, or actions that report a rollout that did not finish.
//!
//! `opsbot-commands` compiles this same file into its own unit tests (`#[path]` in
//! `commands/src/builtin/mod.rs`, with `extern crate self as opsbot_commands`): this crate
//! depends on `opsbot-commands`, so inside that crate's test build its `Runtime` impl
//! would be for a second copy of the trait. Keep this file free of other `crate::` paths.

use std::{sync::Mutex, time::Duration};

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    catalog::Target,
    context::{
        ActionReport, LogChunk, LogQuery, Progress, Revision, Runtime, RuntimeError, RuntimeView,
    },
};

/// Records every runtime action instead of performing it.
#[derive(Default)]
pub struct RecordingRuntime {
    actions: Mutex<Vec<String>>,
    log_chunks: Mutex<Vec<LogChunk>>,
    /// Every `logs` query, in order.
    pub log_queries: Mutex<Vec<LogQuery>>,
    /// A restart reports progress twice this far apart, like a rollout that takes a
    /// while (zero: it finishes at once, silently).
    rollout: Duration,
    /// Scripted answers; `None` keeps the default behaviour described above.
    history: Option<Result<Vec<Revision>, RuntimeError>>,
    inspect: Option<Result<RuntimeView, RuntimeError>>,
    logs_error: Option<RuntimeError>,
    /// When set, every action is recorded and reported failed with this summary (a
    /// rollout that did not finish).
    failure: Option<String>,
}

impl RecordingRuntime {
    /// A runtime whose restarts take `2 × rollout`, reporting `rolling out 1/2` and
    /// `rolling out 2/2` on the way.
    pub fn with_rollout(rollout: Duration) -> Self {
        Self {
            rollout,
            ..Self::default()
        }
    }

    /// A runtime whose `history` answers `history`, whatever the target.
    pub fn with_history(mut self, history: Result<Vec<Revision>, RuntimeError>) -> Self {
        self.history = Some(history);
        self
    }

    /// A runtime whose `inspect` answers `inspect`.
    pub fn with_inspect(mut self, inspect: Result<RuntimeView, RuntimeError>) -> Self {
        self.inspect = Some(inspect);
        self
    }

    /// A runtime whose `logs` answers `chunks`.
    pub fn with_logs(self, chunks: Vec<LogChunk>) -> Self {
        self.set_logs(chunks);
        self
    }

    /// A runtime whose `logs` fails with `error` (the query is still recorded).
    pub fn with_logs_error(mut self, error: RuntimeError) -> Self {
        self.logs_error = Some(error);
        self
    }

    /// A runtime whose actions are recorded but report failure with `summary`.
    pub fn failing(mut self, summary: &str) -> Self {
        self.failure = Some(summary.into());
        self
    }

    /// The actions recorded so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.actions.lock().expect("lock").clone()
    }

    /// What `logs` answers from now on.
    pub fn set_logs(&self, chunks: Vec<LogChunk>) {
        *self.log_chunks.lock().expect("lock") = chunks;
    }

    fn record(&self, action: String) -> Result<ActionReport, RuntimeError> {
        self.actions.lock().expect("lock").push(action);
        Ok(ActionReport {
            succeeded: self.failure.is_none(),
            summary: self.failure.clone().unwrap_or_else(|| "done".into()),
            details: vec![],
        })
    }
}

#[async_trait]
impl Runtime for RecordingRuntime {
    async fn restart(
        &self,
        service: &Service,
        progress: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        if !self.rollout.is_zero() {
            progress.report("rolling out 1/2");
            tokio::time::sleep(self.rollout).await;
            progress.report("rolling out 2/2");
        }
        self.record(format!("restart {}", service.name))
    }

    async fn rollback(
        &self,
        service: &Service,
        to: Option<i64>,
        _: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        match to {
            Some(revision) => self.record(format!("rollback {} --to {revision}", service.name)),
            None => self.record(format!("rollback {}", service.name)),
        }
    }

    async fn scale(
        &self,
        service: &Service,
        replicas: u32,
        _: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.record(format!("scale {} {replicas}", service.name))
    }

    async fn history(&self, service: &Service) -> Result<Vec<Revision>, RuntimeError> {
        if let Some(history) = &self.history {
            return history.clone();
        }
        if !matches!(service.target, Target::Kubernetes { .. }) {
            return Err(RuntimeError::NotSupported(format!(
                "{} keeps no revision history",
                service.target.describe()
            )));
        }
        let revision = |number: i64, current| Revision {
            number,
            id: None,
            images: vec![format!("registry.example/{}:1.{number}", service.name)],
            created: Some(jiff::Timestamp::now()),
            change_cause: Some(format!("deploy 1.{number}")),
            current,
        };
        Ok(vec![revision(1, false), revision(2, true)])
    }

    async fn logs(&self, _: &Service, query: &LogQuery) -> Result<Vec<LogChunk>, RuntimeError> {
        self.log_queries.lock().expect("lock").push(query.clone());
        if let Some(error) = &self.logs_error {
            return Err(error.clone());
        }
        Ok(self.log_chunks.lock().expect("lock").clone())
    }

    async fn inspect(&self, service: &Service) -> Result<RuntimeView, RuntimeError> {
        match &self.inspect {
            Some(inspect) => inspect.clone(),
            None => Err(RuntimeError::NotSupported(format!(
                "opsbot cannot inspect {}",
                service.target.describe()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use opsbot_commands::context::NoProgress;

    use super::*;

    fn service(target: Target) -> Service {
        Service::new("web".parse().unwrap(), "prod".parse().unwrap()).with_target(target)
    }

    fn kubernetes() -> Target {
        serde_json::from_value(
            serde_json::json!({"kind": "kubernetes", "namespace": "ns", "deployment": "web"}),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn records_actions_and_keeps_a_history_for_kubernetes_only() {
        let runtime = RecordingRuntime::default();
        let web = service(kubernetes());
        runtime.restart(&web, &NoProgress).await.unwrap();
        runtime.rollback(&web, None, &NoProgress).await.unwrap();
        runtime.rollback(&web, Some(1), &NoProgress).await.unwrap();
        runtime.scale(&web, 3, &NoProgress).await.unwrap();
        assert_eq!(
            runtime.actions(),
            [
                "restart web",
                "rollback web",
                "rollback web --to 1",
                "scale web 3"
            ]
        );
        let history = runtime.history(&web).await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|r| (r.number, r.current))
                .collect::<Vec<_>>(),
            [(1, false), (2, true)]
        );
        let external = service(Target::None);
        assert!(matches!(
            runtime.history(&external).await,
            Err(RuntimeError::NotSupported(_))
        ));
    }
}
