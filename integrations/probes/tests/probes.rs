//! The HTTP prober against local fake servers written from the documented APIs: health
//! endpoints (plain, JSON, Ollama's `/api/tags`), a slow endpoint, a closed port, and a
//! fake Prometheus `/api/v1/query` answering vector, scalar, empty and error results.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use axum::{Json, Router, extract::Query, http::StatusCode, routing::get};
use opsbot_commands::{
    HumanDuration, Service,
    catalog::{Comparison, HealthCheck, HttpCheck, JsonExpectation, PrometheusCheck},
    context::{CheckOutcome, HealthLevel, Prober},
};
use opsbot_probes::HttpProber;
use serde_json::{Value, json};

async fn prometheus(Query(params): Query<HashMap<String, String>>) -> (StatusCode, Json<Value>) {
    let query = params.get("query").map(String::as_str).unwrap_or_default();
    let vector = |values: &[(&str, &str)]| {
        let result: Vec<Value> = values
            .iter()
            .map(|(instance, v)| json!({"metric": {"instance": instance}, "value": [1_700_000_000.5, v]}))
            .collect();
        json!({"status": "success", "data": {"resultType": "vector", "result": result}})
    };
    match query {
        "latency_ok" => (StatusCode::OK, Json(vector(&[("a", "42.5")]))),
        "latency_warn" => (StatusCode::OK, Json(vector(&[("a", "20"), ("b", "150")]))),
        "latency_critical" => (StatusCode::OK, Json(vector(&[("a", "250")]))),
        "throughput" => (
            StatusCode::OK,
            Json(vector(&[("a", "12000"), ("b", "4000")])),
        ),
        "scalar_one" => (
            StatusCode::OK,
            Json(
                json!({"status": "success", "data": {"resultType": "scalar", "result": [1_700_000_000.5, "1"]}}),
            ),
        ),
        "absent" => (StatusCode::OK, Json(vector(&[]))),
        _ => (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"status": "error", "errorType": "bad_data", "error": format!("1:1: parse error: unexpected character in {query:?}")}),
            ),
        ),
    }
}

/// Starts the fake servers; the address they listen on.
async fn fake_servers() -> SocketAddr {
    let app = Router::new()
        .route("/health", get(|| async { "OK" }))
        .route(
            "/api/health",
            get(|| async { Json(json!({"status": "healthy", "uptime": 12})) }),
        )
        .route(
            "/degraded",
            get(|| async { Json(json!({"status": "degraded"})) }),
        )
        .route(
            "/api/tags",
            get(|| async {
                Json(json!({"models": [
                    {"name": "llama3:8b", "size": 4_661_224_676u64},
                    {"name": "gpt-oss:20b", "size": 13_780_173_839u64},
                ]}))
            }),
        )
        .route(
            "/api/version",
            get(|| async { Json(json!({"version": "0.11.4"})) }),
        )
        .route(
            "/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }),
        )
        .route("/not-json", get(|| async { "<html>hello</html>" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/api/v1/query", get(prometheus));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn service() -> Service {
    Service::new("svc".parse().unwrap(), "prod".parse().unwrap())
}

fn http(url: String) -> HttpCheck {
    HttpCheck {
        name: Some("check".into()),
        url,
        expect_status: 200,
        expect_json: vec![],
        expect_body: None,
        timeout: HumanDuration::from_secs(5),
    }
}

fn expect(path: &str, equals: Option<&str>, contains: Option<&str>) -> JsonExpectation {
    JsonExpectation {
        path: path.into(),
        equals: equals.map(Into::into),
        contains: contains.map(Into::into),
    }
}

fn prom(
    base: String,
    query: &str,
    warn: f64,
    critical: f64,
    comparison: Comparison,
) -> HealthCheck {
    HealthCheck::Prometheus(PrometheusCheck {
        name: query.into(),
        url: base,
        query: query.into(),
        warn,
        critical,
        comparison,
        unit: Some("ms".into()),
        timeout: HumanDuration::from_secs(5),
    })
}

async fn probe(check: HealthCheck) -> CheckOutcome {
    HttpProber::new().unwrap().probe(&service(), &check).await
}

#[tokio::test]
async fn healthy_endpoints() {
    let addr = fake_servers().await;
    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_body: Some("OK".into()),
        ..http(format!("http://{addr}/health"))
    }))
    .await;
    assert_eq!(outcome.level, HealthLevel::Ok, "{outcome:?}");
    assert!(outcome.detail.starts_with("200 in "), "{outcome:?}");
    assert_eq!(outcome.name, "check");

    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_json: vec![expect("status", Some("healthy"), None)],
        ..http(format!("http://{addr}/api/health"))
    }))
    .await;
    assert_eq!(outcome.level, HealthLevel::Ok, "{outcome:?}");

    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_json: vec![expect("models[].name", None, Some("gpt-oss:20b"))],
        ..http(format!("http://{addr}/api/tags"))
    }))
    .await;
    assert_eq!(outcome.level, HealthLevel::Ok, "{outcome:?}");

    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_json: vec![expect("version", None, Some("."))],
        ..http(format!("http://{addr}/api/version"))
    }))
    .await;
    assert_eq!(outcome.level, HealthLevel::Ok, "{outcome:?}");
}

