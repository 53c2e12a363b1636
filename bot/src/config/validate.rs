//! Semantic validation of a deserialized [`Config`]: cross references (roles, commands,
//! approvers), inheritance cycles, globs, URLs, thresholds, targets and duplicate service
//! names. Every problem is collected with its key path, then located in the document, so
//! one run reports all of them in file order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use opsbot_commands::{
    Catalog, Registry, Service,
    catalog::{CostSource, HealthCheck, Target},
};

use super::{
    ApprovalPolicy, Config, ConfigError, RoleConfig,
    document::{Document, KeyPath},
    problems::{Problems, check_globs},
};

/// Platforms a channel rule may name.
pub const PLATFORMS: &[&str] = &["slack", "discord", "console"];

/// Checks `config` (read from `doc`) and builds its service catalog.
pub(crate) fn validate(
    config: &Config,
    doc: &Document<'_>,
    origin: &str,
) -> Result<Catalog, ConfigError> {
    let mut problems = Problems::default();
    let root = KeyPath::root();
    check_store(config, &mut problems);
    check_server(config, &mut problems);
    check_console(config, &mut problems);
    for (key, message) in config.leadership.problems() {
        problems.push(root.key("leadership").key(key), message);
    }
    check_roles(&config.roles, &mut problems);
    for (index, binding) in config.bindings.iter().enumerate() {
        let path = root.key("bindings").index(index);
        check_role_exists(
            &config.roles,
            &binding.role,
            path.key("role"),
            &mut problems,
        );
    }
    for (index, rule) in config.channels.iter().enumerate() {
        let path = root.key("channels").index(index);
        if !PLATFORMS.contains(&rule.platform.as_str()) {
            problems.push(
                path.key("platform"),
                format!(
                    "unknown platform `{}`; use one of: {}",
                    rule.platform,
                    PLATFORMS.join(", ")
                ),
            );
        }
        if rule.channel.trim().is_empty() {
            problems.push(path.key("channel"), "must not be empty");
        }
        check_commands(&rule.commands, &path.key("commands"), &mut problems);
    }
    check_approvals(config, &mut problems);
    super::alerts::check(config, &mut problems);
    super::escalation::check(config, &mut problems);
    super::maintenance::check(config, &mut problems);
    super::cost::check(config, &mut problems);
    super::slack::check(config, &mut problems);
    super::discord::check(config, &mut problems);
    super::systemd::check(config, &mut problems);
    super::storm::check(config, &mut problems);
    super::investigator::check(config, &mut problems);
    for (index, service) in config.services.iter().enumerate() {
        check_service(service, &root.key("services").index(index), &mut problems);
    }
    let catalog = build_catalog(&config.services, &mut problems);
    super::runbooks::check(config, catalog.as_ref(), &mut problems);
    super::automations::check(config, &mut problems);
    super::web::check(config, &mut problems);
    if problems.is_empty()
        && let Some(catalog) = catalog
    {
        return Ok(catalog);
    }
    Err(ConfigError::Invalid(problems.into_diagnostics(doc, origin)))
}

fn check_store(config: &Config, problems: &mut Problems) {
    if let Err(message) = check_store_url(&config.store.url) {
        problems.push(KeyPath::root().key("store").key("url"), message);
    }
    if config.store.max_connections == 0 {
        problems.push(
            KeyPath::root().key("store").key("max_connections"),
            "must be at least 1",
        );
    }
}

fn check_server(config: &Config, problems: &mut Problems) {
    let path = KeyPath::root().key("server");
    let server = &config.server;
    for (key, value) in [
        ("header_timeout", server.header_timeout),
        ("request_timeout", server.request_timeout),
    ] {
        if value.as_duration().is_zero() {
            problems.push(path.key(key), "must be longer than zero");
        }
    }
    if server.max_connections == 0 {
        problems.push(path.key("max_connections"), "must be at least 1");
    }
    for (key, value) in [
        ("alert_body_limit", server.alert_body_limit),
        ("chat_body_limit", server.chat_body_limit),
    ] {
        if value < 1024 {
            problems.push(path.key(key), "must be at least 1024 (bytes)");
        }
    }
}

/// Whether a database URL has a scheme opsbot can use. The message never repeats the URL,
/// which may hold a password.
pub(crate) fn check_store_url(url: &str) -> Result<(), String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(())
    } else {
        Err("must be a `sqlite://FILE` or `postgres://USER@HOST/DB` URL".to_string())
    }
}

