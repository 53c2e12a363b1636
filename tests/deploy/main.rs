//! `deploy/` cannot drift from the code: every Kubernetes manifest that `kubectl kustomize`
//! renders (the base and the replicas-postgres overlay) deserializes into its k8s-openapi
//! type and survives the round trip unchanged (a misspelt field would silently vanish:
//! that is the failure), the probes, security context, RBAC verbs and secret references
//! are what opsbot needs, the shipped configurations load with the bot's own loader, the
//! compose stack is wired (Alertmanager → opsbot, mounted files exist), the image builds
//! every workspace member and runs as non-root, the Prometheus rules parse (and pass
//! `promtool check rules`), Alertmanager's file passes `amtool check-config`, and every
//! opsbot metric the rules and the Grafana dashboard query is one a working opsbot
//! exports.
//!
//! kubectl, promtool, amtool: a missing tool skips its part, except under `CI`, where it
//! fails.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{
            ConfigMap, Container, Namespace, PersistentVolumeClaim, Service, ServiceAccount,
        },
        policy::v1::PodDisruptionBudget,
        rbac::v1::{ClusterRole, PolicyRule, Role, RoleBinding},
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use opsbot::{
    config::{self, LoadedConfig, Overrides},
    outbox::{
        ChatSink, DeliveryError, Dispatcher, DispatcherConfig, Lane, MessageRef, Operation, Outbox,
        OutboxMessage,
    },
};
use opsbot_commands::{Platform, Reply, catalog::Target};
#[path = "../support/mod.rs"]
mod support;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use support::{Backend as TestBackend, TestBot};

mod compose;
mod image;
mod kubernetes;
mod manifests;
mod observability;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `tool` runs (`kubectl version --client`, `TOOL --version`). Missing: skip with a
/// note, or fail under CI.
fn tool_available(tool: &str, test: &str) -> bool {
    let version_args: &[&str] = if tool == "kubectl" {
        &["version", "--client"]
    } else {
        &["--version"]
    };
    let found = Command::new(tool)
        .args(version_args)
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(!under_ci(), "{test}: `{tool}` must be installed under CI");
        eprintln!("skipped {test}: `{tool}` is not installed");
    }
    found
}

/// `kubectl kustomize DIR`, split into documents (as JSON values).
fn kustomize(dir: &str) -> Vec<Value> {
    let path = deploy_dir().join(dir);
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&path)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("kustomize output is UTF-8");
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).expect("parse rendered YAML");
    assert!(!documents.is_empty(), "{dir} renders nothing");
    documents
}

fn read_yaml<T: DeserializeOwned>(path: &Path) -> T {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Loads configuration text with the bot's loader; `${NAME}` references resolve to a
/// placeholder (their values come from Secrets at run time).
fn load_config_text(text: &str, file_name: &str) -> LoadedConfig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, text).unwrap();
    let env = |name: &str| match name {
        // As the Deployment and the compose file set it.
        config::ENV_LISTEN => Some("0.0.0.0:8080".to_string()),
        config::ENV_DATABASE_URL | config::ENV_CONFIG => None,
        secret => secret
            .starts_with("OPSBOT_")
            .then(|| "placeholder".to_string()),
    };
    config::load_with(&path, &Overrides::default(), &env)
        .unwrap_or_else(|e| panic!("{file_name} does not pass check-config: {e}"))
}

/// Runs `tool args…` and fails with its output unless it succeeds.
fn run_check(tool: &str, args: &[&Path]) {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
