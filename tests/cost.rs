//! `cost` end to end: opsbot started on a configuration whose `[cost]` section points at
//! the fake cost APIs of `opsbot-fakes` (OpenAI, Anthropic, OpenCost, Prometheus), with
//! the admin keys read from the environment as `${ENV}` secrets. `cost alice-openai`
//! runs through the engine (RBAC, audit) and the real clients; a failing source is named
//! while the others still count; a second `cost` is answered from the cache; budget
//! checks raise exactly one incident per threshold and period, with the forecast.

use opsbot::{
    config::{self, Config},
    cost::{CostSources, SpendService, budget_alerts},
};
use opsbot_commands::{Status, context::IncidentDesk};
use opsbot_fakes::cost::{Allocation, AnthropicCost, CostApi, FakeCostApis, OpenAiCost};
mod support;
use support::{Backend, TestBot};

const OPENAI_KEY: &str = "sk-admin-e2e";
const ANTHROPIC_KEY: &str = "sk-ant-admin-e2e";

fn config(fake: &FakeCostApis, cache_ttl: &str) -> Config {
    let text = format!(
        r#"
[console]
user = "operator"

[cost]
timeout = "5s"
cache_ttl = "{cache_ttl}"
budget_check_interval = "0s"

[cost.openai]
base_url = "{url}"
api_key = "${{TEST_OPENAI_ADMIN_KEY}}"

[cost.anthropic]
base_url = "{url}"
api_key = "${{TEST_ANTHROPIC_ADMIN_KEY}}"

[cost.opencost]
base_url = "{url}"

[[services]]
name = "alice-openai"
environment = "prod"
runbook = "runbooks/alice-hybrid.md"
target = {{ kind = "none" }}
budget = {{ daily = 10, weekly = 50, warn_percent = 80, critical_percent = 95, currency = "USD" }}

[[services.cost]]
kind = "openai"

[[services.cost]]
kind = "anthropic"
workspace_ids = ["wrkspc_alice"]

[[services.cost]]
kind = "opencost"
namespace = "alice"

[[services.cost]]
kind = "prometheus"
url = "{prometheus}"
query = "increase(openai_api_cost_usd[1d])"

[[services]]
name = "mlflow"
environment = "prod"
target = {{ kind = "none" }}

[roles.finance]
allow = [{{ commands = ["cost", "incident"] }}]

[[bindings]]
role = "finance"
subjects = ["console:operator"]
"#,
        url = fake.url(),
        prometheus = fake.prometheus_url(),
    );
    let env = |name: &str| match name {
        "TEST_OPENAI_ADMIN_KEY" => Some(OPENAI_KEY.to_string()),
        "TEST_ANTHROPIC_ADMIN_KEY" => Some(ANTHROPIC_KEY.to_string()),
        _ => None,
    };
    config::parse(&text, "cost.toml", &env).expect("the test configuration is valid")
}

fn today() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

fn openai(value: f64, line_item: &str) -> OpenAiCost {
    OpenAiCost {
        day: today(),
        value,
        line_item: line_item.into(),
        project_id: "proj_alice".into(),
    }
}

