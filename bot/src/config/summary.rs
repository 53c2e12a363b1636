//! The human summary printed by `opsbot check-config`: services per environment, roles,
//! bindings, channel rules, approval policies, and who can run what in prod. The grant
//! evaluation here is deliberately simple and private (command list or `*`, service and
//! environment globs); the engine's RBAC lives in `crate::rbac`. Secrets are never printed
//! and the store URL is shown with its password redacted.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write,
};

use globset::{Glob, GlobMatcher};
use opsbot_commands::{HumanDuration, Service, builtin::COMMANDS};

use super::{ApprovalPolicy, GrantConfig, LoadedConfig, RoleConfig, redact_url};

/// The environment the "who can run what" section is about.
const PROD: &str = "prod";

/// Renders the summary of a loaded configuration.
pub fn summarize(loaded: &LoadedConfig) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_summary(&mut out, loaded);
    out
}

fn write_summary(out: &mut String, loaded: &LoadedConfig) -> std::fmt::Result {
    let config = &loaded.config;
    writeln!(out, "Configuration {} is valid.", loaded.source.display())?;
    writeln!(out)?;
    writeln!(out, "Server:       listening on {}", config.server.listen)?;
    for warning in super::alerts::warnings(&config.alerts) {
        writeln!(out, "Warning:      {warning}")?;
    }
    for warning in super::automations::warnings(config, &loaded.catalog) {
        writeln!(out, "Warning:      {warning}")?;
    }
    writeln!(out, "Store:        {}", redact_url(&config.store.url))?;
    writeln!(
        out,
        "Leadership:   {} (single-owner work: Discord gateway, Slack Socket Mode)",
        config.leadership.backend.as_str()
    )?;
    writeln!(
        out,
        "Audit:        entries kept {}",
        duration(config.audit.retention)
    )?;
    writeln!(
        out,
        "Console:      user `{}` in channel `{}`",
        config.console.user, config.console.channel
    )?;
    writeln!(
        out,
        "Confirmation: destructive commands wait {} for `confirm`",
        duration(config.confirmation.timeout)
    )?;
    writeln!(out, "Cost:         {}", super::cost::describe(&config.cost))?;
    if let Some(slack) = &config.slack {
        writeln!(
            out,
            "Slack:        {} mode, /{}{}, bot token from {}",
            slack.mode.as_str(),
            slack.umbrella_command.trim_start_matches('/'),
            if slack.top_level_commands {
                " and one slash command per command"
            } else {
                ""
            },
            slack.bot_token.source()
        )?;
    }
    if let Some(discord) = &config.discord {
        writeln!(
            out,
            "Discord:      {} mode, application {}, commands {}, bot token from {}",
            discord.mode.as_str(),
            discord.application_id,
            discord
                .guild_id
                .as_deref()
                .map_or_else(|| "global".to_string(), |g| format!("in guild {g}")),
            discord.token.source()
        )?;
    }

    let catalog = &loaded.catalog;
    let environments = catalog.environments();
    writeln!(out)?;
    writeln!(
        out,
        "Services: {} in {} environment(s)",
        catalog.len(),
        environments.len()
    )?;
    for environment in &environments {
        let services: Vec<&Service> = catalog.in_environment(environment).collect();
        writeln!(out, "  {environment} ({}):", services.len())?;
        let width = services
            .iter()
            .map(|s| s.name.as_str().len())
            .max()
            .unwrap_or(0);
        for service in services {
            writeln!(
                out,
                "    {:width$}  {}{}",
                service.name.as_str(),
                service.target.describe(),
                service_notes(service),
            )?;
        }
    }

    writeln!(out)?;
    writeln!(out, "Roles: {}", config.roles.len())?;
    for (name, role) in &config.roles {
        let mut line = format!("  {name}");
        if !role.inherits.is_empty() {
            line.push_str(&format!(" (inherits {})", role.inherits.join(", ")));
        }
        line.push_str(&format!(": {}", describe_grants(&role.allow)));
        if !role.description.is_empty() {
            line.push_str(&format!(" - {}", role.description));
        }
        writeln!(out, "{line}")?;
    }

    let subjects: usize = config.bindings.iter().map(|b| b.subjects.len()).sum();
    writeln!(out)?;
    writeln!(
        out,
        "Bindings: {} binding(s), {subjects} subject(s)",
        config.bindings.len()
    )?;
    for binding in &config.bindings {
        let names: Vec<String> = binding.subjects.iter().map(|s| s.to_string()).collect();
        writeln!(out, "  {}: {}", binding.role, names.join(", "))?;
    }

    writeln!(out)?;
    writeln!(out, "Channel rules: {}", config.channels.len())?;
    for rule in &config.channels {
        writeln!(
            out,
            "  {} {}: only {}",
            rule.platform,
            rule.channel,
            rule.commands.join(", ")
        )?;
    }

    writeln!(out)?;
    writeln!(out, "Approval policies: {}", config.approvals.len())?;
    for policy in &config.approvals {
        writeln!(
            out,
            "  {}: {} on {} in {} needs approval by {} (expires after {})",
            policy.name,
            policy.commands.join(", "),
            scope(&policy.services, "all services"),
            scope(&policy.environments, "all environments"),
            policy.approver_roles.join(" or "),
            duration(policy.expires),
        )?;
    }

    writeln!(out)?;
    write_prod_access(out, loaded)
}

