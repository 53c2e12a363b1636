//! Shared helpers for the end-to-end tests (each test target includes this module with
//! `mod support;`): a running opsbot engine on a scratch store (SQLite or PostgreSQL),
//! wired to the recording runtime of `opsbot-fakes`, and shortcuts to type as a console
//! user.
//!
//! The recording runtime ([`RecordingRuntime`]) stands in for the Kubernetes, compose and
//! systemd adapters: it lets pipeline tests observe exactly when an action runs.
//! Health checks run either against nothing ([`Probes::Healthy`]: every check passes, so
//! pipeline tests need no endpoints) or with the real HTTP prober ([`Probes::Http`]).
//! [`TestBot::start_real`] wires neither double: the adapters come from the configuration
//! (`RuntimeRouter::from_config`, as `opsbot serve` builds them) and health checks run
//! with the HTTP prober, for tests against the fakes of `opsbot-fakes`.

// Each test target uses part of this module.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc};

use opsbot::{
    app::App,
    config::{self, Config, LoadedConfig},
    runtime::RuntimeRouter,
    store::scratch::{ScratchDatabase, postgres_url_or_skip},
};
use opsbot_commands::{
    Actor, Catalog, Invocation, Platform, Reply,
    context::{NoProgress, Prober},
};
pub use opsbot_fakes::{HealthyProber, RecordingRuntime};

/// The example configuration shipped in `deploy/examples/opsbot.toml`.
pub fn example_config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
}

pub fn example_config_text() -> String {
    std::fs::read_to_string(example_config_path()).expect("read the example configuration")
}

/// Which store a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which prober the engine runs health checks with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probes {
    /// Every check passes at once: pipeline tests need no endpoints.
    Healthy,
    /// The real HTTP prober, as `App::start` builds it (for tests with fake servers).
    Http,
}

/// How a [`TestBot`] reaches runtimes and health endpoints.
enum Wiring {
    /// The [`RecordingRuntime`] for every target kind; health checks run by `Probes`.
    Recording(Probes),
    /// The adapters `RuntimeRouter::from_config` builds and the real HTTP prober.
    Real,
}

/// A running engine on a scratch store.
pub struct TestBot {
    pub app: App,
    /// The recording double every target kind is routed to; when started with
    /// [`TestBot::start_real`] it is not wired and records nothing.
    pub runtime: Arc<RecordingRuntime>,
    pub catalog: Catalog,
    channel: String,
    _sqlite_dir: Option<tempfile::TempDir>,
    postgres: Option<ScratchDatabase>,
}

impl TestBot {
    /// Starts opsbot with `config_text` on `backend`, every health check passing; `None`
    /// when PostgreSQL is not configured (outside CI: the test is skipped with a message).
    pub async fn start(backend: Backend, config_text: &str, test: &str) -> Option<TestBot> {
        Self::start_with(backend, config_text, test, Probes::Healthy).await
    }

    /// Like [`TestBot::start`], with health checks run by `probes`.
    pub async fn start_with(
        backend: Backend,
        config_text: &str,
        test: &str,
        probes: Probes,
    ) -> Option<TestBot> {
        let config =
            config::parse(config_text, "test.toml", &|_| None).expect("test config is valid");
        Self::launch(backend, config, test, Wiring::Recording(probes)).await
    }

    /// Starts opsbot on `config` as `opsbot serve` wires it: the Kubernetes, docker compose
    /// and systemd adapters that `RuntimeRouter::from_config` builds from `config`, and the
    /// real HTTP prober. `config.store` is replaced by a scratch store on `backend`.
    pub async fn start_real(backend: Backend, config: Config, test: &str) -> Option<TestBot> {
        Self::launch(backend, config, test, Wiring::Real).await
    }

    async fn launch(
        backend: Backend,
        mut config: Config,
        test: &str,
        wiring: Wiring,
    ) -> Option<TestBot> {
        let (sqlite_dir, postgres) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                config.store.url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
                (Some(dir), None)
            }
            Backend::Postgres => {
                let base = postgres_url_or_skip(test)?;
                let (store, scratch) = opsbot::store::scratch::scratch_postgres(&base)
                    .await
                    .expect("scratch PostgreSQL database");
                store.close().await;
                config.store.url = scratch.url().to_string();
                (None, Some(scratch))
            }
        };
        let catalog = Catalog::new(config.services.clone()).expect("catalog");
        let channel = config.console.channel.clone();
        let runtime = Arc::new(RecordingRuntime::default());
        // The router, and a prober double (`None`: the HTTP prober `App::start` builds).
        let (router, prober): (RuntimeRouter, Option<Arc<dyn Prober>>) = match wiring {
            Wiring::Real => (
                RuntimeRouter::from_config(&config).expect("adapters from the configuration"),
                None,
            ),
            Wiring::Recording(probes) => (
                RuntimeRouter {
                    kubernetes: Some(runtime.clone()),
                    compose: Some(runtime.clone()),
                    systemd: Some(runtime.clone()),
                },
                match probes {
                    Probes::Healthy => Some(Arc::new(HealthyProber)),
                    Probes::Http => None,
                },
            ),
        };
        let loaded = LoadedConfig {
            config,
            catalog: catalog.clone(),
            source: PathBuf::from("test.toml"),
        };
        let app = match prober {
            None => App::start(&loaded, router).await,
            Some(prober) => App::start_with_prober(&loaded, router, prober).await,
        }
        .expect("opsbot starts");
        Some(TestBot {
            app,
            runtime,
            catalog,
            channel,
            _sqlite_dir: sqlite_dir,
            postgres,
        })
    }

    /// Types `text` in the console channel as console user `user`.
    pub async fn say(&self, user: &str, text: &str) -> Reply {
        let actor = Actor::new(Platform::Console, user, user);
        self.say_as(actor, &self.channel.clone(), text).await
    }

    pub async fn say_as(&self, actor: Actor, channel: &str, text: &str) -> Reply {
        let invocation = Invocation::new(actor, channel, text);
        self.app.engine.handle(&invocation, &NoProgress).await
    }

    /// Stops the engine and drops a PostgreSQL scratch database.
    pub async fn stop(self) {
        self.app.shutdown().await;
        if let Some(database) = self.postgres {
            let _ = database.drop_database().await;
        }
    }
}

/// The request id of a confirmation or approval reply (from its first button).
pub fn request_id(reply: &Reply) -> String {
    let button = reply
        .buttons
        .first()
        .unwrap_or_else(|| panic!("reply has no buttons: {}", reply.to_plain_text()));
    button
        .command
        .split_whitespace()
        .nth(1)
        .expect("button command has an id")
        .to_string()
}

/// Runs one async test body on SQLite and on PostgreSQL.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($name:ident, $config:expr, |$bot:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn body($bot: &$crate::support::TestBot) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let bot = $crate::support::TestBot::start($crate::support::Backend::Sqlite, &$config, stringify!($name))
                    .await
                    .expect("SQLite always runs");
                body(&bot).await;
                bot.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(bot) = $crate::support::TestBot::start($crate::support::Backend::Postgres, &$config, stringify!($name)).await
                else {
                    return;
                };
                body(&bot).await;
                bot.stop().await;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;
