//! opsbot's docker compose runtime: restart, scale, logs and inspect of compose services
//! through the Docker Engine API (<https://docs.docker.com/engine/api/>), over the
//! daemon's unix socket or a `tcp://` address.
//!
//! A compose service is the set of containers labelled `com.docker.compose.project` and
//! `com.docker.compose.service`; opsbot never runs the `docker` CLI. Compose keeps no
//! rollout history, so `rollback` points to the runbook.

pub mod client;
pub mod compose;
pub mod container;
mod duration;
pub mod host;
pub mod logs;
pub mod multiplex;
pub mod restart;
pub mod runtime;
pub mod scale;
pub mod settings;
pub mod view;
pub mod wait;

pub use host::DockerHost;
pub use runtime::DockerRuntime;
pub use settings::DockerSettings;
