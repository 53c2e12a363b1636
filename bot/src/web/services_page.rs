//! `/ui/services`: every service of the catalog (name, environment, runtime) with its
//! last health result and its newest `cost` result next to its budget (both as the audit
//! log recorded them: when, who, decision, outcome, summary; no cost source is called)
//! and its unresolved incidents; `/ui/services/NAME`: one service, with its rollout
//! history (the audited `restart`, `rollback` and `scale` commands, newest first, with
//! their approvers) and the revisions known good (`known_good_revisions`, what
//! `rollback --to last-good` reads, [`KnownGoodRevisions`]). An unknown name answers 404
//! with the known ones.
//!
//! Needs the `services` command; each fact needs what shows it in chat ([`Access`]):
//! audit entries `audit`, incident counts `incident`, the budget `cost` on the service,
//! the known-good revisions `rollback` on the service. The audit is read within a
//! `since` window (30 days unless the form says otherwise), by [`service_facts`].

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use maud::{Markup, html};
use opsbot_commands::{
    Service, builtin::cost_period::money, catalog::Budget, context::GoodRevision,
};
use serde::Deserialize;

use super::{
    WebConsole,
    access::Access,
    error::WebError,
    filters,
    incident_page::time,
    layout,
    service_facts::{self, LAST_COMMANDS, Services, Unresolved},
    session::SignedIn,
};
use crate::{audit::AuditEntry, store::known_good::KnownGoodRevisions};

/// The window the audit is read in when `since` is left empty.
const DEFAULT_WINDOW: &str = "30d";

/// How many entries of a service's rollout history the page shows.
const ROLLOUTS_SHOWN: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct ServicesForm {
    since: Option<String>,
}

impl ServicesForm {
    /// `since` as typed, or the default window (`all` stays `all`).
    fn window(&self) -> String {
        filters::field(&self.since).unwrap_or_else(|| DEFAULT_WINDOW.to_string())
    }

    fn since(&self) -> Result<Option<jiff::Timestamp>, WebError> {
        filters::since(&Some(self.window()), jiff::Timestamp::now())
    }
}

/// The newest `health` and `cost` entries, by (service, command).
type Newest = std::collections::BTreeMap<(String, String), AuditEntry>;

fn newest_of<'a>(newest: &'a Newest, service: &Service, command: &str) -> Option<&'a AuditEntry> {
    newest.get(&(service.name.to_string(), command.to_string()))
}

