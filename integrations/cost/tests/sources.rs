//! The real source clients against the fake cost APIs of `opsbot-fakes` (written from
//! each API's documentation): parsing, exact amounts, pagination, filters, grouping,
//! empty results, 429 with `Retry-After`, 5xx and bad credentials.

use std::{str::FromStr, time::Duration};

use jiff::civil::{Date, date};
use opsbot_cost::{
    ClientOptions, CostError, Credential, DailySpend, Grouping, SpendRange,
    anthropic::AnthropicCosts, openai::OpenAiCosts, opencost::OpenCost,
    prometheus::PrometheusSpend,
};
use opsbot_fakes::cost::{Allocation, AnthropicCost, CostApi, FakeCostApis, OpenAiCost};
use rust_decimal::Decimal;

const OPENAI_KEY: &str = "sk-admin-test";
const ANTHROPIC_KEY: &str = "sk-ant-admin-test";

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn options(url: &str, credential: Credential) -> ClientOptions {
    ClientOptions::new(url, Duration::from_secs(5), credential)
}

fn november(from: i8, to: i8) -> SpendRange {
    SpendRange {
        from: date(2026, 11, from),
        to: date(2026, 11, to),
    }
}

fn total(rows: &[DailySpend]) -> Decimal {
    rows.iter().map(|r| r.amount).sum()
}

fn openai_cost(day: Date, value: f64, line_item: &str, project: &str) -> OpenAiCost {
    OpenAiCost {
        day,
        value,
        line_item: line_item.into(),
        project_id: project.into(),
    }
}

#[tokio::test]
async fn openai_pages_through_every_bucket_with_exact_amounts() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    fake.set_page_size(2);
    for day in 1..=5 {
        fake.add_openai(openai_cost(
            date(2026, 11, day),
            0.1,
            "gpt-4o, input",
            "proj_alice",
        ));
        fake.add_openai(openai_cost(
            date(2026, 11, day),
            0.2,
            "gpt-4o, output",
            "proj_alice",
        ));
        fake.add_openai(openai_cost(
            date(2026, 11, day),
            5.0,
            "gpt-4o, input",
            "proj_other",
        ));
    }
    let client =
        OpenAiCosts::new(options(fake.url(), Credential::Bearer(OPENAI_KEY.into()))).unwrap();
    let rows = client
        .daily(november(1, 6), &["proj_alice".into()], Grouping::LineItem)
        .await
        .unwrap();
    // Five days over three pages, two line items a day, other projects filtered out.
    assert_eq!(fake.requests(CostApi::OpenAi), 3);
    assert_eq!(rows.len(), 10);
    // 5 × (0.1 + 0.2) is exactly 1.5 (in f64 it is 1.5000000000000002).
    assert_eq!(total(&rows), dec("1.5"));
    assert_eq!(rows[0].day, date(2026, 11, 1));
    assert_eq!(rows[0].item.as_deref(), Some("gpt-4o, input"));
    let first = &fake.queries(CostApi::OpenAi)[0];
    let has = |k: &str, v: &str| first.iter().any(|(a, b)| a == k && b == v);
    assert!(
        has("bucket_width", "1d") && has("group_by", "line_item"),
        "{first:?}"
    );
    assert!(
        has("project_ids", "proj_alice") && has("start_time", "1793491200"),
        "{first:?}"
    );
    assert!(
        fake.queries(CostApi::OpenAi)[1]
            .iter()
            .any(|(k, v)| k == "page" && v == "page_2")
    );

    // By model: line items folded into their model; by project: project ids.
    let by_model = client
        .daily(november(1, 2), &[], Grouping::Model)
        .await
        .unwrap();
    assert!(
        by_model.iter().all(|r| r.item.as_deref() == Some("gpt-4o")),
        "{by_model:?}"
    );
    assert_eq!(total(&by_model), dec("5.3"));
    let by_project = client
        .daily(november(1, 2), &[], Grouping::Project)
        .await
        .unwrap();
    let mut projects: Vec<_> = by_project.iter().filter_map(|r| r.item.clone()).collect();
    projects.sort();
    assert_eq!(projects, ["proj_alice", "proj_other"]);
}

