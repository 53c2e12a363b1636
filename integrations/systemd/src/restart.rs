//! `restart` of a unit: subscribe to the manager's `JobRemoved` first, then
//! `RestartUnit(unit, "replace")`, wait (bounded) for that job's `JobRemoved`, and report
//! the unit's state afterwards. A job that ends `failed`, `timeout`, `dependency`, … or a
//! unit that ends `failed` is a failed report.

use std::time::Duration;

use futures_util::StreamExt;
use opsbot_commands::context::{ActionReport, Progress, RuntimeError};

use crate::{
    bus::Bus,
    interfaces::ManagerProxy,
    unit::{UnitState, read_state},
};

/// How waiting for the job ended.
enum JobEnd {
    Removed(String),
    TimedOut,
}

pub async fn restart(
    bus: &Bus,
    job_timeout: Duration,
    unit: &str,
    progress: &dyn Progress,
) -> Result<ActionReport, RuntimeError> {
    let connection = bus.connect().await?;
    let fail = |e| bus.error(Some(unit), e);
    let manager = bus
        .bounded(
            "opening the systemd manager",
            ManagerProxy::new(&connection),
        )
        .await?
        .map_err(fail)?;
    // Subscribe before the call, so the job cannot end unseen. systemd only emits job
    // signals while some client is subscribed; an error here (already subscribed) is not
    // fatal: RestartUnit below reports a missing manager or a denial clearly.
    let _ = bus.bounded("Subscribe", manager.subscribe()).await?;
    let mut removed = bus
        .bounded("subscribing to JobRemoved", manager.receive_job_removed())
        .await?
        .map_err(fail)?;
    progress.report(&format!("restarting systemd unit {unit}"));
    let job = bus
        .bounded("RestartUnit", manager.restart_unit(unit, "replace"))
        .await?
        .map_err(fail)?;
    progress.report(&format!(
        "systemd queued job {job} for {unit}; waiting for it to finish"
    ));
    let waited = tokio::time::timeout(job_timeout, async {
        while let Some(signal) = removed.next().await {
            if let Ok(args) = signal.args()
                && args.job.as_str() == job.as_str()
            {
                return Some(args.result.to_string());
            }
        }
        None
    })
    .await;
    let end = match waited {
        Ok(Some(result)) => JobEnd::Removed(result),
        Ok(None) => {
            return Err(RuntimeError::Unreachable {
                what: bus.label(),
                reason: format!("the connection closed while job {job} for {unit} ran"),
            });
        }
        Err(_) => JobEnd::TimedOut,
    };
    let state = read_state(bus, &connection, &manager, unit).await?;
    Ok(report(unit, job.as_str(), &end, &state, job_timeout))
}

fn report(
    unit: &str,
    job: &str,
    end: &JobEnd,
    state: &UnitState,
    job_timeout: Duration,
) -> ActionReport {
    let mut details = Vec::new();
    let job_line = match end {
        JobEnd::Removed(result) => format!("job {job} ended: {result}"),
        JobEnd::TimedOut => format!(
            "job {job} did not finish within {}s (job timeout); systemd may still be running it",
            job_timeout.as_secs()
        ),
    };
    details.push(job_line);
    details.push(format!(
        "ActiveState {}, SubState {}",
        state.active, state.sub
    ));
    details.extend(state.result_line());
    let job_ok = matches!(end, JobEnd::Removed(result) if result == "done");
    if job_ok && !state.has_failed() {
        return ActionReport {
            succeeded: true,
            summary: format!("restarted systemd unit {unit}: {}", state.describe()),
            details,
        };
    }
    details.push(format!("read `journalctl -u {unit}` on its host for why"));
    let why = match end {
        JobEnd::Removed(result) if result != "done" => format!("job {result}"),
        JobEnd::TimedOut => "job timed out".to_string(),
        JobEnd::Removed(_) => "unit failed".to_string(),
    };
    ActionReport {
        succeeded: false,
        summary: format!(
            "restart of systemd unit {unit} failed ({why}): {}",
            state.describe()
        ),
        details,
    }
}
