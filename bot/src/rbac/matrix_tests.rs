//! The RBAC matrix: every command × role × service/environment, checked against an
//! explicit table of what each role may do. Deny by default is part of the table.

use std::collections::BTreeSet;

use opsbot_commands::{
    Actor, Catalog, Platform, Registry, context::AccessView, registry::ServiceArg,
};

use super::{Authorization, Policy};
use crate::config::Config;

const CONFIG: &str = r#"
[[services]]
name = "api"
environment = "prod"

[[services]]
name = "db"
environment = "prod"

[[services]]
name = "api-staging"
environment = "staging"

[roles.viewer]
allow = [{ commands = ["services", "audit"] }]

[roles.operator]
inherits = ["viewer"]
allow = [
  { commands = ["restart", "scale", "rollback"], environments = ["staging"] },
  { commands = ["restart"], services = ["api*"], environments = ["prod"] },
]

[roles.approver]
inherits = ["viewer"]

[roles.admin]
allow = [{ commands = ["*"] }]

[[bindings]]
role = "viewer"
subjects = ["console:vera"]

[[bindings]]
role = "operator"
subjects = ["console:otto", "slack-group:S0OPS"]

[[bindings]]
role = "admin"
subjects = ["console:ada"]

[[bindings]]
role = "approver"
subjects = ["discord-role:42"]

[[channels]]
platform = "console"
channel = "readonly"
commands = ["services", "audit", "help"]

[[approvals]]
name = "prod-changes"
commands = ["restart", "rollback"]
environments = ["prod"]
approver_roles = ["approver", "admin"]
"#;

fn setup() -> (Policy, Catalog) {
    let config: Config = toml::from_str(CONFIG).expect("test config parses");
    let catalog = Catalog::new(config.services.clone()).expect("catalog");
    (Policy::from_config(&config).expect("policy"), catalog)
}

const SELF_SERVICE: &[&str] = &[
    "help", "whoami", "web", "confirm", "cancel", "approve", "deny",
];

/// What each role may run: `command` (no service) or `command@service`.
fn expected(role: &str) -> BTreeSet<String> {
    let mut allowed: BTreeSet<String> = SELF_SERVICE.iter().map(|s| s.to_string()).collect();
    let extra: &[&str] = match role {
        "nobody" => &[],
        "viewer" => &["services", "audit"],
        "operator" => &[
            "services",
            "audit",
            "restart@api-staging",
            "scale@api-staging",
            "rollback@api-staging",
            "restart@api",
        ],
        "admin" => return all_cells().into_iter().collect(),
        other => panic!("no expectation for {other}"),
    };
    allowed.extend(extra.iter().map(|s| s.to_string()));
    allowed
}

fn all_cells() -> Vec<String> {
    let (_, catalog) = setup();
    let mut cells = Vec::new();
    for spec in Registry::new(opsbot_commands::builtin::COMMANDS).commands() {
        match spec.service {
            ServiceArg::None => cells.push(spec.name.to_string()),
            ServiceArg::Optional | ServiceArg::Required => {
                for service in catalog.services() {
                    cells.push(format!("{}@{}", spec.name, service.name));
                }
            }
        }
    }
    cells
}

fn actor(role: &str) -> Actor {
    let id = match role {
        "nobody" => "nemo",
        "viewer" => "vera",
        "operator" => "otto",
        "admin" => "ada",
        other => panic!("no actor for {other}"),
    };
    Actor::new(Platform::Console, id, id)
}

#[test]
fn every_command_role_and_environment_matches_the_table() {
    let (policy, catalog) = setup();
    for role in ["nobody", "viewer", "operator", "admin"] {
        let actor = actor(role);
        let want = expected(role);
        for cell in all_cells() {
            let (command, service) = match cell.split_once('@') {
                Some((c, s)) => (c, catalog.get(s)),
                None => (cell.as_str(), None),
            };
            assert!(
                Registry::new(opsbot_commands::builtin::COMMANDS)
                    .find(command)
                    .is_some()
            );
            let got = policy.authorize(&actor, command, service, "ops");
            assert_eq!(
                got.is_allowed(),
                want.contains(&cell),
                "role {role}, {cell}: got {got:?}"
            );
            if !SELF_SERVICE.contains(&command) {
                assert_eq!(
                    policy.may_run(&actor, command, service),
                    want.contains(&cell),
                    "may_run: role {role}, {cell}"
                );
            }
        }
    }
}

