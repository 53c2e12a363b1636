//! `inspect` of a compose service: each container's state and health, summed up as a
//! [`RuntimeView`] (all healthy → Ok; starting or paused → Warning; unhealthy,
//! restarting, exited or missing → Critical).

use opsbot_commands::context::{HealthLevel, RuntimeError, RuntimeView};

use crate::{
    client::Engine,
    compose::ComposeService,
    container::{Condition, ContainerInspect},
};

pub async fn inspect(
    engine: &Engine,
    service: &ComposeService,
) -> Result<RuntimeView, RuntimeError> {
    let containers = service.containers(engine).await?;
    if containers.is_empty() {
        return Ok(RuntimeView {
            level: HealthLevel::Critical,
            summary: "no containers".to_string(),
            details: vec![format!(
                "docker host {} has no containers of compose service {}",
                engine.host(),
                service.label()
            )],
        });
    }
    let mut inspected = Vec::with_capacity(containers.len());
    for container in &containers {
        let c: ContainerInspect = engine
            .get_json(&format!("/containers/{}/json", container.id))
            .await?;
        inspected.push(c);
    }
    Ok(summarize(&inspected))
}

/// The view of a set of inspected containers.
pub fn summarize(containers: &[ContainerInspect]) -> RuntimeView {
    let total = containers.len();
    let healthy = containers
        .iter()
        .filter(|c| c.condition() == Condition::Healthy)
        .count();
    let restarts: u64 = containers.iter().map(|c| c.restart_count).sum();
    let level = containers
        .iter()
        .map(|c| c.condition().level())
        .max()
        .unwrap_or(HealthLevel::Critical);
    let mut details = Vec::new();
    for c in containers {
        details.push(format!(
            "{}: {}, {} restart{}",
            c.display_name(),
            c.describe(),
            c.restart_count,
            if c.restart_count == 1 { "" } else { "s" }
        ));
        if c.condition() != Condition::Healthy
            && let Some(output) = c.last_health_output()
        {
            details.push(format!("  last healthcheck: {output}"));
        }
    }
    RuntimeView {
        level,
        summary: format!(
            "{healthy}/{total} containers healthy, {restarts} restart{}",
            if restarts == 1 { "" } else { "s" }
        ),
        details,
    }
}
