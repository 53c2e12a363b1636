//! # opsbot
//!
//! The `opsbot` binary's library: it wires the platform-neutral commands of
//! `opsbot-commands` to configuration, RBAC, the audit log, the store, the HTTP server and
//! the console. Adapters translate, commands decide, this crate wires.

pub mod app;
pub mod audit;
pub mod automations;
pub mod cli;
#[cfg(test)]
mod command_surfaces;
pub mod config;
pub mod console;
pub mod cost;
pub mod discord;
pub mod engine;
pub mod healthcheck;
pub mod inbox;
pub mod incidents;
pub mod investigator;
pub mod leadership;
pub mod metrics;
pub mod outbox;
pub mod rbac;
pub mod record;
pub mod runbooks;
pub mod runtime;
pub mod server;
pub mod slack;
pub mod store;
pub mod telemetry;
pub mod unavailable;
pub mod web;