fn check_console(config: &Config, problems: &mut Problems) {
    let user = &config.console.user;
    if user.is_empty() || user.chars().any(char::is_whitespace) {
        problems.push(
            KeyPath::root().key("console").key("user"),
            "must be one word (bindings name it as `console:NAME`)",
        );
    }
}

fn check_roles(roles: &BTreeMap<String, RoleConfig>, problems: &mut Problems) {
    for (name, role) in roles {
        let path = KeyPath::root().key("roles").key(name.as_str());
        for (index, parent) in role.inherits.iter().enumerate() {
            check_role_exists(roles, parent, path.key("inherits").index(index), problems);
        }
        for (index, grant) in role.allow.iter().enumerate() {
            let grant_path = path.key("allow").index(index);
            check_commands(&grant.commands, &grant_path.key("commands"), problems);
            check_globs(&grant.services, &grant_path.key("services"), problems);
            check_globs(
                &grant.environments,
                &grant_path.key("environments"),
                problems,
            );
        }
    }
    for (path, cycle) in inheritance_cycles(roles) {
        problems.push(path, format!("inheritance cycle: {}", cycle.join(" -> ")));
    }
}

/// Every inheritance cycle, once each, with the `inherits` entry that closes it.
fn inheritance_cycles(roles: &BTreeMap<String, RoleConfig>) -> Vec<(KeyPath, Vec<String>)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = roles.keys().map(|n| (n.as_str(), Mark::New)).collect();
    let mut cycles = Vec::new();
    for start in roles.keys() {
        if marks.get(start.as_str()) != Some(&Mark::New) {
            continue;
        }
        // Iterative depth-first search: (role, index of the next parent to visit).
        let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        marks.insert(start.as_str(), Mark::Active);
        while let Some((role, next)) = stack.last().copied() {
            let parents = roles.get(role).map_or(&[][..], |r| r.inherits.as_slice());
            let Some(parent) = parents.get(next) else {
                marks.insert(role, Mark::Done);
                stack.pop();
                continue;
            };
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            match marks.get(parent.as_str()).copied() {
                Some(Mark::New) => {
                    marks.insert(parent.as_str(), Mark::Active);
                    stack.push((parent.as_str(), 0));
                }
                Some(Mark::Active) => {
                    let from = stack.iter().position(|(r, _)| *r == parent.as_str());
                    let mut cycle: Vec<String> = stack[from.unwrap_or(0)..]
                        .iter()
                        .map(|(r, _)| r.to_string())
                        .collect();
                    cycle.push(parent.clone());
                    let path = KeyPath::root()
                        .key("roles")
                        .key(role)
                        .key("inherits")
                        .index(next);
                    cycles.push((path, cycle));
                }
                // Done, or unknown (reported separately).
                _ => {}
            }
        }
    }
    cycles
}