#[tokio::test]
async fn openai_reports_rate_limits_server_errors_bad_keys_and_empty_days() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    let client =
        OpenAiCosts::new(options(fake.url(), Credential::Bearer(OPENAI_KEY.into()))).unwrap();
    let empty = client
        .daily(november(1, 3), &[], Grouping::LineItem)
        .await
        .unwrap();
    assert!(empty.is_empty());

    fake.rate_limit_next(CostApi::OpenAi, 30);
    let error = client
        .daily(november(1, 3), &[], Grouping::LineItem)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CostError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert!(error.is_retryable());

    fake.fail_next(CostApi::OpenAi, 503, None);
    let error = client
        .daily(november(1, 3), &[], Grouping::LineItem)
        .await
        .unwrap_err();
    assert!(
        matches!(error, CostError::Server { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());

    let wrong =
        OpenAiCosts::new(options(fake.url(), Credential::Bearer("sk-wrong".into()))).unwrap();
    let error = wrong
        .daily(november(1, 3), &[], Grouping::LineItem)
        .await
        .unwrap_err();
    assert_eq!(error, CostError::Unauthorized { status: 401 });
    assert!(!error.is_retryable());
    assert!(!error.to_string().contains("sk-wrong"));
}

#[tokio::test]
async fn anthropic_cents_strings_become_exact_dollars_across_pages() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    fake.set_page_size(1);
    let item = |day: i8, cents: &str, workspace: Option<&str>, model: &str| AnthropicCost {
        day: date(2026, 11, day),
        cents: cents.into(),
        workspace_id: workspace.map(String::from),
        description: format!("Claude {model} Usage - Input Tokens"),
        model: Some(model.into()),
    };
    fake.add_anthropic(item(1, "123.45", Some("wrkspc_alice"), "claude-sonnet-4"));
    fake.add_anthropic(item(1, "0.005", Some("wrkspc_alice"), "claude-haiku-4"));
    fake.add_anthropic(item(2, "1000", None, "claude-sonnet-4"));
    fake.add_anthropic(item(3, "99999.99", Some("wrkspc_other"), "claude-opus-4"));
    let client = AnthropicCosts::new(options(
        fake.url(),
        Credential::ApiKey(ANTHROPIC_KEY.into()),
    ))
    .unwrap();
    let rows = client
        .daily(november(1, 4), &[], Grouping::LineItem)
        .await
        .unwrap();
    assert_eq!(fake.requests(CostApi::Anthropic), 3, "one bucket per page");
    // $1.2345 + $0.00005 + $10 + $999.9999, to the last digit.
    assert_eq!(total(&rows), dec("1011.23445"));
    let model = client
        .daily(november(1, 2), &[], Grouping::Model)
        .await
        .unwrap();
    assert!(
        model
            .iter()
            .any(|r| r.item.as_deref() == Some("claude-haiku-4") && r.amount == dec("0.00005"))
    );

    // Workspace filter: the default workspace is `default`.
    let alice = client
        .daily(
            november(1, 4),
            &["wrkspc_alice".into(), "default".into()],
            Grouping::Project,
        )
        .await
        .unwrap();
    assert_eq!(total(&alice), dec("11.23455"));
    let last = fake.queries(CostApi::Anthropic).last().cloned().unwrap();
    assert!(
        last.iter()
            .any(|(k, v)| k == "group_by[]" && v == "workspace_id"),
        "{last:?}"
    );
    assert!(
        last.iter()
            .any(|(k, v)| k == "starting_at" && v.starts_with("2026-11-01T00:00:00")),
        "{last:?}"
    );

    fake.fail_next(CostApi::Anthropic, 529, None);
    let error = client
        .daily(november(1, 2), &[], Grouping::LineItem)
        .await
        .unwrap_err();
    assert!(matches!(error, CostError::Server { status: 529, .. }));
    let wrong =
        AnthropicCosts::new(options(fake.url(), Credential::ApiKey("nope".into()))).unwrap();
    assert_eq!(
        wrong
            .daily(november(1, 2), &[], Grouping::LineItem)
            .await
            .unwrap_err(),
        CostError::Unauthorized { status: 401 }
    );
}