/// `GET /ui/services`.
pub async fn list(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Query(form): Query<ServicesForm>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.services, "services")?;
    let since = form.since()?;
    let store = console.engine().store();
    let newest = if access.audit {
        let names: Vec<&str> = console
            .engine()
            .catalog()
            .services()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        service_facts::newest_per_service(store, &LAST_COMMANDS, Services::All(&names), since)
            .await?
    } else {
        Newest::new()
    };
    let incidents = if access.incidents {
        service_facts::unresolved_incidents(store).await?
    } else {
        Default::default()
    };
    let policy = console.engine().policy();
    let window = form.window();
    Ok(layout::page(
        "Services",
        access,
        html! {
            (since_form("/ui/services", &form))
            (window_note(access, &form))
            table #services {
                thead { tr {
                    th { "Service" } th { "Environment" } th { "Runtime" }
                    @if access.audit { th { "Last health check" } }
                    th { "Budget" }
                    @if access.incidents { th { "Open incidents" } }
                } }
                tbody {
                    @for service in console.engine().catalog().services() {
                        tr id={ "service-" (service.name) } {
                            td { a href={ "/ui/services/" (service.name) } { (service.name) } }
                            td { (service.environment) }
                            td { (service.target.kind()) }
                            @if access.audit {
                                td.health { (result(newest_of(&newest, service, "health"), &window)) }
                            }
                            td.budget {
                                (budget_cell(access, access.may(policy, "cost", service), service, newest_of(&newest, service, "cost"), &window))
                            }
                            @if access.incidents {
                                td.incidents { (incident_count(service, incidents.get(service.name.as_str()))) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /ui/services/NAME`.
pub async fn page(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path(name): Path<String>,
    Query(form): Query<ServicesForm>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.services, "services")?;
    let catalog = console.engine().catalog();
    let Some(service) = catalog.get(&name) else {
        return Ok(unknown(access, &name, catalog.services()));
    };
    let since = form.since()?;
    let window = form.window();
    let store = console.engine().store();
    let policy = console.engine().policy();
    let name = service.name.as_str();
    let (newest, rollouts) = if access.audit {
        (
            service_facts::newest_per_service(store, &LAST_COMMANDS, Services::One(name), since)
                .await?,
            service_facts::rollouts(store, name, since, ROLLOUTS_SHOWN).await?,
        )
    } else {
        (Newest::new(), Vec::new())
    };
    let incidents = if access.incidents {
        service_facts::unresolved_incidents(store)
            .await?
            .remove(name)
            .or(Some(Unresolved::default()))
    } else {
        None
    };
    let known_good = if access.may(policy, "rollback", service) {
        Some(
            KnownGoodRevisions::new(store.clone())
                .list(name, service.environment.as_str())
                .await?,
        )
    } else {
        None
    };
    let may_cost = access.may(policy, "cost", service);
    Ok(layout::page(
        &format!("Service {name}"),
        access,
        html! {
            (since_form(&format!("/ui/services/{name}"), &form))
            (window_note(access, &form))
            table #service {
                tr { th { "Environment" } td { (service.environment) } }
                tr { th { "Runtime" } td #runtime { (service.target.kind()) span.muted { " — " (service.target.describe()) } } }
                @if !service.description.is_empty() { tr { th { "Description" } td { (service.description) } } }
                @if !service.owners.is_empty() { tr { th { "Owners" } td { (service.owners.join(", ")) } } }
                tr { th { "Health checks" } td { (service.health.len()) } }
                @if let Some(count) = incidents {
                    tr { th { "Open incidents" } td #open-incidents { (incident_count(service, Some(&count))) } }
                }
            }
            @if access.audit {
                h2 { "Last health check" }
                div #last-health { (result(newest_of(&newest, service, "health"), &window)) }
            }
            h2 { "Budget" }
            div #budget { (budget_cell(access, may_cost, service, newest_of(&newest, service, "cost"), &window)) }
            @if access.audit {
                h2 { "Rollout history" }
                @if rollouts.is_empty() {
                    p.muted #rollouts { "No restart, rollback or scale in " (window) "." }
                } @else {
                    (rollouts_table(&rollouts))
                    @if rollouts.len() as i64 == ROLLOUTS_SHOWN {
                        p.muted { "The newest " (ROLLOUTS_SHOWN) " shown; "
                            a href={ "/ui/audit?service=" (name) } { "search the audit log" } " for older ones." }
                    }
                }
            }
            @if let Some(revisions) = &known_good {
                h2 { "Revisions known good" }
                @if revisions.is_empty() {
                    p.muted #known-good { "None yet: a revision is recorded when the health checks after a restart or rollback pass." }
                } @else {
                    (known_good_table(revisions))
                }
            }
        },
    ))
}

/// The 404 of an unknown service: the known ones.
fn unknown(access: &Access, name: &str, services: &[Service]) -> Response {
    let mut response = layout::page(
        "No such service",
        access,
        html! {
            p.error { "There is no service " code { (name) } " in the catalog. The known ones:" }
            ul #known { @for service in services {
                li { a href={ "/ui/services/" (service.name) } { (service.name) } span.muted { " (" (service.environment) ")" } }
            } }
        },
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

fn since_form(action: &str, form: &ServicesForm) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            label { "Since "
                input type="text" name="since" placeholder="30d (default), 7d, all or a time" value=[form.since.as_deref()];
            }
            button type="submit" { "Show" }
        }
    }
}

fn window_note(access: &Access, form: &ServicesForm) -> Markup {
    html! {
        @if !access.audit {
            p.muted { "Health and cost results, and the rollout history, come from the audit log: your roles do not allow `audit`." }
        } @else if filters::field(&form.since).is_none() {
            p.muted #window { "From the audit log of the last " (DEFAULT_WINDOW) "; set Since to `all` for the whole log." }
        }
    }
}

/// An audited result: its summary (else its reason), then when, who, decision, outcome.
fn result(entry: Option<&AuditEntry>, window: &str) -> Markup {
    let Some(entry) = entry else {
        return html! { span.muted { "none in " (window) } };
    };
    let r = &entry.record;
    let said = if r.summary.is_empty() {
        &r.reason
    } else {
        &r.summary
    };
    html! {
        div.result { (said) }
        div.muted {
            (time(r.at)) " · " (r.actor_name) " (" (r.actor_id) ") · " (r.decision.as_str()) " · " (r.outcome.as_str())
            " · " a href={ "/ui/audit?service=" (r.service.as_deref().unwrap_or("")) "&command=" (r.command.as_deref().unwrap_or("")) } { "#" (entry.seq) }
        }
    }
}

/// The budget (with `cost` on the service) and the newest audited `cost` (with `audit`).
fn budget_cell(
    access: &Access,
    may_cost: bool,
    service: &Service,
    newest_cost: Option<&AuditEntry>,
    window: &str,
) -> Markup {
    let Some(budget) = &service.budget else {
        return html! { span.muted { "no budget" } };
    };
    html! {
        @if may_cost {
            div.limits { (budget_text(budget)) }
        } @else {
            div.muted { "budget: needs `cost` on " (service.name) }
        }
        @if access.audit {
            div.last-cost { "Last " code { "cost" } ": " (result(newest_cost, window)) }
        }
    }
}

/// `$100.00 a month, $5.00 a day (warn at 80%, critical at 95%)`.
fn budget_text(budget: &Budget) -> String {
    let currency = budget.currency.as_str();
    let limits: Vec<String> = [
        (budget.monthly, "a month"),
        (budget.weekly, "a week"),
        (budget.daily, "a day"),
    ]
    .into_iter()
    .filter_map(|(amount, per)| amount.map(|a| format!("{} {per}", money(a, currency))))
    .collect();
    let limits = if limits.is_empty() {
        "no limit".to_string()
    } else {
        limits.join(", ")
    };
    format!(
        "{limits} (warn at {}%, critical at {}%)",
        budget.warn_percent, budget.critical_percent
    )
}

fn incident_count(service: &Service, count: Option<&Unresolved>) -> Markup {
    let count = count.copied().unwrap_or_default();
    html! {
        a href={ "/ui/incidents?service=" (service.name) } { (count.total()) }
        @if count.acknowledged > 0 { span.muted { " (" (count.acknowledged) " acknowledged)" } }
    }
}

fn rollouts_table(entries: &[AuditEntry]) -> Markup {
    html! {
        table #rollouts {
            thead { tr { th { "#" } th { "When" } th { "Command" } th { "Who" } th { "Decision" } th { "Outcome" } th { "Result" } } }
            tbody {
                @for entry in entries {
                    @let r = &entry.record;
                    tr {
                        td { (entry.seq) }
                        td { (time(r.at)) }
                        td { (r.command.as_deref().unwrap_or("")) div { code { (r.text) } } }
                        td { (r.actor_name) span.muted { " (" (r.actor_id) ")" } }
                        td { (r.decision.as_str())
                            @if let Some(approver) = &r.approver { span.muted.approver { " approved by " (approver) } }
                            @if !r.reason.is_empty() { div.muted { (r.reason) } } }
                        td { (r.outcome.as_str()) }
                        td { (r.summary) }
                    }
                }
            }
        }
    }
}

fn known_good_table(revisions: &[GoodRevision]) -> Markup {
    html! {
        table #known-good {
            thead { tr { th { "Revision" } th { "Id" } th { "Images" } th { "Passed" } th { "Passed by" } } }
            tbody {
                @for revision in revisions {
                    tr {
                        td { (revision.number) }
                        td { code { (revision.id) } }
                        td { @for image in &revision.images { div { code { (image) } } } }
                        td { (time(revision.passed_at)) }
                        td { (revision.passed_by) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_reads_as_its_limits_and_thresholds() {
        let budget = Budget {
            daily: Some("5".parse().unwrap()),
            weekly: None,
            monthly: Some("100".parse().unwrap()),
            warn_percent: 80,
            critical_percent: 95,
            currency: "USD".into(),
        };
        assert_eq!(
            budget_text(&budget),
            "$100.00 a month, $5.00 a day (warn at 80%, critical at 95%)"
        );
        let euros = Budget {
            daily: None,
            monthly: None,
            currency: "EUR".into(),
            ..budget
        };
        assert_eq!(
            budget_text(&euros),
            "no limit (warn at 80%, critical at 95%)"
        );
    }
}
