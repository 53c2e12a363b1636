//! # opsbot
//!
//! The `opsbot` binary's library: it wires the platform-neutral commands of
//! `opsbot-commands` to configuration, RBAC, the audit log, the store, the HTTP server and
//! the console. Adapters translate, commands decide, this crate wires.

pub mod audit;
pub mod config;
pub mod rbac;
pub mod store;
