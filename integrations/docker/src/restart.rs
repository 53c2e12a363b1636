//! `restart` of a compose service: one container at a time (`POST
//! /containers/{id}/restart`), each waited on until healthy before the next, so a
//! scaled service keeps serving; the first container that fails stops the rollout.

use hyper::Method;
use opsbot_commands::context::{ActionReport, Progress, RuntimeError};

use crate::{
    DockerSettings,
    client::Engine,
    compose::ComposeService,
    wait::{Waited, until_healthy},
};

pub async fn restart(
    engine: &Engine,
    service: &ComposeService,
    settings: &DockerSettings,
    progress: &dyn Progress,
) -> Result<ActionReport, RuntimeError> {
    let containers = service.existing_containers(engine).await?;
    let total = containers.len();
    let mut details = Vec::new();
    for (index, container) in containers.iter().enumerate() {
        let name = container.name();
        progress.report(&format!("restarting {name} ({}/{total})", index + 1));
        let path = format!(
            "/containers/{}/restart?t={}",
            container.id,
            settings.stop_grace.as_secs()
        );
        engine
            .ok(
                Method::POST,
                &path,
                None,
                engine.timeout() + settings.stop_grace,
            )
            .await?;
        let (state, mut why, timed_out) =
            match until_healthy(engine, &container.id, settings, progress).await? {
                Waited::Healthy { state, after } => {
                    details.push(format!("{name}: {state} after {after}"));
                    progress.report(&format!("{name} is {state} ({}/{total})", index + 1));
                    continue;
                }
                Waited::Failed { state, details } => (state, details, false),
                Waited::TimedOut { state, details } => (state, details, true),
            };
        details.push(format!("{name}: {state}"));
        details.append(&mut why);
        let untouched: Vec<String> = containers[index + 1..].iter().map(|c| c.name()).collect();
        if !untouched.is_empty() {
            details.push(format!(
                "not restarted (stopped at the first failure): {}",
                untouched.join(", ")
            ));
        }
        let verdict = if timed_out {
            "did not become healthy in time"
        } else {
            "is not healthy"
        };
        return Ok(ActionReport {
            succeeded: false,
            summary: format!(
                "restart of compose service {} failed: {name} {verdict} ({state})",
                service.label()
            ),
            details,
        });
    }
    Ok(ActionReport {
        succeeded: true,
        summary: format!(
            "restarted compose service {}: {total}/{total} container{} healthy",
            service.label(),
            if total == 1 { "" } else { "s" }
        ),
        details,
    })
}
