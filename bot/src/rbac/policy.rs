//! The access policy: roles (with inheritance), bindings, channel limits and two-person
//! rules, compiled from configuration and evaluated on every invocation.
//!
//! Deny by default: only a grant of a role the actor holds allows a command. `help`,
//! `whoami` and the request-control commands are always allowed, so a newcomer can find
//! out what they may do; request control has its own checks in the engine.

use std::collections::{BTreeMap, BTreeSet};

use opsbot_commands::{Actor, Platform, Service, context::RoleDescription};

use super::{
    Subject,
    grant::{CommandSet, Grant, NamePatterns},
};
use crate::config::Config;

/// Commands everyone may run: asking for help and about oneself, a sign-in link to the
/// web console (`web`: the console shows and does only what the roles allow), and
/// request control (`confirm`, `cancel`, `approve`, `deny`), which the engine checks itself.
const SELF_SERVICE: &[&str] = &[
    "help", "whoami", "web", "confirm", "cancel", "approve", "deny",
];

/// A role with its own and inherited grants.
#[derive(Clone, Debug)]
struct Role {
    /// Own grants first, then inherited ones.
    grants: Vec<Grant>,
    /// This role and every role it inherits, transitively.
    includes: BTreeSet<String>,
}

/// In a channel with a limit, only these commands may run.
#[derive(Clone, Debug)]
struct ChannelLimit {
    platform: Platform,
    channel: String,
    commands: CommandSet,
}

/// A two-person rule.
#[derive(Clone, Debug)]
pub struct ApprovalRule {
    pub name: String,
    commands: CommandSet,
    services: NamePatterns,
    environments: NamePatterns,
    pub approver_roles: Vec<String>,
    pub expires: std::time::Duration,
    /// For `runbook run`: the runbooks it covers (`None`: all).
    runbooks: Option<NamePatterns>,
}

impl ApprovalRule {
    fn applies(&self, command: &str, service: Option<&Service>) -> bool {
        self.commands.contains(command)
            && service.is_some_and(|s| {
                self.services.matches(s.name.as_str())
                    && self.environments.matches(s.environment.as_str())
            })
    }
}

/// The outcome of an authorization check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// Allowed; names the role (or rule) that allowed it.
    Allowed { because: String },
    /// Denied, with a sentence saying why and what would allow it.
    Denied { reason: String },
}

impl Authorization {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Authorization::Allowed { .. })
    }
}

/// A policy could not be compiled (configuration validation normally catches this first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("access policy: {0}")]
pub struct PolicyError(String);

/// The compiled access policy.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    roles: BTreeMap<String, Role>,
    bindings: Vec<(Subject, String)>,
    channel_limits: Vec<ChannelLimit>,
    approvals: Vec<ApprovalRule>,
}

