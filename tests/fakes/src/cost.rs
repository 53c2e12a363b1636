//! Fake cost APIs on one `127.0.0.1:0` server, written from each API's public reference:
//!
//! * OpenAI `GET /v1/organization/costs` (bearer admin key): daily buckets between
//!   `start_time` and `end_time` (Unix seconds), `project_ids` filter, `group_by`
//!   `project_id`/`line_item` (results merged by the requested fields, others `null`),
//!   `limit` buckets per page, `page` cursor from `next_page`, `has_more`.
//! * Anthropic `GET /v1/organizations/cost_report` (`x-api-key`, `anthropic-version`):
//!   buckets between `starting_at` and `ending_at` (RFC 3339), `group_by[]`
//!   `workspace_id`/`description`, amounts as decimal strings in cents, paging as above.
//! * OpenCost `GET /allocation?window=START,END&aggregate=…&step=1d&accumulate=false`:
//!   `{"code":200,"data":[{NAME:{"name","start","end","totalCost",…}},…]}`, one set a day.
//! * Prometheus `GET /prometheus/api/v1/query_range` (matrix, one point a day at each
//!   day's end) and `/prometheus/api/v1/query` (vector at `time`).
//!
//! Each API can be told to fail its next requests (429 with `Retry-After`, or any
//! status), its page size can be made small to force pagination, and every request is
//! counted, so tests can see a cache at work.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    str::FromStr,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jiff::{Timestamp, civil::Date, tz::TimeZone};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Which fake API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CostApi {
    OpenAi,
    Anthropic,
    OpenCost,
    Prometheus,
}

/// One OpenAI cost result: a day, an amount (as JSON writes it), line item, project.
#[derive(Clone, Debug)]
pub struct OpenAiCost {
    pub day: Date,
    pub value: f64,
    pub line_item: String,
    pub project_id: String,
}

/// One Anthropic cost item: the amount is in cents, as a decimal string.
#[derive(Clone, Debug)]
pub struct AnthropicCost {
    pub day: Date,
    pub cents: String,
    pub workspace_id: Option<String>,
    pub description: String,
    pub model: Option<String>,
}

/// One OpenCost allocation of a day.
#[derive(Clone, Debug)]
pub struct Allocation {
    pub day: Date,
    pub namespace: String,
    pub deployment: String,
    pub total_cost: f64,
}

/// A scripted failure: status, `Retry-After` seconds, body.
#[derive(Clone, Debug)]
struct Failure {
    status: u16,
    retry_after: Option<u64>,
}

#[derive(Default)]
struct Data {
    openai_key: String,
    anthropic_key: String,
    openai: Vec<OpenAiCost>,
    anthropic: Vec<AnthropicCost>,
    allocations: Vec<Allocation>,
    /// Prometheus: a day's value (at the day's end), and the instant value.
    prometheus_days: BTreeMap<Date, String>,
    prometheus_now: Option<String>,
    page_size: Option<usize>,
    failures: HashMap<CostApi, VecDeque<Failure>>,
    requests: HashMap<CostApi, usize>,
    /// Query strings received, per API, in order.
    queries: HashMap<CostApi, Vec<Vec<(String, String)>>>,
}

type Shared = Arc<Mutex<Data>>;

