//! `/ui/runbooks`: the runbook runs (active first, then the newest) and `/ui/runbooks/ID`,
//! one run with each step's state, what came of it and who answered a manual step.
//! Reads `runbook_runs` through [`crate::runbooks::repo`]; needs the `runbook` command.
//! Starting, aborting and answering runs stays in chat, where the run's thread is.

use axum::{
    extract::{Path, State},
    response::Response,
};
use maud::{Markup, html};

use super::{WebConsole, error::WebError, incident_page::time, layout, session::SignedIn};
use crate::{
    runbooks::repo::{self, RunRow, StepRow},
    store::StoreError,
};

/// How many runs the list shows.
const SHOWN: i64 = 100;

/// `GET /ui/runbooks`.
pub async fn list(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.runbooks, "runbook")?;
    let runs = repo::recent(console.engine().store(), SHOWN).await?;
    Ok(layout::page(
        "Runbook runs",
        access,
        html! {
            @if runs.is_empty() {
                p.muted { "No runbook has run yet." }
            } @else {
                (runs_table(&runs))
                @if runs.len() as i64 == SHOWN {
                    p.muted { "The active runs and the newest ones, " (SHOWN) " in all." }
                }
            }
        },
    ))
}

/// `GET /ui/runbooks/ID`.
pub async fn page(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let access = &signed_in.access;
    access.require(access.runbooks, "runbook")?;
    let mut conn = console
        .engine()
        .store()
        .read_pool()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let Some(run) = repo::run(&mut conn, id).await? else {
        return Err(WebError::NotFound(format!("there is no runbook run {id}")));
    };
    let steps = repo::steps(&mut conn, id).await?;
    drop(conn);
    Ok(layout::page(
        &format!("Run {} of {}", run.id, run.runbook),
        access,
        html! {
            p {
                span.state { (run.state) }
                " · started by " (run.starter.label()) " at " (time(run.started_at))
                " in " (run.platform) " " (run.channel)
            }
            @if !run.params.is_empty() {
                p { "Parameters: " code { (params(&run)) } }
            }
            @if let Some(by) = &run.abort_requested_by {
                p.muted { "Abort requested by " (by) }
            }
            (steps_table(&steps))
        },
    ))
}

fn params(run: &RunRow) -> String {
    run.params
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn runs_table(runs: &[RunRow]) -> Markup {
    html! {
        table.runs {
            thead { tr { th { "#" } th { "Runbook" } th { "State" } th { "Started by" } th { "Started" } th { "Parameters" } } }
            tbody {
                @for run in runs {
                    tr {
                        td { a href={ "/ui/runbooks/" (run.id) } { (run.id) } }
                        td { (run.runbook) }
                        td { (run.state) }
                        td { (run.starter.label()) }
                        td { (time(run.started_at)) }
                        td { code { (params(run)) } }
                    }
                }
            }
        }
    }
}

fn steps_table(steps: &[StepRow]) -> Markup {
    html! {
        table.steps {
            thead { tr { th { "Step" } th { "Kind" } th { "What" } th { "State" } th { "Result" } th { "Answered by" } } }
            tbody {
                @for step in steps {
                    tr {
                        td { (step.position) @if step.rollback { span.muted { " (rollback)" } } }
                        td { (step.kind) }
                        td { (step.description) }
                        td { (step.state) }
                        td { (step.detail) }
                        td { (step.answered_by.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}
