//! Slack user groups for RBAC: the groups that role bindings name (`slack-group:S…`),
//! their members read with `usergroups.users.list` and cached for a TTL. An actor's
//! groups are the bound groups listing them. A failed lookup keeps the last known
//! members (or none, at first), so Slack trouble never grants more than it did before.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use opsbot_slack::WebApi;
use tokio::sync::Mutex;

use super::SlackMetrics;
use crate::{config::Config, rbac::Subject};

/// A lookup that takes longer counts as failed (commands wait for it).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

struct Entry {
    fetched: Instant,
    members: Arc<HashSet<String>>,
}

/// Members of the bound user groups, cached.
pub struct UserGroups {
    api: WebApi,
    /// Group ids named by bindings, sorted.
    groups: Vec<String>,
    ttl: Duration,
    cache: Mutex<HashMap<String, Entry>>,
    metrics: SlackMetrics,
}

impl UserGroups {
    pub fn new(api: WebApi, config: &Config, ttl: Duration, metrics: SlackMetrics) -> Self {
        let mut groups: Vec<String> = config
            .bindings
            .iter()
            .flat_map(|b| b.subjects.iter())
            .filter_map(|s| match s {
                Subject::SlackGroup(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        groups.sort();
        groups.dedup();
        Self {
            api,
            groups,
            ttl,
            cache: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// The bound groups `user` belongs to.
    pub async fn groups_of(&self, user: &str) -> Vec<String> {
        let mut found = Vec::new();
        for group in &self.groups {
            if self.members(group).await.contains(user) {
                found.push(group.clone());
            }
        }
        found
    }

    async fn members(&self, group: &str) -> Arc<HashSet<String>> {
        // One lookup at a time: concurrent commands wait for it rather than repeat it.
        let mut cache = self.cache.lock().await;
        if let Some(entry) = cache.get(group)
            && entry.fetched.elapsed() < self.ttl
        {
            return entry.members.clone();
        }
        let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, self.api.usergroup_members(group)).await;
        match lookup.unwrap_or_else(|_| {
            Err(opsbot_slack::ApiError::Transport(
                "usergroups.users.list did not answer in time".into(),
            ))
        }) {
            Ok(users) => {
                self.metrics.usergroup_lookup("ok");
                let members = Arc::new(users.into_iter().collect::<HashSet<_>>());
                cache.insert(
                    group.to_string(),
                    Entry {
                        fetched: Instant::now(),
                        members: members.clone(),
                    },
                );
                members
            }
            Err(error) => {
                self.metrics.usergroup_lookup("failed");
                tracing::warn!(group, %error, "usergroups.users.list failed; using the last known members");
                cache
                    .get(group)
                    .map(|e| e.members.clone())
                    .unwrap_or_default()
            }
        }
    }
}