#[tokio::test]
async fn cost_names_a_failed_source_shows_the_others_and_caches() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    fake.add_openai(openai(3.1, "gpt-4o-realtime, input"));
    fake.add_openai(openai(0.9, "gpt-4o-realtime, output"));
    fake.add_allocation(Allocation {
        day: today(),
        namespace: "alice".into(),
        deployment: "voice-gateway".into(),
        total_cost: 1.25,
    });
    fake.set_prometheus_now(Some("2.5"));
    fake.rate_limit_next(CostApi::Anthropic, 30);
    let bot = TestBot::start_real(Backend::Sqlite, config(&fake, "5m"), "cost_e2e")
        .await
        .expect("SQLite always runs");

    let reply = bot.say("operator", "cost alice-openai").await;
    let text = reply.to_plain_text();
    // 4.00 (OpenAI) + 1.25 (OpenCost) + 2.50 (Prometheus); Anthropic failed.
    assert_eq!(
        reply.title, "alice-openai: $7.75 of $10.00 today (78%)",
        "{text}"
    );
    assert_ne!(
        reply.status,
        Status::Success,
        "an incomplete answer is not green"
    );
    assert!(
        text.contains(
            "❌ Source anthropic wrkspc_alice failed: rate limited (429), retry after 30s"
        ),
        "{text}"
    );
    assert!(text.contains("Source openai: $4.00"), "{text}");
    assert!(text.contains("Source opencost alice: $1.25"), "{text}");
    assert!(text.contains("• gpt-4o-realtime, input: $3.10"), "{text}");
    assert!(text.contains("linear run rate"), "{text}");
    assert!(text.contains("Data from"), "{text}");
    let image = reply.attachment.as_ref().expect("a chart is attached");
    assert_eq!(&image.bytes[..4], b"\x89PNG");

    // Again: the cache answers; no API is asked twice.
    let again = bot.say("operator", "cost alice-openai").await;
    assert_eq!(again.title, reply.title);
    assert_eq!(fake.requests(CostApi::OpenAi), 1);
    assert_eq!(fake.requests(CostApi::Anthropic), 1);
    assert_eq!(fake.requests(CostApi::OpenCost), 1);

    // Without a service: every budgeted service (mlflow has none).
    let overview = bot.say("operator", "cost").await;
    assert_eq!(
        overview.title,
        "Spend today of 1 budgeted service: 1 under",
        "{}",
        overview.to_plain_text()
    );
    assert!(overview.lines[0].starts_with("✅ alice-openai: $7.75 of $10.00 (78%)"));
    assert!(overview.lines[0].contains("failed: anthropic wrkspc_alice"));

    // Metrics: each source once, by outcome; two answers from the cache.
    let metrics = bot.app.metrics.encode();
    for series in [
        r#"opsbot_cost_source_requests_total{kind="openai",outcome="ok"} 1"#,
        r#"opsbot_cost_source_requests_total{kind="anthropic",outcome="rate_limited"} 1"#,
        r#"opsbot_cost_source_requests_total{kind="opencost",outcome="ok"} 1"#,
        r#"opsbot_cost_cache_total{result="miss"} 1"#,
        r#"opsbot_cost_cache_total{result="hit"} 2"#,
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from:\n{metrics}"
        );
    }

    // In the console, the chart is saved to a file and the reply says where.
    let images = tempfile::tempdir().unwrap();
    let identity = opsbot::console::ConsoleIdentity {
        user: "operator".into(),
        display_name: "Operator".into(),
        channel: "console".into(),
        image_dir: images.path().to_path_buf(),
    };
    let (output, mut printed) = tokio::io::duplex(1 << 16);
    opsbot::console::Responder::new(bot.app.engine.clone(), identity)
        .run(&b"cost alice-openai --period 7d\n"[..], output, false)
        .await
        .unwrap();
    let mut console_text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut printed, &mut console_text)
        .await
        .unwrap();
    let saved = console_text
        .lines()
        .find_map(|line| line.trim().strip_prefix("saved to "))
        .unwrap_or_else(|| panic!("no saved image in: {console_text}"));
    assert!(
        saved.starts_with(&images.path().display().to_string()),
        "{saved}"
    );
    assert_eq!(&std::fs::read(saved).unwrap()[..4], b"\x89PNG");

    // A service without cost sources says so.
    let refused = bot.say("operator", "cost mlflow").await;
    assert!(
        refused
            .to_plain_text()
            .contains("mlflow has no cost sources"),
        "{}",
        refused.to_plain_text()
    );
    bot.stop().await;
}

#[tokio::test]
async fn budget_checks_raise_one_incident_per_threshold_and_period() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    fake.add_openai(openai(8.5, "gpt-4o-realtime, input"));
    fake.add_anthropic(AnthropicCost {
        day: today(),
        cents: "0.5".into(),
        workspace_id: Some("wrkspc_alice".into()),
        description: "Claude Haiku Usage - Input Tokens".into(),
        model: Some("claude-haiku-4".into()),
    });
    // Cache off, so each check reads the APIs again.
    let bot = TestBot::start_real(Backend::Sqlite, config(&fake, "0s"), "cost_budget")
        .await
        .expect("SQLite always runs");
    let app = &bot.app;
    let now = jiff::Timestamp::now();

    // $8.505 of $10: past 80 %, not 95 %.
    assert_eq!(
        budget_alerts::check(app.costs.as_ref(), &app.incidents, now)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        budget_alerts::check(app.costs.as_ref(), &app.incidents, now)
            .await
            .unwrap()
            .len(),
        0,
        "the warning fires once per period"
    );
    let incidents = app.incidents.list(true, 10).await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].severity, "warning");
    assert_eq!(incidents[0].service.as_deref(), Some("alice-openai"));
    let detail = app.incidents.show(incidents[0].id).await.unwrap().unwrap();
    let alerts = detail.alerts.join("\n");
    assert!(
        alerts.contains("alice-openai spent $8.51 of its $10.00 daily budget"),
        "{alerts}"
    );
    assert!(alerts.contains("forecast $"), "{alerts}");

    // Spend crosses 95 %: the critical threshold fires once, into the same incident.
    fake.add_openai(openai(1.2, "gpt-4o-realtime, output"));
    assert_eq!(
        budget_alerts::check(app.costs.as_ref(), &app.incidents, now)
            .await
            .unwrap()
            .len(),
        1
    );
    // A fresh reader (as after a restart) raises nothing new: the store remembers.
    let fresh = SpendService::new(
        CostSources::from_config(&config(&fake, "0s").cost).unwrap(),
        std::time::Duration::ZERO,
        Default::default(),
    );
    assert_eq!(
        budget_alerts::check(&fresh, &app.incidents, now)
            .await
            .unwrap()
            .len(),
        0
    );
    let incidents = app.incidents.list(true, 10).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].severity, "critical");
    assert_eq!(incidents[0].alerts, 2);

    // The incident is visible in chat like any other.
    let shown = bot
        .say("operator", &format!("incident show {}", incidents[0].id))
        .await;
    assert!(
        shown.to_plain_text().contains("CostBudgetCritical"),
        "{}",
        shown.to_plain_text()
    );
    bot.stop().await;
}
