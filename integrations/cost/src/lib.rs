//! # opsbot-cost
//!
//! Where spend comes from, as exact daily amounts: one client per source, each with a
//! configurable base URL, a timeout, credentials passed in (and never logged), pagination
//! followed to the end (with a page cap), and rate limits and server errors reported as
//! a typed, retryable [`CostError`] carrying `Retry-After`.
//!
//! * [`openai::OpenAiCosts`]: the OpenAI organization Costs API (`/v1/organization/costs`).
//! * [`anthropic::AnthropicCosts`]: Anthropic's cost report
//!   (`/v1/organizations/cost_report`; amounts are decimal strings in cents).
//! * [`opencost::OpenCost`]: OpenCost's allocation API (`/allocation`).
//! * [`prometheus::PrometheusSpend`]: a Prometheus query whose value is a day's spend.
//!
//! Every client answers [`DailySpend`] rows (day, exact [`rust_decimal::Decimal`] amount,
//! optional item); [`chart::render`] draws daily spend against a budget line as a PNG.

pub mod amount;
pub mod anthropic;
pub mod chart;
pub mod error;
mod http;
pub mod openai;
pub mod opencost;
pub mod prometheus;
pub mod spend;

pub use error::CostError;
pub use http::{ClientOptions, Credential};
pub use spend::{DailySpend, Grouping, SpendRange};