#[test]
fn groups_and_roles_bind_through_the_actors_memberships() {
    let (policy, catalog) = setup();
    let api = catalog.get("api");
    let slack_member = Actor::new(Platform::Slack, "U1", "Sam").with_groups(vec!["S0OPS".into()]);
    assert!(
        policy
            .authorize(&slack_member, "restart", api, "C1")
            .is_allowed()
    );
    let slack_other = Actor::new(Platform::Slack, "U2", "Sue").with_groups(vec!["S0OTHER".into()]);
    assert!(
        !policy
            .authorize(&slack_other, "restart", api, "C1")
            .is_allowed()
    );
    // A Slack group id does not bind a Discord member with a role of the same id.
    let discord = Actor::new(Platform::Discord, "9", "Dee").with_groups(vec!["S0OPS".into()]);
    assert!(
        !policy
            .authorize(&discord, "restart", api, "C1")
            .is_allowed()
    );
}

#[test]
fn denials_say_which_roles_would_allow_it() {
    let (policy, catalog) = setup();
    let Authorization::Denied { reason } =
        policy.authorize(&actor("viewer"), "restart", catalog.get("db"), "ops")
    else {
        panic!("viewer must not restart db");
    };
    assert!(reason.contains("restart"), "{reason}");
    assert!(reason.contains("db (prod)"), "{reason}");
    assert!(reason.contains("your roles: viewer"), "{reason}");
    assert!(
        reason.contains("roles that would allow it: admin"),
        "{reason}"
    );
    let Authorization::Denied { reason } =
        policy.authorize(&actor("nobody"), "services", None, "ops")
    else {
        panic!("deny by default");
    };
    assert!(reason.contains("you hold no roles"), "{reason}");
}

#[test]
fn channel_limits_override_roles_and_say_where_to_go() {
    let (policy, catalog) = setup();
    let admin = actor("admin");
    let got = policy.authorize(&admin, "restart", catalog.get("api"), "readonly");
    let Authorization::Denied { reason } = got else {
        panic!("channel limit must deny")
    };
    assert!(reason.contains("not allowed in readonly"), "{reason}");
    assert!(reason.contains("services, audit, help"), "{reason}");
    assert!(
        policy
            .authorize(&admin, "services", None, "readonly")
            .is_allowed()
    );
}

#[test]
fn approval_rules_and_approvers() {
    let (policy, catalog) = setup();
    let rule = policy
        .approval_rule("restart", catalog.get("api"))
        .expect("restart in prod needs approval");
    assert_eq!(rule.name, "prod-changes");
    assert!(
        policy
            .approval_rule("restart", catalog.get("api-staging"))
            .is_none()
    );
    assert!(policy.approval_rule("scale", catalog.get("api")).is_none());
    let approver = Actor::new(Platform::Discord, "7", "Ann").with_groups(vec!["42".into()]);
    assert!(policy.may_approve(&approver, rule));
    assert!(policy.may_approve(&actor("admin"), rule));
    assert!(!policy.may_approve(&actor("operator"), rule));
}

#[test]
fn whoami_describes_roles_with_inheritance() {
    let (policy, _) = setup();
    let described = policy.describe(&actor("operator"));
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].role, "operator");
    assert_eq!(described[0].via, "console:otto");
    let text = described[0].grants.join("\n");
    assert!(
        text.contains("restart, scale, rollback on any service in staging"),
        "{text}"
    );
    assert!(text.contains("restart on api* in prod"), "{text}");
    assert!(text.contains("(includes viewer)"), "{text}");
    assert!(policy.describe(&actor("nobody")).is_empty());
}
