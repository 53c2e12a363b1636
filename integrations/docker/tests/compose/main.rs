//! The docker compose runtime against the fake Docker Engine of `opsbot-fakes` on a unix
//! socket: one test binary, one file per behaviour.

mod failures;
mod logs;
mod restart;
mod scale;
mod view;

use std::{sync::Mutex, time::Duration};

use opsbot_commands::{Service, catalog::Target, context::Progress};
use opsbot_docker::{DockerRuntime, DockerSettings};

pub use opsbot_fakes::docker::FakeEngine;

/// A compose service of project `wrkhrs` on `docker_host`.
pub fn service(name: &str, docker_host: Option<String>, scalable: bool) -> Service {
    let mut service =
        Service::new(name.parse().unwrap(), "prod".parse().unwrap()).with_target(Target::Compose {
            project: "wrkhrs".into(),
            service: name.into(),
            docker_host,
            scalable,
        });
    service.runbook = Some("runbooks/wrkhrs-ai-stack.md".into());
    service
}

/// Fast timings for tests: 2 s requests, 2 s health wait, 20 ms polling.
pub fn settings(default_host: String) -> DockerSettings {
    DockerSettings {
        default_host,
        request_timeout: Duration::from_secs(2),
        health_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(20),
        stop_grace: Duration::from_secs(1),
    }
}

pub fn runtime(engine: &FakeEngine) -> DockerRuntime {
    DockerRuntime::new(settings(engine.docker_host())).unwrap()
}

/// Progress that keeps every message.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<String>>);

impl Progress for Recorder {
    fn report(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

impl Recorder {
    pub fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}
