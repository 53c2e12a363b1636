//! The audit records what happened, not how the reply looks: every command of the
//! registry, run successfully through the engine as an operator would (confirming and
//! approving where it must), is audited `ok` — including replies that are red because of
//! what they report (open critical incidents, a spend over budget, an unhealthy check).
//!
//! The sessions are listed per command name in a `match`, and the test walks the
//! registry: a new command fails here until it has a session.

use opsbot::audit::{AuditEntry, AuditLog};
use opsbot_commands::{Reply, Status, builtin::COMMANDS};
use opsbot_fakes::cost::FakeCostApis;
mod support;
use support::{Backend, Probes, TestBot};

/// One web service in prod: Kubernetes (the recording runtime, with a history to roll
/// back to), a health check nobody answers (critical), a tiny daily budget read from the
/// fake Prometheus. `operator` may do everything; rollbacks in prod need `lead`'s
/// approval.
fn config(prometheus: &str) -> String {
    format!(
        r#"
[console]
user = "operator"

[web]
public_url = "https://opsbot.example.com"

[cost]
timeout = "5s"
cache_ttl = "5m"
budget_check_interval = "0s"

[[services]]
name = "web"
environment = "prod"
target = {{ kind = "kubernetes", namespace = "shop", deployment = "web", container = "web" }}
max_replicas = 5
budget = {{ daily = 1, weekly = 5, warn_percent = 80, critical_percent = 95, currency = "USD" }}

[[services.health]]
kind = "http"
name = "up"
url = "http://127.0.0.1:9/healthz"

[[services.cost]]
kind = "prometheus"
url = "{prometheus}"
query = "increase(web_cost_usd[1d])"

[roles.admin]
allow = [{{ commands = ["*"] }}]

[roles.approver]
allow = [{{ commands = ["approve", "deny"] }}]

[[bindings]]
role = "admin"
subjects = ["console:operator"]

[[bindings]]
role = "approver"
subjects = ["console:lead"]

[[approvals]]
name = "prod-rollbacks"
commands = ["rollback"]
environments = ["prod"]
approver_roles = ["approver"]
expires = "15m"
"#
    )
}

/// What the last audit entry of a session must say: (decision, outcome).
type Expected = (&'static str, &'static str);

const RAN: Expected = ("allowed", "ok");

/// The lines typed for a successful use of `command` (`{id}`: the pending request of the
/// previous reply), and what its last audit entry must record. Every session ends with
/// something that ran, except `cancel` and `deny`, whose success is that nothing runs.
fn session(command: &str) -> (Vec<(&'static str, &'static str)>, Expected) {
    let op = "operator";
    match command {
        "help" => (vec![(op, "help")], RAN),
        "whoami" => (vec![(op, "whoami")], RAN),
        "services" => (vec![(op, "services")], RAN),
        "audit" => (vec![(op, "audit")], RAN),
        // The check is critical: a red reply, and `health` ran fine.
        "health" => (vec![(op, "health web")], RAN),
        "logs" => (vec![(op, "logs web")], RAN),
        "restart" | "confirm" => (vec![(op, "restart web"), (op, "confirm {id}")], RAN),
        "cancel" => (
            vec![(op, "restart web"), (op, "cancel {id}")],
            ("cancelled", "not_run"),
        ),
        "rollback" | "approve" => (
            vec![
                (op, "rollback web"),
                (op, "confirm {id}"),
                ("lead", "approve {id}"),
            ],
            RAN,
        ),
        "deny" => (
            vec![
                (op, "rollback web"),
                (op, "confirm {id}"),
                ("lead", "deny {id}"),
            ],
            ("rejected", "not_run"),
        ),
        "scale" => (vec![(op, "scale web 3"), (op, "confirm {id}")], RAN),
        // Its record (timeline, a follow-up, the postmortem draft, statistics), then an
        // open critical incident: the listing is red, and it ran fine.
        "incident" => (
            vec![
                (op, "incident timeline 1"),
                (op, "incident followup 1 add a readiness probe to web"),
                (op, "incident postmortem 1"),
                (op, "incident stats --since 7d --service web"),
                (op, "incident list --all"),
            ],
            RAN,
        ),
        "silence" => (vec![(op, "silence web 1h --reason maintenance")], RAN),
        // $2.50 of a $1 budget: red, and it ran fine.
        "cost" => (vec![(op, "cost web")], RAN),
        "runbook" => (vec![(op, "runbook list")], RAN),
        "automation" => (vec![(op, "automation list")], RAN),
        // A one-time sign-in link to the web console (`[web] public_url` is set).
        "web" => (vec![(op, "web")], RAN),
        other => panic!("no session for `{other}`: add one to `session`"),
    }
}

