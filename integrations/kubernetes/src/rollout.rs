//! Following a rollout to its end, like `kubectl rollout status`, but bounded: the
//! deployment is polled until it is rolled out, exceeds its progress deadline, or the
//! configured rollout timeout passes. Each new waiting message goes to [`Progress`].

use std::time::Duration;

use opsbot_commands::context::{ActionReport, Progress};
use tokio::time::Instant;

use crate::{KubeError, RolloutState, rollout_state, session::Session};

/// What was done before following (`restarted`), with kubectl's lines for the details.
pub(crate) struct Done {
    pub summary: String,
    pub details: Vec<String>,
}

/// Follows the deployment's rollout and reports how the action ended.
pub(crate) async fn follow(
    session: &Session<'_>,
    progress: &dyn Progress,
    done: Done,
) -> ActionReport {
    let timeout = session.settings.rollout_timeout;
    let deadline = Instant::now() + timeout;
    let mut last_message = String::new();
    let mut last_error: Option<KubeError>;
    loop {
        match session.get_deployment().await {
            Ok(deployment) => {
                last_error = None;
                let state = rollout_state(&deployment);
                let message = state.message().to_string();
                match state {
                    RolloutState::Complete(_) => {
                        let mut details = done.details;
                        details.push(message.clone());
                        return ActionReport {
                            succeeded: true,
                            summary: format!("{}; {message}", done.summary),
                            details,
                        };
                    }
                    RolloutState::DeadlineExceeded(_) => {
                        let mut details = done.details;
                        details.push(format!("error: {message}"));
                        return ActionReport {
                            succeeded: false,
                            summary: format!("{}, but the rollout failed: {message}", done.summary),
                            details,
                        };
                    }
                    RolloutState::Waiting(_) => {
                        if message != last_message {
                            progress.report(&message);
                            last_message = message;
                        }
                    }
                }
            }
            // Without permission or without the deployment, waiting longer cannot help.
            Err(error @ (KubeError::Forbidden { .. } | KubeError::NotFound { .. })) => {
                let mut details = done.details;
                details.push(format!("error: {error}"));
                return ActionReport {
                    succeeded: false,
                    summary: format!(
                        "{}, but its rollout cannot be followed: {error}",
                        done.summary
                    ),
                    details,
                };
            }
            Err(error) => last_error = Some(error),
        }
        let now = Instant::now();
        if now >= deadline {
            let mut details = done.details;
            let why = match &last_error {
                Some(error) => format!("last error: {error}"),
                None => format!("last status: {last_message}"),
            };
            details.push(format!(
                "error: timed out waiting for the rollout to finish after {}",
                humanize(timeout)
            ));
            details.push(why.clone());
            return ActionReport {
                succeeded: false,
                summary: format!(
                    "{}, but the rollout did not finish within {} ({why})",
                    done.summary,
                    humanize(timeout)
                ),
                details,
            };
        }
        tokio::time::sleep(session.settings.poll_interval.min(deadline - now)).await;
    }
}

fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_millis() != 0 || secs == 0 {
        format!("{}ms", duration.as_millis())
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}
