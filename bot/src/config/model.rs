//! The shape of `opsbot.toml`, as typed structs. Loading, env overrides, secret
//! resolution and cross-reference checks live beside this file; this file only says what
//! keys exist, their types and their defaults. Unknown keys are errors.

use std::{collections::BTreeMap, net::SocketAddr};

use opsbot_commands::{HumanDuration, Service};
use serde::Deserialize;

use crate::rbac::Subject;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
    #[serde(default)]
    pub confirmation: ConfirmationConfig,
    /// `[docker]`: the Docker Engines of compose targets.
    #[serde(default)]
    pub docker: super::docker::DockerConfig,
    /// `[systemd]`: the bus of systemd targets.
    #[serde(default)]
    pub systemd: super::systemd::SystemdConfig,
    /// `[kubernetes]`: the kubeconfig and timeouts of Kubernetes targets.
    #[serde(default)]
    pub kubernetes: super::kubernetes::KubernetesConfig,
    /// `[outbox]`: chat delivery (pacing, retries, leases).
    #[serde(default)]
    pub outbox: super::outbox::OutboxConfig,
    /// `[leadership]`: which replica owns single-owner work (Discord gateway, Socket Mode).
    #[serde(default)]
    pub leadership: super::leadership::LeadershipConfig,
    /// `[alerts]`: alert sources, service mapping, grouping, default channel.
    #[serde(default)]
    pub alerts: super::alerts::AlertsConfig,
    /// `[[escalation]]`: escalation policies, by name.
    #[serde(default)]
    pub escalation: Vec<super::escalation::EscalationPolicy>,
    /// `[[maintenance]]`: recurring windows in which alerts are not paged.
    #[serde(default)]
    pub maintenance: Vec<super::maintenance::MaintenanceWindow>,
    /// `[cost]`: how to reach cost sources, caching, budget checks.
    #[serde(default)]
    pub cost: super::cost::CostConfig,
    /// `[slack]`: Slack (HTTP endpoints or Socket Mode); absent: no Slack.
    #[serde(default)]
    pub slack: Option<super::slack::SlackConfig>,
    /// `[discord]`: Discord (HTTP interactions or the gateway); absent: no Discord.
    #[serde(default)]
    pub discord: Option<super::discord::DiscordConfig>,
    /// The service catalog.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Who holds which role.
    #[serde(default)]
    pub bindings: Vec<BindingConfig>,
    /// Channels limited to a set of commands.
    #[serde(default)]
    pub channels: Vec<ChannelRule>,
    /// Two-person rules.
    #[serde(default)]
    pub approvals: Vec<ApprovalPolicy>,
    /// `[[runbooks]]`: procedures run from chat (`runbook run NAME`).
    #[serde(default)]
    pub runbooks: Vec<super::runbooks::RunbookConfig>,
    /// `[[automations]]`: runbooks that start by themselves on incidents and budgets.
    #[serde(default)]
    pub automations: Vec<super::automations::AutomationConfig>,
    /// `[investigator]`: the team's model for `incident investigate`; absent: none.
    #[serde(default)]
    pub investigator: Option<super::investigator::InvestigatorConfig>,
    /// `[web]`: the web console and its sign-in links; off without `public_url`.
    #[serde(default)]
    pub web: super::web::WebConfig,
}

/// `[server]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the HTTP server listens. Env `OPSBOT_LISTEN`, flag `--listen`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// How long a request's headers may take to arrive, counted from when the server
    /// waits for them (the connection opened, or the previous response was sent): also
    /// how long an idle keep-alive connection stays open.
    #[serde(default = "default_header_timeout")]
    pub header_timeout: HumanDuration,
    /// How long reading a request's body and answering it may take; beyond it the answer
    /// is 503 (Alertmanager retries it) and the connection is closed.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// Open connections at most. At the cap the oldest connection is asked to close (at
    /// once when it is idle), so `/healthz` still gets through a flood of idle ones.
    #[serde(default = "default_max_connections_http")]
    pub max_connections: usize,
    /// Largest body, in bytes, of the alert endpoints (Alertmanager sends unlimited
    /// batches by default: 7,000 alerts are about 2.3 MB). Larger: 413.
    #[serde(default = "default_alert_body_limit")]
    pub alert_body_limit: usize,
    /// Largest body, in bytes, of the Slack and Discord endpoints. Larger: 413.
    #[serde(default = "default_chat_body_limit")]
    pub chat_body_limit: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            header_timeout: default_header_timeout(),
            request_timeout: default_request_timeout(),
            max_connections: default_max_connections_http(),
            alert_body_limit: default_alert_body_limit(),
            chat_body_limit: default_chat_body_limit(),
        }
    }
}

fn default_header_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_max_connections_http() -> usize {
    512
}

fn default_alert_body_limit() -> usize {
    32 * 1024 * 1024
}

fn default_chat_body_limit() -> usize {
    1024 * 1024
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// `[store]`. `Debug` hides a password in the URL.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://opsbot.db` (default) or `postgres://user@host/db`.
    /// Env `OPSBOT_DATABASE_URL`, flag `--database-url`. May be written `${ENV_VAR}`.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// Connections in the pool (PostgreSQL; SQLite uses one writer and a few readers).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// PostgreSQL `statement_timeout` and `lock_timeout` of every session: a held lock or
    /// a stuck statement fails after this (and the request answers 503). `0s`: the
    /// server's defaults.
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout: HumanDuration,
    /// The longest a write endpoint (alerts, chat commands) waits for the store before it
    /// answers 503 with `Retry-After`.
    #[serde(default = "default_write_timeout")]
    pub write_timeout: HumanDuration,
}