/// The fake cost APIs; stops when dropped.
pub struct FakeCostApis {
    url: String,
    data: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeCostApis {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeCostApis {
    /// Starts the fake; OpenAI wants `Bearer {openai_key}`, Anthropic `x-api-key:
    /// {anthropic_key}`.
    pub async fn start(openai_key: &str, anthropic_key: &str) -> Self {
        let data: Shared = Arc::new(Mutex::new(Data {
            openai_key: openai_key.into(),
            anthropic_key: anthropic_key.into(),
            ..Data::default()
        }));
        let app = Router::new()
            .route("/v1/organization/costs", get(openai))
            .route("/v1/organizations/cost_report", get(anthropic))
            .route("/allocation", get(opencost))
            .route("/prometheus/api/v1/query_range", get(prometheus_range))
            .route("/prometheus/api/v1/query", get(prometheus_instant))
            .with_state(data.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake cost APIs");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, data, server }
    }

    /// `http://127.0.0.1:PORT`: the base URL of OpenAI, Anthropic and OpenCost.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The Prometheus server's URL (`…/prometheus`).
    pub fn prometheus_url(&self) -> String {
        format!("{}/prometheus", self.url)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.data.lock().expect("fake cost data"))
    }

    pub fn add_openai(&self, cost: OpenAiCost) {
        self.with(|d| d.openai.push(cost));
    }

    pub fn add_anthropic(&self, cost: AnthropicCost) {
        self.with(|d| d.anthropic.push(cost));
    }

    pub fn add_allocation(&self, allocation: Allocation) {
        self.with(|d| d.allocations.push(allocation));
    }

    /// The value `query_range` answers at the end of `day`.
    pub fn set_prometheus_day(&self, day: Date, value: &str) {
        self.with(|d| d.prometheus_days.insert(day, value.into()));
    }

    /// The value an instant query answers (`None`: an empty vector).
    pub fn set_prometheus_now(&self, value: Option<&str>) {
        self.with(|d| d.prometheus_now = value.map(String::from));
    }

    /// At most this many buckets per page, whatever `limit` asks.
    pub fn set_page_size(&self, size: usize) {
        self.with(|d| d.page_size = Some(size));
    }

    /// The next request to `api` answers 429 with `Retry-After: seconds`.
    pub fn rate_limit_next(&self, api: CostApi, seconds: u64) {
        self.fail_next(api, 429, Some(seconds));
    }

    /// The next request to `api` answers `status`.
    pub fn fail_next(&self, api: CostApi, status: u16, retry_after: Option<u64>) {
        self.with(|d| {
            d.failures.entry(api).or_default().push_back(Failure {
                status,
                retry_after,
            })
        });
    }

    /// Every later request to `api` fails with `status` (until [`Self::recover`]).
    pub fn fail_always(&self, api: CostApi, status: u16) {
        self.with(|d| {
            let queue = d.failures.entry(api).or_default();
            queue.clear();
            for _ in 0..1000 {
                queue.push_back(Failure {
                    status,
                    retry_after: None,
                });
            }
        });
    }

    pub fn recover(&self, api: CostApi) {
        self.with(|d| d.failures.remove(&api));
    }

    /// Requests `api` received so far.
    pub fn requests(&self, api: CostApi) -> usize {
        self.with(|d| d.requests.get(&api).copied().unwrap_or(0))
    }

    /// The query strings `api` received, in order.
    pub fn queries(&self, api: CostApi) -> Vec<Vec<(String, String)>> {
        self.with(|d| d.queries.get(&api).cloned().unwrap_or_default())
    }
}

/// Counts the request and answers a scripted failure, if one is due.
fn begin(data: &Shared, api: CostApi, query: &[(String, String)]) -> Option<Response> {
    let mut d = data.lock().expect("fake cost data");
    *d.requests.entry(api).or_default() += 1;
    d.queries.entry(api).or_default().push(query.to_vec());
    let failure = d.failures.get_mut(&api)?.pop_front()?;
    let mut response = (
        StatusCode::from_u16(failure.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(json!({"error": {"message": "scripted failure", "type": "fake"}})),
    )
        .into_response();
    if let Some(seconds) = failure.retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            seconds.to_string().parse().expect("header"),
        );
    }
    Some(response)
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
    )
        .into_response()
}

fn param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn params<'q>(query: &'q [(String, String)], name: &str) -> Vec<&'q str> {
    query
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn day_of(at: Timestamp) -> Date {
    at.to_zoned(TimeZone::UTC).date()
}

fn midnight(day: Date) -> Timestamp {
    day.to_zoned(TimeZone::UTC).expect("midnight").timestamp()
}

/// Days `from..to`.
fn days(from: Date, to: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let mut day = from;
    while day < to {
        out.push(day);
        day = day.tomorrow().expect("tomorrow");
    }
    out
}