fn check_role_exists(
    roles: &BTreeMap<String, RoleConfig>,
    name: &str,
    path: KeyPath,
    problems: &mut Problems,
) {
    if roles.contains_key(name) {
        return;
    }
    let known: Vec<&str> = roles.keys().map(String::as_str).collect();
    let mut message = format!("unknown role `{name}`");
    if let Some(close) = known
        .iter()
        .filter(|k| strsim::jaro_winkler(name, k) >= 0.8)
        .max_by(|a, b| strsim::jaro_winkler(name, a).total_cmp(&strsim::jaro_winkler(name, b)))
    {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    if known.is_empty() {
        message.push_str("; no roles are defined (add a [roles.NAME] table)");
    } else {
        message.push_str(&format!("; defined roles: {}", known.join(", ")));
    }
    problems.push(path, message);
}

/// Each entry must be `*` or a known command name.
fn check_commands(commands: &[String], path: &KeyPath, problems: &mut Problems) {
    if commands.is_empty() {
        problems.push(
            path.clone(),
            "is empty; list command names, or \"*\" for every command",
        );
    }
    let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
    for (index, command) in commands.iter().enumerate() {
        if command == "*" || registry.find(command).is_some() {
            continue;
        }
        let mut message = format!("unknown command `{command}`");
        if let Some(close) = registry.close_matches(command).first() {
            message.push_str(&format!("; did you mean `{close}`?"));
        }
        let known: Vec<&str> = registry.commands().iter().map(|c| c.name).collect();
        message.push_str(&format!(
            "; known commands: {} (or \"*\" for all)",
            known.join(", ")
        ));
        problems.push(path.index(index), message);
    }
}

fn check_approvals(config: &Config, problems: &mut Problems) {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (index, policy) in config.approvals.iter().enumerate() {
        let path = KeyPath::root().key("approvals").index(index);
        check_approval(config, policy, &path, problems);
        if !names.insert(policy.name.as_str()) {
            problems.push(
                path.key("name"),
                format!("another approval policy is already named `{}`", policy.name),
            );
        }
    }
}

fn check_approval(
    config: &Config,
    policy: &ApprovalPolicy,
    path: &KeyPath,
    problems: &mut Problems,
) {
    if policy.name.trim().is_empty() {
        problems.push(path.key("name"), "must not be empty");
    }
    check_commands(&policy.commands, &path.key("commands"), problems);
    check_globs(&policy.services, &path.key("services"), problems);
    check_globs(&policy.environments, &path.key("environments"), problems);
    if !policy.runbooks.is_empty() {
        check_globs(&policy.runbooks, &path.key("runbooks"), problems);
        if !policy.commands.iter().any(|c| c == "runbook" || c == "*") {
            problems.push(
                path.key("runbooks"),
                "applies only to `runbook run`; add \"runbook\" to `commands`",
            );
        }
    }
    if policy.approver_roles.is_empty() {
        problems.push(
            path.key("approver_roles"),
            "is empty, so no one could ever approve; name at least one role",
        );
    }
    for (index, role) in policy.approver_roles.iter().enumerate() {
        check_role_exists(
            &config.roles,
            role,
            path.key("approver_roles").index(index),
            problems,
        );
    }
}

fn check_service(service: &Service, path: &KeyPath, problems: &mut Problems) {
    check_target(&service.target, &path.key("target"), problems);
    for (index, check) in service.health.iter().enumerate() {
        let check_path = path.key("health").index(index);
        match check {
            HealthCheck::Http(http) => {
                check_http_url(&http.url, check_path.key("url"), problems);
            }
            HealthCheck::Prometheus(prometheus) => {
                check_http_url(&prometheus.url, check_path.key("url"), problems);
                if prometheus.query.trim().is_empty() {
                    problems.push(check_path.key("query"), "must not be empty");
                }
                check_thresholds(prometheus, &check_path, problems);
            }
        }
    }
    for (index, source) in service.cost.iter().enumerate() {
        let source_path = path.key("cost").index(index);
        match source {
            CostSource::Prometheus { url, query } => {
                check_http_url(url, source_path.key("url"), problems);
                if query.trim().is_empty() {
                    problems.push(source_path.key("query"), "must not be empty");
                }
            }
            CostSource::Opencost { namespace, .. } if namespace.trim().is_empty() => {
                problems.push(source_path.key("namespace"), "must not be empty");
            }
            _ => {}
        }
    }
    if let Some(budget) = &service.budget {
        let budget_path = path.key("budget");
        let amounts = [
            ("daily", budget.daily),
            ("weekly", budget.weekly),
            ("monthly", budget.monthly),
        ];
        if amounts.iter().all(|(_, amount)| amount.is_none()) {
            problems.push(
                budget_path.clone(),
                "sets no limit; add `daily`, `weekly` or `monthly`",
            );
        }
        for (key, amount) in amounts {
            if amount.is_some_and(|a| a.is_sign_negative() && !a.is_zero()) {
                problems.push(budget_path.key(key), "must not be negative");
            }
        }
        if budget.warn_percent >= budget.critical_percent {
            problems.push(
                budget_path.key("warn_percent"),
                format!(
                    "must be below critical_percent ({} >= {})",
                    budget.warn_percent, budget.critical_percent
                ),
            );
        }
        if budget.critical_percent > 100 {
            problems.push(
                budget_path.key("critical_percent"),
                format!("must be at most 100 (got {})", budget.critical_percent),
            );
        }
    }
    if service.max_replicas == Some(0) {
        problems.push(
            path.key("max_replicas"),
            "must be at least 1 (leave it out to refuse scaling)",
        );
    }
}

fn check_target(target: &Target, path: &KeyPath, problems: &mut Problems) {
    let required: Vec<(&str, &String)> = match target {
        Target::Kubernetes {
            namespace,
            deployment,
            ..
        } => vec![("namespace", namespace), ("deployment", deployment)],
        Target::Compose {
            project, service, ..
        } => vec![("project", project), ("service", service)],
        Target::Systemd { unit, .. } => vec![("unit", unit)],
        Target::None => Vec::new(),
    };
    for (key, value) in required {
        if value.trim().is_empty() {
            problems.push(
                path.key(key),
                format!("a {} target needs a non-empty `{key}`", target.kind()),
            );
        }
    }
}

fn check_thresholds(
    check: &opsbot_commands::catalog::PrometheusCheck,
    path: &KeyPath,
    problems: &mut Problems,
) {
    use opsbot_commands::catalog::Comparison;
    for (key, value) in [("warn", check.warn), ("critical", check.critical)] {
        if !value.is_finite() {
            problems.push(path.key(key), "must be a finite number");
        }
    }
    let (ordered, relation) = match check.comparison {
        Comparison::Above => (check.warn <= check.critical, "at most"),
        Comparison::Below => (check.warn >= check.critical, "at least"),
    };
    if check.warn.is_finite() && check.critical.is_finite() && !ordered {
        problems.push(
            path.key("warn"),
            format!(
                "must be {relation} critical ({}) when comparison is {}",
                check.critical,
                match check.comparison {
                    Comparison::Above => "`above`",
                    Comparison::Below => "`below`",
                }
            ),
        );
    }
}

/// A simple check that `url` is `http(s)://HOST[:PORT][/...]`.
fn check_http_url(url: &str, path: KeyPath, problems: &mut Problems) {
    if let Err(reason) = http_url(url) {
        problems.push(path, format!("`{url}` is not an http(s) URL: {reason}"));
    }
}

fn http_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("it must start with http:// or https://")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("unclosed `[` in host")?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host");
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err("the port is not a number from 0 to 65535");
    }
    Ok(())
}