impl StoreConfig {
    /// How to open the store.
    pub fn connect_options(&self) -> crate::store::ConnectOptions {
        crate::store::ConnectOptions {
            max_connections: self.max_connections,
            statement_timeout: Some(self.statement_timeout.as_duration()),
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &super::secret::redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("statement_timeout", &self.statement_timeout)
            .field("write_timeout", &self.write_timeout)
            .finish()
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
            max_connections: default_max_connections(),
            statement_timeout: default_statement_timeout(),
            write_timeout: default_write_timeout(),
        }
    }
}

pub fn default_store_url() -> String {
    "sqlite://opsbot.db".to_string()
}

fn default_max_connections() -> u32 {
    8
}

fn default_statement_timeout() -> HumanDuration {
    HumanDuration(crate::store::DEFAULT_STATEMENT_TIMEOUT)
}

fn default_write_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

/// `[audit]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// How long entries are kept (the agent-aiops runbook: audit logs 1 year).
    #[serde(default = "default_retention")]
    pub retention: HumanDuration,
    /// The Ed25519 seed (32 bytes, base64 or hex) checkpoints are signed with; a secret
    /// kept outside the store. Absent: no checkpoints.
    #[serde(default)]
    pub checkpoint_key: Option<super::secret::Secret>,
    /// How often the head and anchor are signed (when they moved).
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: HumanDuration,
    /// The append-only JSONL file every checkpoint is appended to.
    #[serde(default)]
    pub checkpoint_file: Option<std::path::PathBuf>,
    /// Where each checkpoint is also posted (through the outbox): `{ slack = "C…",
    /// discord = "…", console = "…" }`.
    #[serde(default)]
    pub channel: super::alerts::DefaultChannel,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: default_retention(),
            checkpoint_key: None,
            checkpoint_interval: default_checkpoint_interval(),
            checkpoint_file: None,
            channel: Default::default(),
        }
    }
}

fn default_checkpoint_interval() -> HumanDuration {
    HumanDuration::from_secs(5 * 60)
}

fn default_retention() -> HumanDuration {
    HumanDuration::from_secs(365 * 24 * 3600)
}

/// `[console]`: the interactive terminal chat of `opsbot serve --console`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Console user name; bindings name it as `console:NAME`.
    #[serde(default = "default_console_user")]
    pub user: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The channel name console commands are audited under.
    #[serde(default = "default_console_channel")]
    pub channel: String,
    /// Where images of replies (cost charts) are saved; the system temp dir's
    /// `opsbot-images` when absent.
    #[serde(default)]
    pub image_dir: Option<std::path::PathBuf>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            user: default_console_user(),
            display_name: None,
            channel: default_console_channel(),
            image_dir: None,
        }
    }
}

fn default_console_user() -> String {
    "operator".to_string()
}

fn default_console_channel() -> String {
    "console".to_string()
}

/// `[confirmation]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationConfig {
    /// How long a destructive command waits for its requester's `confirm`.
    #[serde(default = "default_confirm_timeout")]
    pub timeout: HumanDuration,
}

impl Default for ConfirmationConfig {
    fn default() -> Self {
        Self {
            timeout: default_confirm_timeout(),
        }
    }
}

fn default_confirm_timeout() -> HumanDuration {
    HumanDuration::from_secs(300)
}

/// `[roles.NAME]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    #[serde(default)]
    pub description: String,
    /// Roles whose grants this role also has.
    #[serde(default)]
    pub inherits: Vec<String>,
    #[serde(default)]
    pub allow: Vec<GrantConfig>,
}

/// One grant: these commands, on services matching these globs, in these environments.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantConfig {
    /// Command names, or `*` for every command.
    pub commands: Vec<String>,
    /// Service name globs (`wrkhrs-*`); every service when absent.
    #[serde(default = "everything")]
    pub services: Vec<String>,
    /// Environment globs; every environment when absent.
    #[serde(default = "everything")]
    pub environments: Vec<String>,
}

pub fn everything() -> Vec<String> {
    vec!["*".to_string()]
}

/// `[[bindings]]`: subjects that hold a role.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingConfig {
    pub role: String,
    pub subjects: Vec<Subject>,
}

/// `[[channels]]`: in this channel only these commands may run.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRule {
    /// `slack`, `discord` or `console`.
    pub platform: String,
    /// Channel id or `#name`, as the platform reports it.
    pub channel: String,
    pub commands: Vec<String>,
}

/// `[[approvals]]`: a two-person rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    pub name: String,
    pub commands: Vec<String>,
    #[serde(default = "everything")]
    pub services: Vec<String>,
    #[serde(default = "everything")]
    pub environments: Vec<String>,
    /// With `commands` naming `runbook`: only runs of runbooks whose name matches one of
    /// these globs (absent: every runbook).
    #[serde(default)]
    pub runbooks: Vec<String>,
    /// Roles whose holders may approve (never the requester).
    pub approver_roles: Vec<String>,
    /// How long a request waits for approval.
    #[serde(default = "default_approval_expiry")]
    pub expires: HumanDuration,
}

fn default_approval_expiry() -> HumanDuration {
    HumanDuration::from_secs(15 * 60)
}