/// Cuts `buckets` into a page starting at the `page` cursor (`page_N`).
fn paginate(
    buckets: Vec<Value>,
    query: &[(String, String)],
    default_limit: usize,
    page_size: Option<usize>,
) -> Result<Value, Box<Response>> {
    let limit = match param(query, "limit") {
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| Box::new(bad_request("limit must be a number")))?,
        None => default_limit,
    };
    let size = page_size.map_or(limit, |p| p.min(limit)).max(1);
    let start = match param(query, "page") {
        Some(cursor) => cursor
            .strip_prefix("page_")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| Box::new(bad_request("invalid page cursor")))?,
        None => 0,
    };
    let end = (start + size).min(buckets.len());
    let has_more = end < buckets.len();
    Ok(json!({
        "data": buckets.get(start.min(buckets.len())..end).unwrap_or_default(),
        "has_more": has_more,
        "next_page": if has_more { Value::from(format!("page_{end}")) } else { Value::Null },
    }))
}

async fn openai(
    State(data): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(failure) = begin(&data, CostApi::OpenAi, &query) {
        return failure;
    }
    let (key, costs, page_size) = {
        let d = data.lock().expect("fake cost data");
        (d.openai_key.clone(), d.openai.clone(), d.page_size)
    };
    let expected = format!("Bearer {key}");
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})),
        )
            .into_response();
    }
    let Some(start) = param(&query, "start_time").and_then(|s| s.parse::<i64>().ok()) else {
        return bad_request("start_time is required");
    };
    let start = day_of(Timestamp::from_second(start).expect("start"));
    let end = param(&query, "end_time")
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(start.tomorrow().expect("day"), |s| {
            day_of(Timestamp::from_second(s).expect("end"))
        });
    let group_by = params(&query, "group_by");
    let projects = params(&query, "project_ids");
    let mut buckets = Vec::new();
    for day in days(start, end) {
        // Merge by the requested fields; the others are null.
        let mut merged: BTreeMap<(Option<String>, Option<String>), f64> = BTreeMap::new();
        for cost in costs.iter().filter(|c| c.day == day) {
            if !projects.is_empty() && !projects.contains(&cost.project_id.as_str()) {
                continue;
            }
            let key = (
                group_by
                    .contains(&"line_item")
                    .then(|| cost.line_item.clone()),
                group_by
                    .contains(&"project_id")
                    .then(|| cost.project_id.clone()),
            );
            *merged.entry(key).or_default() += cost.value;
        }
        let results: Vec<Value> = merged
            .into_iter()
            .map(|((line_item, project_id), value)| {
                json!({
                    "object": "organization.costs.result",
                    "amount": {"value": value, "currency": "usd"},
                    "line_item": line_item,
                    "project_id": project_id,
                })
            })
            .collect();
        buckets.push(json!({
            "object": "bucket",
            "start_time": midnight(day).as_second(),
            "end_time": midnight(day.tomorrow().expect("day")).as_second(),
            "results": results,
        }));
    }
    match paginate(buckets, &query, 7, page_size) {
        Ok(mut page) => {
            page["object"] = json!("page");
            Json(page).into_response()
        }
        Err(response) => *response,
    }
}

async fn anthropic(
    State(data): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(failure) = begin(&data, CostApi::Anthropic, &query) {
        return failure;
    }
    let (key, costs, page_size) = {
        let d = data.lock().expect("fake cost data");
        (d.anthropic_key.clone(), d.anthropic.clone(), d.page_size)
    };
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(key.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        )
            .into_response();
    }
    if headers.get("anthropic-version").is_none() {
        return bad_request("anthropic-version header is required");
    }
    let parse = |name: &str| {
        param(&query, name)
            .and_then(|t| Timestamp::from_str(t).ok())
            .map(day_of)
    };
    let Some(start) = parse("starting_at") else {
        return bad_request("starting_at is required (RFC 3339)");
    };
    let end = parse("ending_at").unwrap_or(start.tomorrow().expect("day"));
    let group_by = params(&query, "group_by[]");
    let by_workspace = group_by.contains(&"workspace_id");
    let by_description = group_by.contains(&"description");
    let mut buckets = Vec::new();
    for day in days(start, end) {
        type Key = (Option<Option<String>>, Option<(String, Option<String>)>);
        let mut merged: BTreeMap<Key, Decimal> = BTreeMap::new();
        for cost in costs.iter().filter(|c| c.day == day) {
            let key = (
                by_workspace.then(|| cost.workspace_id.clone()),
                by_description.then(|| (cost.description.clone(), cost.model.clone())),
            );
            *merged.entry(key).or_default() +=
                Decimal::from_str(&cost.cents).expect("scripted cents are decimals");
        }
        let results: Vec<Value> = merged
            .into_iter()
            .map(|((workspace, description), cents)| {
                let (description, model) = match description {
                    Some((d, m)) => (Some(d), m),
                    None => (None, None),
                };
                json!({
                    "amount": cents.to_string(),
                    "currency": "USD",
                    "workspace_id": workspace.flatten(),
                    "description": description,
                    "model": model,
                    "cost_type": if by_description { json!("tokens") } else { Value::Null },
                    "context_window": Value::Null,
                    "service_tier": Value::Null,
                    "token_type": Value::Null,
                })
            })
            .collect();
        buckets.push(json!({
            "starting_at": midnight(day).to_string(),
            "ending_at": midnight(day.tomorrow().expect("day")).to_string(),
            "results": results,
        }));
    }
    match paginate(buckets, &query, 7, page_size) {
        Ok(page) => Json(page).into_response(),
        Err(response) => *response,
    }
}