impl Policy {
    pub fn from_config(config: &Config) -> Result<Self, PolicyError> {
        let mut own: BTreeMap<&str, Vec<Grant>> = BTreeMap::new();
        for (name, role) in &config.roles {
            let grants = role
                .allow
                .iter()
                .map(Grant::compile)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PolicyError(format!("role `{name}`: {e}")))?;
            own.insert(name, grants);
        }
        let mut roles = BTreeMap::new();
        for name in config.roles.keys() {
            let mut includes = BTreeSet::new();
            let mut stack = vec![name.clone()];
            while let Some(next) = stack.pop() {
                if !includes.insert(next.clone()) {
                    continue;
                }
                let role = config.roles.get(&next).ok_or_else(|| {
                    PolicyError(format!("role `{name}` inherits unknown role `{next}`"))
                })?;
                stack.extend(role.inherits.iter().cloned());
            }
            let mut grants: Vec<Grant> = own.get(name.as_str()).cloned().unwrap_or_default();
            for inherited in includes.iter().filter(|r| *r != name) {
                grants.extend(own.get(inherited.as_str()).cloned().unwrap_or_default());
            }
            roles.insert(name.clone(), Role { grants, includes });
        }
        let mut bindings = Vec::new();
        for binding in &config.bindings {
            if !roles.contains_key(&binding.role) {
                return Err(PolicyError(format!(
                    "binding names unknown role `{}`",
                    binding.role
                )));
            }
            for subject in &binding.subjects {
                bindings.push((subject.clone(), binding.role.clone()));
            }
        }
        let channel_limits = config
            .channels
            .iter()
            .map(|rule| {
                Ok(ChannelLimit {
                    platform: Platform::parse(&rule.platform).ok_or_else(|| {
                        PolicyError(format!("unknown platform `{}`", rule.platform))
                    })?,
                    channel: rule.channel.clone(),
                    commands: CommandSet::parse(&rule.commands).map_err(PolicyError)?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let approvals = config
            .approvals
            .iter()
            .map(|p| {
                let wrap = |e: String| PolicyError(format!("approval policy `{}`: {e}", p.name));
                Ok(ApprovalRule {
                    name: p.name.clone(),
                    commands: CommandSet::parse(&p.commands).map_err(wrap)?,
                    services: NamePatterns::parse(&p.services).map_err(wrap)?,
                    environments: NamePatterns::parse(&p.environments).map_err(wrap)?,
                    approver_roles: p.approver_roles.clone(),
                    expires: p.expires.as_duration(),
                    runbooks: if p.runbooks.is_empty() {
                        None
                    } else {
                        Some(NamePatterns::parse(&p.runbooks).map_err(wrap)?)
                    },
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ok(Self {
            roles,
            bindings,
            channel_limits,
            approvals,
        })
    }

    /// The roles bound to the actor, with the subject that bound each.
    fn bound_roles<'a>(
        &'a self,
        actor: &'a Actor,
    ) -> impl Iterator<Item = (&'a Subject, &'a str)> + 'a {
        self.bindings
            .iter()
            .filter(move |(subject, _)| subject.matches(actor))
            .map(|(subject, role)| (subject, role.as_str()))
    }

    /// Every role the actor holds, including inherited ones.
    pub fn roles_of(&self, actor: &Actor) -> BTreeSet<&str> {
        let mut held = BTreeSet::new();
        for (_, role) in self.bound_roles(actor) {
            if let Some(r) = self.roles.get(role) {
                held.extend(r.includes.iter().map(String::as_str));
            }
        }
        held
    }

    fn is_self_service(command: &str) -> bool {
        SELF_SERVICE.contains(&command)
    }

    /// May `actor` run `command` on `service` from `channel`?
    pub fn authorize(
        &self,
        actor: &Actor,
        command: &str,
        service: Option<&Service>,
        channel: &str,
    ) -> Authorization {
        if Self::is_self_service(command) {
            return Authorization::Allowed {
                because: "everyone may ask for help and about themselves".into(),
            };
        }
        if let Some(limit) = self
            .channel_limits
            .iter()
            .find(|l| l.platform == actor.platform && l.channel == channel)
            .filter(|limit| !limit.commands.contains(command))
        {
            let elsewhere = service
                .and_then(|s| match actor.platform {
                    Platform::Slack => s.channels.slack.clone(),
                    Platform::Discord => s.channels.discord.clone(),
                    Platform::Console | Platform::Automation | Platform::Web => None,
                })
                .filter(|c| c != channel)
                .map(|c| format!("; run it in {c}"))
                .unwrap_or_else(|| "; run it in a channel without this limit".into());
            return Authorization::Denied {
                reason: format!(
                    "`{command}` is not allowed in {channel}, which allows only {}{elsewhere}",
                    limit.commands.describe()
                ),
            };
        }
        for (_, role_name) in self.bound_roles(actor) {
            if self
                .roles
                .get(role_name)
                .is_some_and(|role| role.grants.iter().any(|g| g.allows(command, service)))
            {
                return Authorization::Allowed {
                    because: format!("role `{role_name}`"),
                };
            }
        }
        let target = match service {
            Some(s) => format!(" on {} ({})", s.name, s.environment),
            None => String::new(),
        };
        let would: Vec<&str> = self
            .roles
            .iter()
            .filter(|(_, role)| role.grants.iter().any(|g| g.allows(command, service)))
            .map(|(name, _)| name.as_str())
            .collect();
        let hint = if would.is_empty() {
            "no role grants it".to_string()
        } else {
            format!("roles that would allow it: {}", would.join(", "))
        };
        let held = self.roles_of(actor);
        let yours = if held.is_empty() {
            "you hold no roles".to_string()
        } else {
            format!(
                "your roles: {}",
                held.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        Authorization::Denied {
            reason: format!("you may not run `{command}`{target}; {yours}; {hint}"),
        }
    }

    /// The two-person rule that applies to `command` on `service`, if any.
    pub fn approval_rule(&self, command: &str, service: Option<&Service>) -> Option<&ApprovalRule> {
        self.approvals
            .iter()
            .find(|rule| rule.applies(command, service))
    }

    /// The two-person rule that applies to running the runbook `name`: one whose
    /// commands name `runbook` and whose `runbooks` (if any) match it. (A run's steps are
    /// authorized one by one as its starter; this rule is about starting it at all.)
    pub fn runbook_approval_rule(&self, name: &str) -> Option<&ApprovalRule> {
        self.approvals.iter().find(|rule| {
            rule.commands.contains("runbook")
                && rule.runbooks.as_ref().is_none_or(|p| p.matches(name))
        })
    }

    pub fn approval_rule_named(&self, name: &str) -> Option<&ApprovalRule> {
        self.approvals.iter().find(|rule| rule.name == name)
    }

    /// Whether the actor holds one of the rule's approver roles (directly or inherited).
    pub fn may_approve(&self, actor: &Actor, rule: &ApprovalRule) -> bool {
        let held = self.roles_of(actor);
        rule.approver_roles
            .iter()
            .any(|r| held.contains(r.as_str()))
    }
}

impl opsbot_commands::context::AccessView for Policy {
    fn describe(&self, actor: &Actor) -> Vec<RoleDescription> {
        let mut out: Vec<RoleDescription> = Vec::new();
        for (subject, role_name) in self.bound_roles(actor) {
            let Some(role) = self.roles.get(role_name) else {
                continue;
            };
            if out.iter().any(|d| d.role == role_name) {
                continue;
            }
            let mut grants: Vec<String> = role.grants.iter().map(Grant::describe).collect();
            let inherited: Vec<&str> = role
                .includes
                .iter()
                .map(String::as_str)
                .filter(|r| *r != role_name)
                .collect();
            if !inherited.is_empty() {
                grants.push(format!("(includes {})", inherited.join(", ")));
            }
            if grants.is_empty() {
                grants.push("nothing by itself".into());
            }
            out.push(RoleDescription {
                role: role_name.to_string(),
                via: subject.to_string(),
                grants,
            });
        }
        out
    }

    fn may_run(&self, actor: &Actor, command: &str, service: Option<&Service>) -> bool {
        Self::is_self_service(command)
            || self.bound_roles(actor).any(|(_, role)| {
                self.roles
                    .get(role)
                    .is_some_and(|r| r.grants.iter().any(|g| g.allows(command, service)))
            })
    }
}
