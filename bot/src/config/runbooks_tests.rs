//! `check-config` on `[[runbooks]]`: every problem is reported at its file line with its
//! key path, and the section is deserialized as documented.

use super::super::{ConfigError, Diagnostic, load::parse};
use super::{HeaderValue, StepKind};

const SERVICES: &str = r#"
[[services]]
name = "alice-backend"
environment = "prod"
target = { kind = "compose", project = "alice", service = "alice-backend" }
health = [{ kind = "http", url = "http://localhost:8000/api/health" }]

[[services]]
name = "alice-frontend"
environment = "prod"
target = { kind = "compose", project = "alice", service = "alice-frontend" }
"#;

fn env(name: &str) -> Option<String> {
    (name == "ADMIN_TOKEN").then(|| "t0ken-from-env".to_string())
}

fn problems(runbooks: &str) -> Vec<Diagnostic> {
    let text = format!("{SERVICES}{runbooks}");
    match parse(&text, "opsbot.toml", &env) {
        Err(ConfigError::Invalid(diagnostics)) => diagnostics,
        Err(other) => panic!("expected validation errors, got: {other}"),
        Ok(_) => panic!("expected validation errors, the configuration was accepted"),
    }
}

/// The 1-based line of the first line of `runbooks` containing `needle`.
fn line_of(runbooks: &str, needle: &str) -> usize {
    let text = format!("{SERVICES}{runbooks}");
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` is not in the text"))
}

fn assert_problem(diagnostics: &[Diagnostic], line: usize, needle: &str) {
    assert!(
        diagnostics
            .iter()
            .any(|d| d.line == line && d.message.contains(needle)),
        "no problem `{needle}` at line {line}: {diagnostics:#?}"
    );
}

#[test]
fn a_valid_runbook_is_read_with_its_steps_and_secret_header() {
    let text = format!(
        "{SERVICES}{}",
        r#"
[[runbooks]]
name = "restart-backend"
params = [{ name = "service", type = "service", default = "alice-backend" }]
steps = [
  { kind = "command", command = "restart {service}" },
  { kind = "wait", duration = "5s" },
  { kind = "wait_healthy", service = "{service}", timeout = "1m" },
  { kind = "http", url = "http://localhost:8000/api/admin/set-mode", headers = { Authorization = "Bearer ${ADMIN_TOKEN}", "Content-Type" = "application/json" }, body = { mode = "offline" } },
  { kind = "manual", instruction = "switch compose files" },
  { kind = "notify", message = "done: {service}", mention = ["@oncall"] },
]
"#
    );
    let config = parse(&text, "opsbot.toml", &env).unwrap_or_else(|e| panic!("{e}"));
    let runbook = &config.runbooks[0];
    assert_eq!(runbook.steps.len(), 6);
    assert_eq!(runbook.steps[3].kind, StepKind::Http);
    assert!(matches!(
        runbook.steps[3].headers.get("Authorization"),
        Some(HeaderValue::Secret(_))
    ));
    assert!(matches!(
        runbook.steps[3].headers.get("Content-Type"),
        Some(HeaderValue::Literal(text)) if text == "application/json"
    ));
    assert!(!format!("{runbook:?}").contains("t0ken-from-env"));
}

#[test]
fn unknown_commands_services_params_and_placeholders_are_located() {
    let runbooks = r#"
[[runbooks]]
name = "broken"
services = ["nothing-*"]
params = [{ name = "count", type = "int", default = "many" }]
steps = [
  { kind = "command", command = "restrat alice-backend" },
  { kind = "command", command = "restart alice-nowhere" },
  { kind = "command", command = "scale alice-backend {replicas}" },
  { kind = "wait_healthy", service = "alice-frontend" },
  { kind = "notify", message = "hello {who}" },
  { kind = "wait", instruction = "no such key for a wait" },
]
"#;
    let found = problems(runbooks);
    assert_problem(&found, line_of(runbooks, "nothing-*"), "matches no service");
    assert_problem(&found, line_of(runbooks, "\"many\""), "whole number");
    assert_problem(
        &found,
        line_of(runbooks, "restrat"),
        "unknown command `restrat`",
    );
    assert_problem(&found, line_of(runbooks, "alice-nowhere"), "alice-nowhere");
    assert_problem(
        &found,
        line_of(runbooks, "{replicas}"),
        "unknown placeholder `{replicas}`",
    );
    assert_problem(
        &found,
        line_of(
            runbooks,
            "kind = \"wait_healthy\", service = \"alice-frontend\"",
        ),
        "no health checks",
    );
    assert_problem(
        &found,
        line_of(runbooks, "{who}"),
        "unknown placeholder `{who}`",
    );
    assert_problem(
        &found,
        line_of(runbooks, "no such key"),
        "has no `instruction`",
    );
    assert_problem(&found, line_of(runbooks, "no such key"), "needs `duration`");
    for d in &found {
        assert!(
            d.to_string()
                .starts_with(&format!("opsbot.toml:{}:", d.line)),
            "{d}"
        );
    }
}

#[test]
fn a_secret_written_in_a_header_is_refused_at_its_line() {
    let runbooks = r#"
[[runbooks]]
name = "leaky"

[[runbooks.steps]]
kind = "http"
url = "http://localhost:8000/api/admin/broadcast"
headers = { Authorization = "Bearer sk-live-1234567890abcdefghij" }
"#;
    let found = problems(runbooks);
    assert_problem(
        &found,
        line_of(runbooks, "Authorization"),
        "a literal secret in a header",
    );
    assert!(
        found.iter().all(|d| !d.to_string().contains("sk-live")),
        "the secret is echoed: {found:#?}"
    );
    let url = r#"
[[runbooks]]
name = "leaky-url"
steps = [{ kind = "http", url = "http://admin:hunter2@localhost:8000/api" }]
"#;
    assert_problem(&problems(url), line_of(url, "hunter2"), "credential");
}

#[test]
fn duplicate_names_and_empty_runbooks_are_refused() {
    let runbooks = r#"
[[runbooks]]
name = "twice"
steps = [{ kind = "wait", duration = "1s" }]

[[runbooks]]
name = "twice"
steps = []

[[runbooks]]
name = "two words"
steps = [{ kind = "command", command = "runbook run twice" }]
"#;
    let found = problems(runbooks);
    let second = line_of(runbooks, "steps = []") - 1;
    assert_problem(&found, second, "already named `twice`");
    assert_problem(&found, line_of(runbooks, "steps = []"), "at least one step");
    assert_problem(&found, line_of(runbooks, "two words"), "one word");
    assert_problem(
        &found,
        line_of(runbooks, "runbook run twice"),
        "cannot be a runbook step",
    );
}

#[test]
fn approval_policies_may_name_runbooks() {
    let text = format!(
        "{SERVICES}{}",
        r#"
[roles.lead]
allow = [{ commands = ["approve"] }]

[[approvals]]
name = "runs"
commands = ["restart"]
runbooks = ["alice-*"]
approver_roles = ["lead"]
"#
    );
    let Err(ConfigError::Invalid(found)) = parse(&text, "opsbot.toml", &env) else {
        panic!("a runbooks filter without `runbook` in commands is refused");
    };
    assert!(found[0].message.contains("add \"runbook\""), "{found:#?}");
    let fixed = text.replace(r#"commands = ["restart"]"#, r#"commands = ["runbook"]"#);
    parse(&fixed, "opsbot.toml", &env).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_runbook_name_too_long_for_a_discord_button_is_located() {
    let name = "a".repeat(super::MAX_RUNBOOK_NAME + 1);
    let runbooks = format!(
        r#"
[[runbooks]]
name = "{name}"
steps = [{{ kind = "wait", duration = "1s" }}]
"#
    );
    let found = problems(&runbooks);
    assert_problem(
        &found,
        line_of(&runbooks, &name),
        "must be at most 48 characters, not 49",
    );
}