/// Commands whose successful reply here is red: before the outcome came from the
/// command's result, these were audited `failed`.
const RED: &[&str] = &["health", "incident", "cost"];

async fn entries_after(bot: &TestBot, seq: i64) -> Vec<AuditEntry> {
    AuditLog::new(bot.app.store.clone())
        .entries(seq, 1000)
        .await
        .expect("read the audit log")
}

fn pending_id(reply: &Reply) -> String {
    reply
        .buttons
        .iter()
        .find_map(|b| {
            let mut words = b.command.split_whitespace();
            matches!(words.next(), Some("confirm" | "approve"))
                .then(|| words.next().map(str::to_string))
                .flatten()
        })
        .unwrap_or_else(|| {
            panic!(
                "no request to confirm or approve: {}",
                reply.to_plain_text()
            )
        })
}

async fn every_command_that_ran_is_audited_ok(backend: Backend) {
    let fake = FakeCostApis::start("unused", "unused").await;
    fake.set_prometheus_now(Some("2.5"));
    let Some(bot) = TestBot::start_with(
        backend,
        &config(&fake.prometheus_url()),
        "outcomes",
        Probes::Http,
    )
    .await
    else {
        return;
    };
    // An open critical incident on web, from a generic alert.
    let batch = opsbot_alerts::parse_generic(
        br#"{"alerts": [{"name": "WebDown", "severity": "critical", "service": "web",
             "summary": "web answers 503"}]}"#,
    )
    .expect("a generic alert");
    bot.app
        .incidents
        .ingest(&batch, jiff::Timestamp::now())
        .await
        .expect("the alert opens an incident");

    let mut seq = 0;
    let mut checked = Vec::new();
    for spec in bot.app.engine.registry().commands() {
        let command = spec.name;
        let (lines, (decision, outcome)) = session(command);
        let mut reply = Reply::default();
        for (user, line) in lines {
            let text = if line.contains("{id}") {
                line.replace("{id}", &pending_id(&reply))
            } else {
                line.to_string()
            };
            reply = bot.say(user, &text).await;
        }
        if RED.contains(&command) {
            assert_eq!(
                reply.status,
                Status::Danger,
                "`{command}` should report something red here: {}",
                reply.to_plain_text()
            );
        }
        let session_entries = entries_after(&bot, seq).await;
        let last = session_entries
            .last()
            .unwrap_or_else(|| panic!("`{command}` left no audit entry"));
        seq = last.seq;
        assert_eq!(
            (last.record.decision.as_str(), last.record.outcome.as_str()),
            (decision, outcome),
            "`{command}`: {:?}\nreply: {}",
            last.record,
            reply.to_plain_text()
        );
        checked.push(command);
    }
    assert_eq!(checked.len(), COMMANDS.len(), "{checked:?}");

    // The session as `audit` shows it: everything that ran is `ok`.
    let everything = entries_after(&bot, 0).await;
    let ran: Vec<_> = everything
        .iter()
        .filter(|e| e.record.outcome.as_str() != "not_run")
        .map(|e| (e.record.text.clone(), e.record.outcome.as_str()))
        .collect();
    assert!(ran.iter().all(|(_, outcome)| *outcome == "ok"), "{ran:#?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_that_ran_is_audited_ok_sqlite() {
    every_command_that_ran_is_audited_ok(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_that_ran_is_audited_ok_postgres() {
    every_command_that_ran_is_audited_ok(Backend::Postgres).await;
}

/// A runtime that reports the action failed is still `failed`, with the target's account
/// shown: the outcome comes from the result, in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_failed_is_audited_failed() {
    let fake = FakeCostApis::start("unused", "unused").await;
    let text = config(&fake.prometheus_url()).replace("max_replicas = 5\n", "");
    let bot = TestBot::start(Backend::Sqlite, &text, "outcomes_failed")
        .await
        .expect("SQLite always runs");
    // Without `max_replicas` opsbot does not scale web: refused at once, `failed`.
    let reply = bot.say("operator", "scale web 3").await;
    assert_eq!(reply.status, Status::Danger, "{}", reply.to_plain_text());
    let last = entries_after(&bot, 0).await.pop().expect("an audit entry");
    assert_eq!(last.record.outcome.as_str(), "failed", "{:?}", last.record);
    bot.stop().await;
}
