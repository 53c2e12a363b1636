//! The web console at `/ui/` (issue 16): server-rendered pages (maud) for incidents, one
//! incident's story with live updates, incident statistics, runbook runs, the audit log
//! and the services (last health and cost results, budgets, rollout history, revisions
//! known good), signed in from chat.
//!
//! Sign-in: the `web` command answers privately with a one-time link
//! ([`sign_in::SignIns`], links and sessions in the store); opening it starts a session
//! cookie as that chat identity ([`session`]). Every page shows and does only what that
//! identity's roles allow for the same commands ([`access`]); every action runs through
//! the engine as the chat command it stands for, via [`Platform::Web`], so it is
//! authorized and audited like chat ([`actions`]); every form carries the session's CSRF
//! token ([`token::csrf`]).
//!
//! This module reads the store (incidents, audit, runbook runs, known-good revisions) and
//! calls the engine; `app.rs` builds it and mounts [`routes`] in the HTTP server when
//! `[web]` is on. It touches no chat adapter.
//!
//! [`Platform::Web`]: opsbot_commands::Platform::Web

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};

use crate::{audit::AuditLog, engine::Engine, incidents::Incidents};

mod access;
mod actions;
mod assets;
mod audit_page;
mod error;
mod events;
mod filters;
mod incident_list;
mod incident_page;
mod incidents_page;
mod layout;
mod runbook_runs_page;
mod service_facts;
mod services_page;
mod session;
mod sign_in;
mod sign_in_pages;
mod stats_page;
mod token;

pub use error::WebError;
pub use sign_in::{Session, SignInError, SignInSettings, SignIns};

/// What the console's handlers share. Cheap to clone.
#[derive(Clone)]
pub struct WebConsole {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    incidents: Incidents,
    sign_ins: SignIns,
    audit: AuditLog,
    /// Whether the session cookie is `Secure` (`public_url` is https).
    secure_cookies: bool,
}

impl WebConsole {
    pub fn new(
        engine: Arc<Engine>,
        incidents: Incidents,
        sign_ins: SignIns,
        secure_cookies: bool,
    ) -> Self {
        let audit = AuditLog::new(engine.store().clone());
        Self {
            inner: Arc::new(Inner {
                engine,
                incidents,
                sign_ins,
                audit,
                secure_cookies,
            }),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn incidents(&self) -> &Incidents {
        &self.inner.incidents
    }

    pub fn sign_ins(&self) -> &SignIns {
        &self.inner.sign_ins
    }

    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    pub fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }
}

/// Every `/ui/` route.
pub fn routes(console: WebConsole) -> Router {
    Router::new()
        .route("/ui", get(sign_in_pages::home))
        .route("/ui/", get(sign_in_pages::home))
        .route("/ui/signin/{token}", get(sign_in_pages::confirm))
        .route(
            "/ui/signin",
            get(sign_in_pages::signed_out).post(sign_in_pages::sign_in),
        )
        .route("/ui/signout", post(sign_in_pages::sign_out))
        .route("/ui/assets/console.css", get(assets::stylesheet))
        .route("/ui/assets/console.js", get(assets::script))
        .route("/ui/incidents", get(incidents_page::list))
        .route("/ui/incidents/{id}", get(incident_page::page))
        .route("/ui/incidents/{id}/live", get(incident_page::live))
        .route("/ui/incidents/{id}/events", get(events::stream))
        .route(
            "/ui/incidents/{id}/{action}",
            get(incident_page::postmortem).post(actions::act),
        )
        .route("/ui/stats", get(stats_page::page))
        .route("/ui/stats/chart.png", get(stats_page::chart))
        .route("/ui/runbooks", get(runbook_runs_page::list))
        .route("/ui/runbooks/{id}", get(runbook_runs_page::page))
        .route("/ui/services", get(services_page::list))
        .route("/ui/services/{name}", get(services_page::page))
        .route("/ui/audit", get(audit_page::search))
        .route("/ui/audit/verify", get(audit_page::verify))
        .route("/ui/audit/export.jsonl", get(audit_page::export))
        .with_state(console)
}
