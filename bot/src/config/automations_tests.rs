//! `check-config` on `[[automations]]`: an unknown runbook, an unknown parameter or
//! placeholder and a bad severity are reported at their lines; a service glob that
//! matches nothing is a warning.

use super::super::{ConfigError, Diagnostic, load::parse};

const BASE: &str = r#"
[[services]]
name = "ai-orchestration"
environment = "prod"
target = { kind = "compose", project = "uw", service = "ai-orchestration" }

[[runbooks]]
name = "restart-it"
params = [{ name = "service", type = "service" }]
steps = [{ kind = "command", command = "restart {service}" }]
"#;

fn problems(text: &str) -> Vec<Diagnostic> {
    match parse(text, "opsbot.toml", &|_| None) {
        Err(ConfigError::Invalid(diagnostics)) => diagnostics,
        Err(other) => panic!("expected validation errors, got: {other}"),
        Ok(_) => panic!("expected validation errors, the configuration was accepted"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn bad_automations_are_reported_at_their_lines() {
    let text = format!(
        r#"{BASE}
[[automations]]
name = "first-response"
runbook = "no-such-runbook"
on = "incident"
severities = ["urgent"]

[[automations]]
name = "second"
runbook = "restart-it"
on = "incident"
params = {{ service = "{{service}}", color = "{{colour}}" }}
"#
    );
    let found = problems(&text);
    let at = |needle: &str, message: &str| {
        let line = line_of(&text, needle);
        assert!(
            found
                .iter()
                .any(|d| d.line == line && d.message.contains(message)),
            "no `{message}` at line {line}: {found:#?}"
        );
    };
    at("no-such-runbook", "there is no runbook `no-such-runbook`");
    at("urgent", "matches no severity");
    at("colour", "has no parameter `color`");
    at("colour", "unknown placeholder `{colour}`");
}

#[test]
fn a_service_glob_matching_nothing_is_a_warning() {
    let text = format!(
        r#"{BASE}
[[automations]]
name = "first-response"
runbook = "restart-it"
on = "incident"
services = ["ai-orchestration", "nothing-*"]
params = {{ service = "{{service}}" }}
"#
    );
    let config = parse(&text, "opsbot.toml", &|_| None).expect("valid");
    let catalog = opsbot_commands::Catalog::new(config.services.clone()).expect("catalog");
    let warnings = super::warnings(&config, &catalog);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("nothing-*"), "{warnings:?}");
}
