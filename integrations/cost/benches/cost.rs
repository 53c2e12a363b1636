//! Benchmark: what a `cost` reply costs besides waiting for the APIs — drawing the chart
//! (7 and 31 days, PNG encoded) and parsing a page of the OpenAI Costs API through the
//! real client against the local fake (180 daily buckets × 20 line items).
//!
//! Run: `cargo bench -p opsbot-cost --bench cost` (env `BENCH_ROUNDS`; `BENCH_CHART_DIR`
//! keeps the drawn charts there, to look at).
//! Not a test: it asserts nothing about time, it reports.

use std::time::{Duration, Instant};

use jiff::civil::{Date, date};
use opsbot_cost::{
    ClientOptions, Credential, Grouping, SpendRange,
    chart::{ChartSpec, render},
    openai::OpenAiCosts,
};
use opsbot_fakes::cost::{FakeCostApis, OpenAiCost};
use rust_decimal::Decimal;

fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: median {:.2} ms, p95 {:.2} ms, min {:.2} ms ({} rounds)",
        ms(samples[samples.len() / 2]),
        ms(samples[(samples.len() - 1) * 95 / 100]),
        ms(samples[0]),
        samples.len()
    );
}

fn chart(days: usize) {
    let series: Vec<(Date, Decimal)> = (0..days)
        .map(|i| {
            (
                date(2026, 10, 1) + jiff::Span::new().days(i as i64),
                Decimal::new(250 + (i as i64 * 37) % 900, 2),
            )
        })
        .collect();
    let spec = ChartSpec {
        title: "alice-openai: daily spend",
        days: &series,
        budget_per_day: Some(Decimal::TEN),
        currency: "USD",
    };
    let png = render(&spec).expect("chart");
    if let Ok(dir) = std::env::var("BENCH_CHART_DIR") {
        let path = std::path::Path::new(&dir).join(format!("chart-{days}-days.png"));
        std::fs::write(&path, &png).expect("write the chart");
        println!("chart written to {}", path.display());
    }
    let mut samples = Vec::new();
    for _ in 0..rounds() {
        let started = Instant::now();
        std::hint::black_box(render(&spec).expect("chart"));
        samples.push(started.elapsed());
    }
    report(
        &format!("chart, {days} days ({} bytes PNG)", png.len()),
        samples,
    );
}

async fn openai_page() {
    let fake = FakeCostApis::start("sk-bench", "sk-ant-bench").await;
    let from = date(2026, 1, 1);
    for day in 0..180 {
        for item in 0..20 {
            fake.add_openai(OpenAiCost {
                day: from + jiff::Span::new().days(day),
                value: 0.001 * f64::from(item + 1),
                line_item: format!("model-{item}, input"),
                project_id: "proj".into(),
            });
        }
    }
    let client = OpenAiCosts::new(ClientOptions::new(
        fake.url(),
        Duration::from_secs(10),
        Credential::Bearer("sk-bench".into()),
    ))
    .expect("client");
    let range = SpendRange {
        from,
        to: from + jiff::Span::new().days(180),
    };
    let mut samples = Vec::new();
    for _ in 0..rounds().min(20) {
        let started = Instant::now();
        let rows = client
            .daily(range, &[], Grouping::LineItem)
            .await
            .expect("costs");
        assert_eq!(rows.len(), 3600);
        samples.push(started.elapsed());
    }
    report(
        "OpenAI Costs API, 180 buckets × 20 line items, fetch + parse",
        samples,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    chart(7);
    chart(31);
    openai_page().await;
}
