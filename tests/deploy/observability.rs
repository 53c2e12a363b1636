//! Prometheus rules, the Grafana dashboard, and the metric names they use against what a
//! working opsbot exports.

use super::*;

/// A Prometheus rule file, strictly: a misspelt key fails.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleGroup {
    name: String,
    rules: Vec<AlertRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertRule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("prometheus/rules"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// Every sample name in a Prometheus text exposition (`_total` for counters, `_bucket`,
/// `_sum`, `_count` for histograms), from its `# TYPE` lines.
fn sample_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        match kind {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// A chat platform that fails on purpose: `#permanent` refuses every post, `#flaky`
/// asks for a retry once, anything else is delivered.
struct FailingSink {
    flaky_calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ChatSink for FailingSink {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn post(
        &self,
        channel: &str,
        _thread: Option<&MessageRef>,
        _reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        use std::sync::atomic::Ordering;
        match channel {
            "#permanent" => Err(DeliveryError::Permanent("channel_not_found".into())),
            "#flaky" if self.flaky_calls.fetch_add(1, Ordering::SeqCst) == 0 => {
                Err(DeliveryError::Retry {
                    reason: "ratelimited".into(),
                    retry_after: Some(std::time::Duration::from_millis(10)),
                })
            }
            _ => Ok(MessageRef(format!("{channel}:1"))),
        }
    }

    async fn edit(
        &self,
        _channel: &str,
        _message: &MessageRef,
        _reply: &Reply,
    ) -> Result<(), DeliveryError> {
        Ok(())
    }
}

const METRICS_BOT_CONFIG: &str = r#"
[console]
user = "operator"

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[roles.viewer]
allow = [{ commands = ["help"] }]

[[bindings]]
role = "viewer"
subjects = ["console:operator"]
"#;

/// What opsbot's `/metrics` holds once it has worked: a bot started in-process runs an
/// allowed and a denied command, takes an Alertmanager webhook and a malformed one
/// through its HTTP router, and delivers chat messages through its outbox dispatcher to
/// a platform that asks for a retry and refuses a message. (prometheus-client leaves a
/// labelled family out of the text until it has a series, hence the work.)
async fn exported_metric_names() -> BTreeSet<String> {
    use std::time::Duration;
    use tower::ServiceExt;

    let bot = TestBot::start(TestBackend::Sqlite, METRICS_BOT_CONFIG, "metrics")
        .await
        .expect("SQLite needs no setup");
    bot.say("operator", "help").await;
    bot.say("operator", "audit").await; // denied: viewer may not read the audit log

    let config = config::parse(METRICS_BOT_CONFIG, "test.toml", &|_| None).unwrap();
    let app = &bot.app;
    let router = opsbot::server::router(app.server_state(&config));
    let alert = r#"{"version":"4","groupKey":"{}:{alertname=\"Down\"}","status":"firing",
        "alerts":[{"status":"firing","labels":{"alertname":"Down","job":"x"},"fingerprint":"f1"}]}"#;
    for (body, status) in [(alert, 200), ("{", 400)] {
        let request = axum::http::Request::post("/alerts/alertmanager")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
    }

    let (store, _dir) = opsbot::store::scratch::scratch_sqlite().await;
    let dispatcher = Dispatcher::spawn(
        store.clone(),
        vec![std::sync::Arc::new(FailingSink {
            flaky_calls: Default::default(),
        })],
        DispatcherConfig {
            poll_interval: Duration::from_millis(20),
            ..DispatcherConfig::default()
        },
        app.outbox_metrics.clone(),
    );
    for channel in ["#ok", "#flaky", "#permanent"] {
        let message = OutboxMessage {
            platform: Platform::Slack,
            channel: channel.to_string(),
            thread_key: None,
            operation: Operation::Post,
            lane: Lane::Interactive,
            reply: Reply::info("hello"),
            dedupe_key: format!("metrics-test:{channel}"),
        };
        Outbox::send(&store, &message).await.unwrap();
    }
    let wanted = [
        "opsbot_outbox_delivered_total",
        "opsbot_outbox_retried_total",
        "opsbot_outbox_failed_total",
        "opsbot_chat_api_errors_total",
    ];
    let names = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let names = sample_names(&app.metrics.encode());
            if wanted.iter().all(|name| names.contains(*name)) {
                return names;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the outbox delivered, retried and failed");
    dispatcher.shutdown().await;
    store.close().await;
    bot.stop().await;
    names
}

/// The `opsbot_…` metric names a PromQL expression uses.
fn opsbot_metrics_in(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(start) = rest.find("opsbot_") {
        let boundary = start == 0 || {
            let before = rest.as_bytes()[start - 1];
            !(before.is_ascii_alphanumeric() || before == b'_')
        };
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if boundary {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

fn assert_metrics_exist(context: &str, expr: &str, exported: &BTreeSet<String>) -> usize {
    let used = opsbot_metrics_in(expr);
    for name in &used {
        assert!(
            exported.contains(name),
            "{context} queries {name}, which opsbot does not export (exported: {exported:?})"
        );
    }
    used.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_bot_exports_every_metric_family() {
    let exported = exported_metric_names().await;
    for name in [
        "opsbot_commands_total",
        "opsbot_command_duration_seconds_bucket",
        "opsbot_denials_total",
        "opsbot_audit_writes_total",
        "opsbot_audit_write_failures_total",
        "opsbot_outbox_backlog",
        "opsbot_outbox_delivered_total",
        "opsbot_outbox_retried_total",
        "opsbot_outbox_failed_total",
        "opsbot_outbox_digests_total",
        "opsbot_chat_api_errors_total",
        "opsbot_alert_requests_total",
        "opsbot_alerts_received_total",
        "opsbot_storm_boards_open",
        "opsbot_storm_incidents_folded",
        "opsbot_storm_board_edits_total",
        "opsbot_storm_incidents_unfolded_total",
        "opsbot_storm_drains_total",
    ] {
        assert!(exported.contains(name), "{name} in {exported:?}");
    }
    assert_eq!(
        opsbot_metrics_in("sum(rate(opsbot_a_total[5m])) / x_opsbot_b + opsbot_c"),
        BTreeSet::from(["opsbot_a_total".to_string(), "opsbot_c".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_rules_parse_and_query_existing_metrics() {
    let exported = exported_metric_names().await;
    let mut alerts = BTreeSet::new();
    let mut opsbot_metric_uses = 0;
    for file in rule_files() {
        let rules: RuleFile = read_yaml(&file);
        for group in &rules.groups {
            assert!(!group.name.is_empty());
            for rule in &group.rules {
                assert!(
                    alerts.insert(rule.alert.clone()),
                    "duplicate alert {}",
                    rule.alert
                );
                assert!(!rule.expr.trim().is_empty());
                if let Some(for_) = &rule.for_ {
                    assert!(for_.ends_with('m') || for_.ends_with('s'), "{for_}");
                }
                assert!(
                    matches!(
                        rule.labels.get("severity").map(String::as_str),
                        Some("critical" | "warning")
                    ),
                    "{}: severity critical or warning",
                    rule.alert
                );
                assert!(rule.annotations.contains_key("summary"), "{}", rule.alert);
                opsbot_metric_uses += assert_metrics_exist(&rule.alert, &rule.expr, &exported);
            }
        }
    }
    // The runbook's two and opsbot's own: down, backlog, chat API errors, audit failures.
    for alert in [
        "WrkHrsGatewayDown",
        "HighErrorRate",
        "OpsbotDown",
        "OpsbotOutboxBacklog",
        "OpsbotChatApiErrors",
        "OpsbotAuditWriteFailures",
    ] {
        assert!(alerts.contains(alert), "alert {alert}");
    }
    assert!(opsbot_metric_uses >= 4);

    if !tool_available(
        "promtool",
        "prometheus_rules_parse_and_query_existing_metrics",
    ) {
        return;
    }
    let files = rule_files();
    let mut args: Vec<&Path> = vec![Path::new("check"), Path::new("rules")];
    args.extend(files.iter().map(PathBuf::as_path));
    run_check("promtool", &args);
    let config = deploy_dir().join("prometheus/prometheus.yml");
    run_check(
        "promtool",
        &[Path::new("check"), Path::new("config"), &config],
    );
}

/// The WrkHrs rules are the runbook's (when the runbooks are checked out beside the repo).
#[test]
fn wrkhrs_rules_are_the_runbooks() {
    let runbook =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/runbooks/wrkhrs-ai-stack.md");
    let Ok(text) = std::fs::read_to_string(&runbook) else {
        eprintln!(
            "skipped wrkhrs_rules_are_the_runbooks: no {}",
            runbook.display()
        );
        return;
    };
    let block = text
        .split("```yaml")
        .find(|b| b.contains("- alert:"))
        .and_then(|b| b.split("```").next())
        .expect("the runbook's alerting rules block");
    let from_runbook: Vec<AlertRule> = serde_saphyr::from_str(block).expect("runbook rules");
    let shipped: RuleFile = read_yaml(&deploy_dir().join("prometheus/rules/wrkhrs.yml"));
    let shipped = &shipped.groups[0].rules;
    assert_eq!(shipped.len(), from_runbook.len());
    for (ours, theirs) in shipped.iter().zip(&from_runbook) {
        assert_eq!(ours.alert, theirs.alert);
        assert_eq!(ours.expr, theirs.expr);
        assert_eq!(ours.for_, theirs.for_);
        assert_eq!(ours.labels.get("severity"), theirs.labels.get("severity"));
        assert_eq!(ours.annotations["summary"], theirs.annotations["summary"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_dashboard_queries_only_exported_metrics() {
    let path = deploy_dir().join("grafana/opsbot-dashboard.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("dashboard JSON");
    assert_eq!(dashboard["uid"], "opsbot");
    assert!(dashboard["title"].is_string());
    let datasource_variable = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["type"] == "datasource" && v["name"] == "datasource");
    assert!(
        datasource_variable,
        "a `datasource` variable selects Prometheus"
    );

    let exported = exported_metric_names().await;
    let mut queried = 0;
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().expect("panel title");
        assert!(
            ids.insert(panel["id"].as_i64().expect("panel id")),
            "panel ids unique"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            // Prometheus' own `up` (replicas scraped) is the one non-opsbot series.
            assert!(
                assert_metrics_exist(title, expr, &exported) > 0 || expr.contains("up{"),
                "{title}: `{expr}` queries no opsbot metric"
            );
            queried += 1;
        }
    }
    assert!(queried >= 8, "the dashboard covers opsbot's metrics");
}
