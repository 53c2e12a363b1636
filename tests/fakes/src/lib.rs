//! Fakes of the systems opsbot operates, for tests only: never a normal dependency of a
//! production crate (a test below checks every workspace manifest for that).
//!
//! Each fake is written from the system's public API documentation, not from opsbot's
//! adapters, so an adapter test against it checks the adapter against the documented
//! behaviour:
//!
//! * [`kubernetes::FakeApiServer`]: a Kubernetes API server on `127.0.0.1:0` (plain HTTP)
//!   with a small deployment controller, and a kubeconfig pointing at it;
//! * [`admin_api::FakeAdminApi`]: the admin HTTP API of alice-hybrid's backend
//!   (`/api/admin/set-mode`, `/broadcast`, …), counting and keeping every request;
//! * [`cost::FakeCostApis`]: the OpenAI Costs API, Anthropic's cost report, OpenCost's
//!   allocation API and Prometheus queries, with pagination and 429/5xx injection;
//! * [`docker::FakeEngine`]: a Docker Engine API (v1.43) on a unix socket in a temp dir;
//! * [`systemd::DbusDaemon`] and [`systemd::FakeSystemd`]: a private `dbus-daemon` and a
//!   systemd manager (`org.freedesktop.systemd1`) served on it;
//! * [`journal_gateway::FakeJournalGateway`]: systemd-journal-gatewayd's `/entries` (JSON
//!   and text, `Range`, field matches) and `/machine`;
//! * [`slack::FakeSlack`]: the Slack Web API methods opsbot calls, with 429/5xx injection,
//!   and [`slack_socket::FakeSocketMode`]: a Socket Mode websocket; [`slack_request`]
//!   builds the signed requests Slack sends to an app (slash commands, button presses).
//!
//! * [`openai::FakeOpenAi`]: an OpenAI-compatible chat completions endpoint (Ollama's
//!   `/v1`) answering streamed requests from a per-test script: text, tool calls, usage,
//!   malformed chunks, error statuses, silence;
//! * [`discord::FakeDiscord`]: the Discord REST API calls opsbot makes (messages,
//!   threads, interaction callbacks and webhooks, command registration, `GET /gateway`),
//!   with 429/5xx, and [`discord_gateway::FakeGateway`]: the gateway websocket (Hello,
//!   Identify, READY, heartbeats, dispatches such as `INTERACTION_CREATE`);
//!   [`discord_request`] builds the interactions Discord sends (commands, button presses).
//!
//! And the doubles of opsbot's own seams, shared by every test crate:
//!
//! * [`RecordingRuntime`]: records `restart`/`rollback`/`scale` instead of performing
//!   them, or answers as a test scripts it (the one recording runtime of the workspace:
//!   `opsbot-commands` compiles its source into its own unit tests);
//! * [`HealthyProber`]: every health check passes ([`prober::UnhealthyProber`]: except
//!   those of the services it names).
//!
//! Every fake starts on its own temp dir or port 0, is seeded and inspected through small
//! methods, and stops when dropped (or with its `shutdown`). [`free_port`] finds a port
//! for a real process under test.

pub mod admin_api;
pub mod cost;
pub mod discord;
pub mod discord_gateway;
pub mod discord_request;
pub mod docker;
pub mod journal_gateway;
pub mod kubernetes;
pub mod openai;
mod port;
pub mod prober;
pub mod runtime;
pub mod slack;
pub mod slack_request;
pub mod slack_socket;
pub mod systemd;

pub use port::free_port;
pub use prober::HealthyProber;
pub use runtime::RecordingRuntime;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// No workspace member may list `opsbot-fakes` outside its `[dev-dependencies]`.
    #[test]
    fn fakes_stay_dev_only() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let workspace: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
        let members = workspace["workspace"]["members"].as_array().unwrap();
        assert!(!members.is_empty());
        for member in members {
            let member = member.as_str().unwrap();
            let path = root.join(member).join("Cargo.toml");
            let manifest: toml::Table =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut tables = vec![
                ("dependencies", manifest.get("dependencies")),
                ("build-dependencies", manifest.get("build-dependencies")),
            ];
            for target in manifest
                .get("target")
                .and_then(toml::Value::as_table)
                .into_iter()
                .flat_map(toml::Table::values)
            {
                tables.push(("target.*.dependencies", target.get("dependencies")));
                tables.push((
                    "target.*.build-dependencies",
                    target.get("build-dependencies"),
                ));
            }
            for (section, table) in tables {
                let listed = table
                    .and_then(toml::Value::as_table)
                    .is_some_and(|t| t.contains_key("opsbot-fakes"));
                assert!(
                    !listed,
                    "{member}/Cargo.toml lists opsbot-fakes in [{section}]: the fakes are dev-only"
                );
            }
        }
    }
}