#[tokio::test]
async fn opencost_reads_a_namespace_or_one_deployment_per_day() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    let alloc = |day: i8, ns: &str, dep: &str, cost: f64| Allocation {
        day: date(2026, 11, day),
        namespace: ns.into(),
        deployment: dep.into(),
        total_cost: cost,
    };
    fake.add_allocation(alloc(1, "alice", "voice-gateway", 1.25));
    fake.add_allocation(alloc(1, "alice", "backend", 0.75));
    fake.add_allocation(alloc(2, "alice", "voice-gateway", 2.5));
    fake.add_allocation(alloc(2, "wrkhrs", "gateway", 40.0));
    let client = OpenCost::new(options(fake.url(), Credential::None)).unwrap();
    let namespace = client.daily(november(1, 3), "alice", None).await.unwrap();
    assert_eq!(namespace.len(), 2);
    assert_eq!(namespace[0].amount, dec("2"));
    assert_eq!(namespace[0].item.as_deref(), Some("alice"));
    let deployment = client
        .daily(november(1, 3), "alice", Some("voice-gateway"))
        .await
        .unwrap();
    assert_eq!(total(&deployment), dec("3.75"));
    assert_eq!(deployment[1].item.as_deref(), Some("alice/voice-gateway"));
    let nothing = client.daily(november(1, 3), "ghost", None).await.unwrap();
    assert!(nothing.is_empty());
    fake.rate_limit_next(CostApi::OpenCost, 5);
    assert_eq!(
        client
            .daily(november(1, 3), "alice", None)
            .await
            .unwrap_err()
            .retry_after(),
        Some(Duration::from_secs(5))
    );
}

#[tokio::test]
async fn prometheus_reads_finished_days_at_their_end_and_today_now() {
    let fake = FakeCostApis::start(OPENAI_KEY, ANTHROPIC_KEY).await;
    fake.set_prometheus_day(date(2026, 11, 19), "7.5");
    fake.set_prometheus_day(date(2026, 11, 20), "9.25");
    fake.set_prometheus_now(Some("3.125"));
    let client = PrometheusSpend::new(options("", Credential::None)).unwrap();
    let now: jiff::Timestamp = "2026-11-21T10:00:00Z".parse().unwrap();
    let rows = client
        .daily(
            &fake.prometheus_url(),
            "increase(openai_api_cost_usd[1d])",
            november(19, 22),
            now,
        )
        .await
        .unwrap();
    let days: Vec<(Date, Decimal)> = rows.iter().map(|r| (r.day, r.amount)).collect();
    assert_eq!(
        days,
        [
            (date(2026, 11, 19), dec("7.5")),
            (date(2026, 11, 20), dec("9.25")),
            (date(2026, 11, 21), dec("3.125")),
        ]
    );
    assert_eq!(rows[0].item.as_deref(), Some("{job=\"alice\"}"));
    assert_eq!(
        fake.requests(CostApi::Prometheus),
        2,
        "one range query, one instant query"
    );

    fake.set_prometheus_now(None);
    let today_only = client
        .daily(&fake.prometheus_url(), "q", november(21, 22), now)
        .await
        .unwrap();
    assert!(
        today_only.is_empty(),
        "an empty vector is no spend, not an error"
    );

    fake.fail_next(CostApi::Prometheus, 502, None);
    assert!(matches!(
        client
            .daily(&fake.prometheus_url(), "q", november(19, 22), now)
            .await,
        Err(CostError::Server { status: 502, .. })
    ));
}