/// `365d`, `15m`, `90s`: the largest unit that divides the duration exactly.
fn duration(duration: HumanDuration) -> String {
    let secs = duration.as_duration().as_secs();
    let units = [(86_400, "d"), (3_600, "h"), (60, "m")];
    match units
        .iter()
        .find(|(size, _)| secs > 0 && secs.is_multiple_of(*size))
    {
        Some((size, unit)) => format!("{}{unit}", secs / size),
        None => duration.to_string(),
    }
}

fn scope(globs: &[String], everything: &str) -> String {
    if globs == ["*"] {
        everything.to_string()
    } else {
        globs.join(", ")
    }
}

/// `  (aliases: x; max 10 replicas; 3 health checks; budget; #channel)`
fn service_notes(service: &Service) -> String {
    let mut notes = Vec::new();
    if !service.aliases.is_empty() {
        let aliases: Vec<&str> = service.aliases.iter().map(|a| a.as_str()).collect();
        notes.push(format!("aliases {}", aliases.join(", ")));
    }
    if let Some(max) = service.max_replicas {
        notes.push(format!("max {max} replicas"));
    }
    if !service.health.is_empty() {
        notes.push(format!("{} health check(s)", service.health.len()));
    }
    if let Some(budget) = &service.budget {
        let limits: Vec<String> = [
            ("daily", budget.daily),
            ("weekly", budget.weekly),
            ("monthly", budget.monthly),
        ]
        .into_iter()
        .filter_map(|(period, amount)| amount.map(|a| format!("{a} {} {period}", budget.currency)))
        .collect();
        notes.push(format!("budget {}", limits.join(", ")));
    }
    if let Some(slack) = &service.channels.slack {
        notes.push(format!("slack {slack}"));
    }
    if let Some(discord) = &service.channels.discord {
        notes.push(format!("discord {discord}"));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("  ({})", notes.join("; "))
    }
}