async fn opencost(
    State(data): State<Shared>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(failure) = begin(&data, CostApi::OpenCost, &query) {
        return failure;
    }
    let allocations = data.lock().expect("fake cost data").allocations.clone();
    let Some((start, end)) = param(&query, "window").and_then(|w| w.split_once(',')) else {
        return bad_request("window must be START,END");
    };
    let (Ok(start), Ok(end)) = (Timestamp::from_str(start), Timestamp::from_str(end)) else {
        return bad_request("window times must be RFC 3339");
    };
    if param(&query, "step") != Some("1d") {
        return bad_request("this fake serves step=1d only");
    }
    let aggregate = param(&query, "aggregate").unwrap_or("namespace");
    let mut sets = Vec::new();
    for day in days(day_of(start), day_of(end)) {
        let mut set: BTreeMap<String, Value> = BTreeMap::new();
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        for a in allocations.iter().filter(|a| a.day == day) {
            let name = match aggregate {
                "namespace" => a.namespace.clone(),
                "deployment" => a.deployment.clone(),
                "namespace,deployment" => format!("{}/{}", a.namespace, a.deployment),
                _ => return bad_request("unsupported aggregate"),
            };
            *totals.entry(name).or_default() += a.total_cost;
        }
        for (name, total) in totals {
            set.insert(
                name.clone(),
                json!({
                    "name": name,
                    "start": midnight(day).to_string(),
                    "end": midnight(day.tomorrow().expect("day")).to_string(),
                    "cpuCost": total * 0.6,
                    "ramCost": total * 0.4,
                    "totalCost": total,
                }),
            );
        }
        sets.push(json!(set));
    }
    Json(json!({"code": 200, "status": "success", "data": sets})).into_response()
}

async fn prometheus_range(
    State(data): State<Shared>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(failure) = begin(&data, CostApi::Prometheus, &query) {
        return failure;
    }
    let days_data = data.lock().expect("fake cost data").prometheus_days.clone();
    let number = |name: &str| param(&query, name).and_then(|t| t.parse::<f64>().ok());
    let (Some(start), Some(end), Some(step)) = (number("start"), number("end"), number("step"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": "start, end and step are required"})),
        )
            .into_response();
    };
    let mut values = Vec::new();
    let mut at = start;
    while at <= end {
        let end_of = day_of(Timestamp::from_second(at as i64).expect("time"))
            .yesterday()
            .expect("day");
        if let Some(value) = days_data.get(&end_of) {
            values.push(json!([at, value]));
        }
        at += step;
    }
    let result = if values.is_empty() {
        json!([])
    } else {
        json!([{"metric": {"job": "alice"}, "values": values}])
    };
    Json(json!({"status": "success", "data": {"resultType": "matrix", "result": result}}))
        .into_response()
}

async fn prometheus_instant(
    State(data): State<Shared>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(failure) = begin(&data, CostApi::Prometheus, &query) {
        return failure;
    }
    let now = data.lock().expect("fake cost data").prometheus_now.clone();
    let time = param(&query, "time")
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0);
    let result = match now {
        Some(value) => json!([{"metric": {"job": "alice"}, "value": [time, value]}]),
        None => json!([]),
    };
    Json(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
        .into_response()
}
