//! The store: SQLite (embedded default) or PostgreSQL, through sqlx's Any driver.
mod pending_request;
pub use pending_request::{PendingRequest, PendingState};