fn describe_grants(grants: &[GrantConfig]) -> String {
    if grants.is_empty() {
        return "no grants of its own".to_string();
    }
    grants
        .iter()
        .map(|grant| {
            let mut text = grant.commands.join(", ");
            if grant.services != ["*"] {
                text.push_str(&format!(" on {}", grant.services.join(", ")));
            }
            if grant.environments != ["*"] {
                text.push_str(&format!(" in {}", grant.environments.join(", ")));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// For each role, the commands it allows on prod services after inheritance, noting
/// commands an approval policy gates.
fn write_prod_access(out: &mut String, loaded: &LoadedConfig) -> std::fmt::Result {
    let config = &loaded.config;
    let prod: Vec<&Service> = loaded
        .catalog
        .services()
        .iter()
        .filter(|s| s.environment.as_str() == PROD)
        .collect();
    writeln!(out, "Who can run what in {PROD} ({} services):", prod.len())?;
    if prod.is_empty() {
        return writeln!(out, "  (no {PROD} services)");
    }
    let approvals: Vec<CompiledGrant> = config.approvals.iter().map(approval_scope).collect();
    for name in config.roles.keys() {
        let grants: Vec<CompiledGrant> = effective_grants(&config.roles, name)
            .into_iter()
            .map(CompiledGrant::new)
            .collect();
        let mut parts = Vec::new();
        for command in COMMANDS.iter().map(|c| c.name) {
            let allowed: Vec<&Service> = prod
                .iter()
                .copied()
                .filter(|service| grants.iter().any(|g| g.allows(command, service)))
                .collect();
            if allowed.is_empty() {
                continue;
            }
            let mut part = command.to_string();
            if allowed.len() < prod.len() {
                let names: Vec<&str> = allowed.iter().map(|s| s.name.as_str()).collect();
                part.push_str(&format!(" (only {})", names.join(", ")));
            }
            if allowed
                .iter()
                .any(|service| approvals.iter().any(|a| a.allows(command, service)))
            {
                part.push_str(" [needs approval]");
            }
            parts.push(part);
        }
        let allowed = if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(", ")
        };
        writeln!(out, "  {name}: {allowed}")?;
    }
    Ok(())
}

/// The grants of `role` and every role it inherits from (each role once).
fn effective_grants<'c>(
    roles: &'c BTreeMap<String, RoleConfig>,
    role: &str,
) -> Vec<&'c GrantConfig> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut pending = vec![role];
    let mut grants = Vec::new();
    while let Some(name) = pending.pop() {
        let Some((key, config)) = roles.get_key_value(name) else {
            continue;
        };
        if !seen.insert(key.as_str()) {
            continue;
        }
        grants.extend(config.allow.iter());
        pending.extend(config.inherits.iter().map(String::as_str));
    }
    grants
}

/// A grant (or an approval policy's scope) with its globs compiled.
struct CompiledGrant {
    all_commands: bool,
    commands: BTreeSet<String>,
    services: Vec<GlobMatcher>,
    environments: Vec<GlobMatcher>,
}

impl CompiledGrant {
    fn new(grant: &GrantConfig) -> Self {
        Self::from_parts(&grant.commands, &grant.services, &grant.environments)
    }

    fn from_parts(commands: &[String], services: &[String], environments: &[String]) -> Self {
        Self {
            all_commands: commands.iter().any(|c| c == "*"),
            commands: commands.iter().cloned().collect(),
            services: compile(services),
            environments: compile(environments),
        }
    }

    fn allows(&self, command: &str, service: &Service) -> bool {
        (self.all_commands || self.commands.contains(command))
            && self
                .services
                .iter()
                .any(|g| g.is_match(service.name.as_str()))
            && self
                .environments
                .iter()
                .any(|g| g.is_match(service.environment.as_str()))
    }
}

fn approval_scope(policy: &ApprovalPolicy) -> CompiledGrant {
    CompiledGrant::from_parts(&policy.commands, &policy.services, &policy.environments)
}

/// Compiles globs, dropping invalid ones (validation has already refused them).
fn compile(globs: &[String]) -> Vec<GlobMatcher> {
    globs
        .iter()
        .filter_map(|glob| Glob::new(glob).ok())
        .map(|glob| glob.compile_matcher())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Overrides, load_with};

    fn example() -> LoadedConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml");
        load_with(&path, &Overrides::default(), &|_| None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn role_line<'s>(summary: &'s str, role: &str) -> &'s str {
        let section = summary
            .split("Who can run what in prod")
            .nth(1)
            .expect("prod section");
        section
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{role}:")))
            .unwrap_or_else(|| panic!("no line for {role} in:\n{section}"))
    }

    #[test]
    fn the_example_summary_shows_who_can_run_what_in_prod() {
        let summary = summarize(&example());
        println!("{summary}");
        assert!(summary.contains("  prod ("));
        assert!(summary.contains("  staging (1):"));
        assert!(summary.contains("ai-orchestration"));
        assert!(summary.contains("kubernetes deployment userwhisperer-prod/ai-orchestration"));
        assert!(summary.contains("operator (inherits viewer, auditor)"));
        assert!(
            summary.contains("slack #aiops-alerts: only help, whoami, services, audit, health")
        );
        assert!(summary.contains(
            "prod-changes: restart, rollback on all services in prod needs approval by approver or admin (expires after 15m)"
        ));
        assert!(summary.contains("Audit:        entries kept 365d"));

        // The console `operator`: restart and rollback need approval, scale is denied.
        let operator = role_line(&summary, "operator");
        assert!(operator.contains("audit"), "{operator}");
        assert!(operator.contains("restart [needs approval]"), "{operator}");
        assert!(operator.contains("rollback [needs approval]"), "{operator}");
        assert!(!operator.contains("scale"), "{operator}");
        let admin = role_line(&summary, "admin");
        assert!(
            admin.contains("rollback [needs approval], scale"),
            "{admin}"
        );
        let viewer = role_line(&summary, "viewer");
        assert_eq!(
            viewer.trim(),
            "viewer: help, whoami, services, health, confirm, cancel"
        );
    }

    #[test]
    fn the_summary_never_prints_a_database_password() {
        let mut loaded = example();
        loaded.config.store.url = "postgres://opsbot:hunter2@db/opsbot".into();
        let summary = summarize(&loaded);
        assert!(!summary.contains("hunter2"));
        assert!(summary.contains("postgres://opsbot:[redacted]@db/opsbot"));
    }
}