#[tokio::test]
async fn unmet_expectations_are_critical_with_the_reason() {
    let addr = fake_servers().await;
    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_json: vec![expect("status", Some("healthy"), None)],
        ..http(format!("http://{addr}/degraded"))
    }))
    .await;
    assert_eq!(outcome.level, HealthLevel::Critical);
    assert!(
        outcome
            .detail
            .starts_with("`status` is \"degraded\", expected \"healthy\""),
        "{outcome:?}"
    );

    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_json: vec![expect("models[].name", None, Some("mistral:7b"))],
        ..http(format!("http://{addr}/api/tags"))
    }))
    .await;
    assert_eq!(outcome.level, HealthLevel::Critical);
    assert!(
        outcome.detail.contains("llama3:8b, gpt-oss:20b"),
        "{outcome:?}"
    );

    let outcome = probe(HealthCheck::Http(http(format!("http://{addr}/down")))).await;
    assert_eq!(outcome.level, HealthLevel::Critical);
    assert!(
        outcome.detail.starts_with("HTTP 503, expected 200"),
        "{outcome:?}"
    );

    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_json: vec![expect("status", Some("healthy"), None)],
        ..http(format!("http://{addr}/not-json"))
    }))
    .await;
    assert!(outcome.detail.contains("not JSON"), "{outcome:?}");

    let outcome = probe(HealthCheck::Http(HttpCheck {
        expect_body: Some("ready".into()),
        ..http(format!("http://{addr}/health"))
    }))
    .await;
    assert!(outcome.detail.contains("lacks \"ready\""), "{outcome:?}");
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_said_plainly() {
    let addr = fake_servers().await;
    let started = std::time::Instant::now();
    let outcome = probe(HealthCheck::Http(HttpCheck {
        timeout: HumanDuration::from_secs(1),
        ..http(format!("http://{addr}/slow"))
    }))
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.level, HealthLevel::Critical);
    assert_eq!(outcome.detail, "timed out after 1s");

    let port = closed_port().await;
    let outcome = probe(HealthCheck::Http(http(format!(
        "http://127.0.0.1:{port}/health"
    ))))
    .await;
    assert_eq!(outcome.level, HealthLevel::Critical);
    assert_eq!(outcome.detail, "connection refused");

    let outcome = probe(prom(
        format!("http://127.0.0.1:{port}"),
        "up",
        1.0,
        2.0,
        Comparison::Above,
    ))
    .await;
    assert_eq!(outcome.detail, "Prometheus: connection refused");
}

#[tokio::test]
async fn prometheus_thresholds() {
    let addr = fake_servers().await;
    let base = format!("http://{addr}/");
    let outcome = probe(prom(
        base.clone(),
        "latency_ok",
        100.0,
        200.0,
        Comparison::Above,
    ))
    .await;
    assert_eq!(outcome.level, HealthLevel::Ok, "{outcome:?}");
    assert!(
        outcome
            .detail
            .starts_with("42.5 ms (warn ≥ 100 ms, critical ≥ 200 ms)"),
        "{outcome:?}"
    );

    let outcome = probe(prom(
        base.clone(),
        "latency_warn",
        100.0,
        200.0,
        Comparison::Above,
    ))
    .await;
    assert_eq!(outcome.level, HealthLevel::Warning, "{outcome:?}");
    assert!(
        outcome
            .detail
            .starts_with("150 ms ≥ 100 ms (warn), worst of 2 series {instance=\"b\"}"),
        "{outcome:?}"
    );

    let outcome = probe(prom(
        base.clone(),
        "latency_critical",
        100.0,
        200.0,
        Comparison::Above,
    ))
    .await;
    assert_eq!(outcome.level, HealthLevel::Critical, "{outcome:?}");
    assert!(
        outcome.detail.starts_with("250 ms ≥ 200 ms (critical)"),
        "{outcome:?}"
    );

    let outcome = probe(prom(
        base.clone(),
        "throughput",
        10_000.0,
        5_000.0,
        Comparison::Below,
    ))
    .await;
    assert_eq!(outcome.level, HealthLevel::Critical, "{outcome:?}");
    assert!(
        outcome.detail.starts_with("4000 ms ≤ 5000 ms (critical)"),
        "{outcome:?}"
    );

    let outcome = probe(prom(
        base.clone(),
        "scalar_one",
        0.5,
        0.5,
        Comparison::Below,
    ))
    .await;
    assert_eq!(outcome.level, HealthLevel::Ok, "{outcome:?}");

    let outcome = probe(prom(base.clone(), "absent", 1.0, 2.0, Comparison::Above)).await;
    assert_eq!(outcome.level, HealthLevel::Warning, "{outcome:?}");
    assert!(outcome.detail.starts_with("no data"), "{outcome:?}");

    let outcome = probe(prom(base, "rate(", 1.0, 2.0, Comparison::Above)).await;
    assert_eq!(outcome.level, HealthLevel::Critical, "{outcome:?}");
    assert!(
        outcome
            .detail
            .starts_with("Prometheus: query failed (bad_data): 1:1: parse error"),
        "{outcome:?}"
    );
    assert!(
        outcome.detail.contains("rate("),
        "the query reached the server intact: {outcome:?}"
    );
}

#[tokio::test]
async fn unknown_hosts_are_named() {
    let outcome = probe(HealthCheck::Http(http(
        "http://no-such-host.invalid/health".into(),
    )))
    .await;
    assert_eq!(outcome.level, HealthLevel::Critical);
    assert_eq!(
        outcome.detail, "cannot resolve host no-such-host.invalid",
        "{outcome:?}"
    );
}
