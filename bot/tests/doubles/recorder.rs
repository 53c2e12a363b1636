//! A runtime that records `restart`, `rollback` and `scale` instead of performing them.

use std::{sync::Mutex, time::Duration};

use async_trait::async_trait;
use opsbot_commands::{
    Service,
    context::{ActionReport, LogChunk, LogQuery, Progress, Revision, Runtime, RuntimeError},
};

/// Records runtime actions (`restart NAME`, `rollback NAME`, `scale NAME N`).
#[derive(Default)]
pub struct Recorder {
    actions: Mutex<Vec<String>>,
    /// A restart reports progress twice this far apart, like a rollout that takes a
    /// while (zero: it finishes at once, silently).
    rollout: Duration,
}

impl Recorder {
    /// A recorder whose restarts take `2 × rollout`, reporting progress on the way.
    pub fn with_rollout(rollout: Duration) -> Self {
        Self {
            actions: Mutex::default(),
            rollout,
        }
    }

    pub fn actions(&self) -> Vec<String> {
        self.actions.lock().unwrap().clone()
    }

    fn record(&self, action: String) -> Result<ActionReport, RuntimeError> {
        self.actions.lock().unwrap().push(action);
        Ok(ActionReport {
            succeeded: true,
            summary: "done".into(),
            details: vec![],
        })
    }
}

#[async_trait]
impl Runtime for Recorder {
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
        _: Option<i64>,
        _: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.record(format!("rollback {}", service.name))
    }
    async fn scale(
        &self,
        service: &Service,
        replicas: u32,
        _: &dyn Progress,
    ) -> Result<ActionReport, RuntimeError> {
        self.record(format!("scale {} {replicas}", service.name))
    }
    async fn history(&self, _: &Service) -> Result<Vec<Revision>, RuntimeError> {
        Ok(vec![])
    }
    async fn logs(&self, _: &Service, _: &LogQuery) -> Result<Vec<LogChunk>, RuntimeError> {
        Ok(vec![])
    }
}
