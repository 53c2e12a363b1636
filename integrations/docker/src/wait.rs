//! Waiting, bounded, until a container that was just (re)started is healthy — or running,
//! when it has no healthcheck — and telling progress what it is doing meanwhile.

use std::time::Instant;

use opsbot_commands::context::{Progress, RuntimeError};

use crate::{
    DockerSettings,
    client::Engine,
    container::{Condition, ContainerInspect},
    duration::human,
};

/// How waiting for one container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waited {
    /// Healthy; the state as shown (`running (healthy)`) and how long it took.
    Healthy { state: String, after: String },
    /// Unhealthy, exited or dead: the state and what explains it (the last healthcheck
    /// output, the container's error).
    Failed { state: String, details: Vec<String> },
    /// Still not healthy when the health timeout ran out.
    TimedOut { state: String, details: Vec<String> },
}

/// Inspects a container until it is healthy, fails, or `settings.health_timeout` passes.
pub async fn until_healthy(
    engine: &Engine,
    id: &str,
    settings: &DockerSettings,
    progress: &dyn Progress,
) -> Result<Waited, RuntimeError> {
    let started = Instant::now();
    let mut last_state = String::new();
    loop {
        let container: ContainerInspect =
            engine.get_json(&format!("/containers/{id}/json")).await?;
        let state = container.describe();
        let name = container.display_name();
        match container.condition() {
            Condition::Healthy => {
                return Ok(Waited::Healthy {
                    state,
                    after: human(started.elapsed()),
                });
            }
            Condition::Unhealthy | Condition::Down => {
                return Ok(Waited::Failed {
                    state,
                    details: explain(&container),
                });
            }
            Condition::Starting | Condition::Paused | Condition::Restarting => {}
        }
        let elapsed = started.elapsed();
        if elapsed >= settings.health_timeout {
            let mut details = vec![format!(
                "{name} was not healthy within {} (health timeout)",
                human(settings.health_timeout)
            )];
            details.extend(explain(&container));
            return Ok(Waited::TimedOut { state, details });
        }
        if state != last_state {
            progress.report(&format!(
                "{name}: {state}, waiting for it to become healthy"
            ));
            last_state = state;
        }
        let remaining = settings.health_timeout - elapsed;
        tokio::time::sleep(settings.poll_interval.min(remaining)).await;
    }
}

fn explain(container: &ContainerInspect) -> Vec<String> {
    let mut details = Vec::new();
    if let Some(output) = container.last_health_output() {
        details.push(format!("last healthcheck: {output}"));
    }
    if let Some(health) = &container.state.health
        && health.failing_streak > 0
    {
        details.push(format!(
            "{} failed healthchecks in a row",
            health.failing_streak
        ));
    }
    details
}
