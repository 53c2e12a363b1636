//! `[leadership]`: how replicas agree on the one owner of single-owner work (the Discord
//! gateway connection, Slack Socket Mode). The mechanism lives in
//! [`crate::leadership`]; this file only says which keys exist and their defaults.

use std::time::Duration;

use opsbot_commands::HumanDuration;
use serde::Deserialize;

/// Which mechanism elects the owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeadershipBackend {
    /// SQLite store: this process (one process owns a SQLite file). PostgreSQL store:
    /// a Kubernetes Lease when running in a cluster (`KUBERNETES_SERVICE_HOST` set), else
    /// a PostgreSQL advisory lock.
    #[default]
    Auto,
    /// `pg_try_advisory_lock` on a dedicated connection of the store (PostgreSQL only).
    Postgres,
    /// A `coordination.k8s.io/v1` Lease per role, through `[kubernetes] kubeconfig` or
    /// the in-cluster service account.
    Kubernetes,
}

impl LeadershipBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadershipBackend::Auto => "auto",
            LeadershipBackend::Postgres => "postgres",
            LeadershipBackend::Kubernetes => "kubernetes",
        }
    }
}

/// `[leadership]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadershipConfig {
    /// `auto` (default), `postgres` or `kubernetes`.
    #[serde(default)]
    pub backend: LeadershipBackend,
    /// Namespace of the Leases; default: `POD_NAMESPACE`, else the in-cluster service
    /// account's namespace, else `default`.
    #[serde(default)]
    pub lease_namespace: Option<String>,
    /// Lease names are `PREFIX-ROLE`, e.g. `opsbot-discord-gateway`.
    #[serde(default = "default_lease_prefix")]
    pub lease_prefix: String,
    /// This replica's name as a Lease holder; default: `POD_NAME`, else `HOSTNAME`, else
    /// the host name, each with the process id.
    #[serde(default)]
    pub identity: Option<String>,
    /// How long an owner that stopped renewing keeps the Lease (Kubernetes); how long a
    /// dead owner may go unnoticed is this plus `retry_interval`.
    #[serde(default = "default_lease_duration")]
    pub lease_duration: HumanDuration,
    /// How often a non-owner tries again, and how often an owner checks that it still
    /// holds the lock (PostgreSQL).
    #[serde(default = "default_retry_interval")]
    pub retry_interval: HumanDuration,
}

impl Default for LeadershipConfig {
    fn default() -> Self {
        Self {
            backend: LeadershipBackend::Auto,
            lease_namespace: None,
            lease_prefix: default_lease_prefix(),
            identity: None,
            lease_duration: default_lease_duration(),
            retry_interval: default_retry_interval(),
        }
    }
}

impl LeadershipConfig {
    /// What is wrong with these settings, by key: Lease names `PREFIX-ROLE` must be DNS
    /// labels, an identity must not be empty, and a holder must be able to renew (and
    /// others to retry) within the Lease duration.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let prefix = &self.lease_prefix;
        let label = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if prefix.is_empty()
            || prefix.len() > 40
            || !prefix.chars().all(label)
            || prefix.starts_with('-')
        {
            problems.push((
                "lease_prefix",
                format!(
                    "`{prefix}` must be 1-40 lowercase letters, digits or `-`, not starting \
                     with `-` (Lease names are PREFIX-ROLE)"
                ),
            ));
        }
        if self
            .identity
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            problems.push((
                "identity",
                "must not be empty; leave it out for the pod or host name".into(),
            ));
        }
        if self.lease_duration.as_duration() < Duration::from_secs(3) {
            problems.push(("lease_duration", "must be at least 3s".into()));
        }
        if self.retry_interval >= self.lease_duration {
            problems.push((
                "retry_interval",
                format!(
                    "must be shorter than lease_duration ({})",
                    self.lease_duration
                ),
            ));
        }
        problems
    }
}

fn default_lease_prefix() -> String {
    "opsbot".to_string()
}

fn default_lease_duration() -> HumanDuration {
    HumanDuration::from_secs(15)
}

fn default_retry_interval() -> HumanDuration {
    HumanDuration::from_secs(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let empty: LeadershipConfig = toml::from_str("").unwrap();
        assert_eq!(empty, LeadershipConfig::default());
        assert_eq!(empty.backend, LeadershipBackend::Auto);
        assert_eq!(empty.lease_prefix, "opsbot");
        assert_eq!(empty.lease_duration, HumanDuration::from_secs(15));
        let set: LeadershipConfig = toml::from_str(
            "backend = \"kubernetes\"\nlease_namespace = \"ops\"\nidentity = \"a\"\n\
             lease_duration = \"30s\"\nretry_interval = \"1s\"",
        )
        .unwrap();
        assert_eq!(set.backend, LeadershipBackend::Kubernetes);
        assert_eq!(set.lease_namespace.as_deref(), Some("ops"));
        assert_eq!(set.identity.as_deref(), Some("a"));
        assert_eq!(set.retry_interval, HumanDuration::from_secs(1));
        assert!(toml::from_str::<LeadershipConfig>("backend = \"etcd\"").is_err());
        assert!(toml::from_str::<LeadershipConfig>("lease = \"x\"").is_err());
        assert!(empty.problems().is_empty());
    }

    #[test]
    fn problems_name_their_key() {
        let keys = |text: &str| -> Vec<&'static str> {
            let config: LeadershipConfig = toml::from_str(text).unwrap();
            config.problems().into_iter().map(|(key, _)| key).collect()
        };
        assert_eq!(keys("lease_prefix = \"Opsbot\""), ["lease_prefix"]);
        assert_eq!(keys("lease_prefix = \"-x\""), ["lease_prefix"]);
        assert_eq!(keys("lease_prefix = \"\""), ["lease_prefix"]);
        assert_eq!(keys("identity = \" \""), ["identity"]);
        assert_eq!(
            keys("lease_duration = \"2s\"\nretry_interval = \"1s\""),
            ["lease_duration"]
        );
        assert_eq!(keys("retry_interval = \"15s\""), ["retry_interval"]);
        assert!(keys("lease_prefix = \"ops-bot2\"\nlease_duration = \"30s\"").is_empty());
    }

    #[test]
    fn a_bad_prefix_is_reported_with_its_line() {
        let error = crate::config::parse(
            "[store]\nurl = \"sqlite://x.db\"\n\n[leadership]\nlease_prefix = \"Ops_Bot\"\n",
            "opsbot.toml",
            &|_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("opsbot.toml:5"), "{error}");
        assert!(error.contains("leadership.lease_prefix"), "{error}");
    }
}