/// Builds the catalog; a duplicate name or alias is reported at the second service.
fn build_catalog(services: &[Service], problems: &mut Problems) -> Option<Catalog> {
    match Catalog::new(services.to_vec()) {
        Ok(catalog) => Some(catalog),
        Err(duplicate) => {
            let path = duplicate_location(services, &duplicate.name)
                .unwrap_or_else(|| KeyPath::root().key("services"));
            problems.push(path, duplicate.to_string());
            None
        }
    }
}

/// The key path of the second use of `name` (as a service name or alias), scanning in the
/// same order as `Catalog::new`.
fn duplicate_location(services: &[Service], name: &str) -> Option<KeyPath> {
    let mut seen = false;
    for (index, service) in services.iter().enumerate() {
        let path = KeyPath::root().key("services").index(index);
        let names = std::iter::once((path.key("name"), &service.name)).chain(
            service
                .aliases
                .iter()
                .enumerate()
                .map(|(i, alias)| (path.key("aliases").index(i), alias)),
        );
        for (path, candidate) in names {
            if candidate.as_str() == name {
                if seen {
                    return Some(path);
                }
                seen = true;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_checked_simply() {
        assert!(http_url("http://localhost:8080/health").is_ok());
        assert!(http_url("https://status.openai.com/api/v2/status.json").is_ok());
        assert!(http_url("http://[::1]:9090").is_ok());
        assert!(http_url("http://ai-orchestration.userwhisperer-prod.svc:8085/health").is_ok());
        assert!(http_url("localhost:8080/health").is_err());
        assert!(http_url("ftp://x").is_err());
        assert!(http_url("http://").is_err());
        assert!(http_url("http://:80/").is_err());
        assert!(http_url("http://host:99999/").is_err());
        assert!(http_url("http://host/a b").is_err());
    }

    #[test]
    fn store_urls_need_a_known_scheme_and_are_not_echoed() {
        assert!(check_store_url("sqlite://opsbot.db").is_ok());
        assert!(check_store_url("sqlite::memory:").is_ok());
        assert!(check_store_url("postgres://u@h/db").is_ok());
        let err = check_store_url("mysql://u:hunter2@h/db").unwrap_err();
        assert!(!err.contains("hunter2"));
    }
}
