//! Following a rollout to its end, like `kubectl rollout status`, but bounded: the
//! deployment is read once, then watched (`?watch=true&fieldSelector=metadata.name=NAME`,
//! from the resourceVersion just read) until it is rolled out, exceeds its progress
//! deadline, or the configured rollout timeout passes. Every status change arrives as a
//! watch event, so a rollout that finishes in half a second is reported then, not at the
//! next poll. Each new waiting message goes to [`Progress`].
//!
//! A watch ends for ordinary reasons and is then re-established:
//! * the server closes it after its `timeoutSeconds` (kept below the request timeout, so
//!   the client's read timeout never fires on a quiet watch): watched again from the last
//!   resourceVersion seen (an event's or a bookmark's);
//! * its resourceVersion is too old (`410 Gone`, reason `Expired`): read again, watched
//!   from the fresh resourceVersion;
//! * it fails (connection lost, a 5xx): read again after [`KubernetesSettings::retry_interval`].
//!
//! When the Role grants no `watch` (an opsbot-rbac.yaml from before watches), the
//! deployment is read every `retry_interval` instead, and a warning says what to grant.
//!
//! [`KubernetesSettings::retry_interval`]: crate::KubernetesSettings::retry_interval

use std::time::Duration;

use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{WatchEvent, WatchParams};
use opsbot_commands::context::{ActionReport, Progress};

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
    let mut follower = Follower {
        session,
        progress,
        last_message: String::new(),
        last_error: None,
    };
    let end = tokio::time::timeout(timeout, follower.run()).await;
    let mut details = done.details;
    match end {
        Ok(End::Complete(message)) => {
            details.push(message.clone());
            ActionReport {
                succeeded: true,
                summary: format!("{}; {message}", done.summary),
                details,
            }
        }
        Ok(End::DeadlineExceeded(message)) => {
            details.push(format!("error: {message}"));
            ActionReport {
                succeeded: false,
                summary: format!("{}, but the rollout failed: {message}", done.summary),
                details,
            }
        }
        Ok(End::CannotFollow(error)) => {
            details.push(format!("error: {error}"));
            ActionReport {
                succeeded: false,
                summary: format!(
                    "{}, but its rollout cannot be followed: {error}",
                    done.summary
                ),
                details,
            }
        }
        Err(_elapsed) => {
            let why = match &follower.last_error {
                Some(error) => format!("last error: {error}"),
                None => format!("last status: {}", follower.last_message),
            };
            details.push(format!(
                "error: timed out waiting for the rollout to finish after {}",
                humanize(timeout)
            ));
            details.push(why.clone());
            ActionReport {
                succeeded: false,
                summary: format!(
                    "{}, but the rollout did not finish within {} ({why})",
                    done.summary,
                    humanize(timeout)
                ),
                details,
            }
        }
    }
}

/// How following ended (before the rollout timeout).
enum End {
    Complete(String),
    DeadlineExceeded(String),
    /// Without permission or without the deployment, waiting longer cannot help.
    CannotFollow(KubeError),
}

/// How one watch ended.
enum WatchEnd {
    Finished(End),
    /// The server closed it; resume from this resourceVersion.
    Closed(String),
    /// Its resourceVersion is gone (`410`): read the deployment again.
    Expired,
    /// The Role grants no `watch`.
    Forbidden(KubeError),
    Failed(KubeError),
}

struct Follower<'s, 'a> {
    session: &'s Session<'a>,
    progress: &'s dyn Progress,
    last_message: String,
    last_error: Option<KubeError>,
}

impl Follower<'_, '_> {
    /// Reads, watches, re-reads and re-watches until the rollout ends (the caller bounds
    /// it by the rollout timeout).
    async fn run(&mut self) -> End {
        let retry = self.session.settings.retry_interval;
        let mut may_watch = true;
        loop {
            let deployment = match self.session.get_deployment().await {
                Ok(deployment) => deployment,
                Err(error @ (KubeError::Forbidden { .. } | KubeError::NotFound { .. })) => {
                    return End::CannotFollow(error);
                }
                Err(error) => {
                    self.last_error = Some(error);
                    tokio::time::sleep(retry).await;
                    continue;
                }
            };
            self.last_error = None;
            if let Some(end) = self.observe(&deployment) {
                return end;
            }
            let version = deployment.metadata.resource_version.clone();
            let Some(mut version) = version.filter(|_| may_watch) else {
                tokio::time::sleep(retry).await;
                continue;
            };
            loop {
                match self.watch_from(&version).await {
                    WatchEnd::Finished(end) => return end,
                    WatchEnd::Closed(resume_at) => version = resume_at,
                    WatchEnd::Expired => break,
                    WatchEnd::Forbidden(error) => {
                        tracing::warn!(
                            namespace = %self.session.namespace,
                            %error,
                            "the opsbot Role does not grant `watch` on deployments; following rollouts by polling (grant it, see deploy/kubernetes/opsbot-rbac.yaml)"
                        );
                        may_watch = false;
                        break;
                    }
                    WatchEnd::Failed(error) => {
                        tracing::debug!(%error, "rollout watch failed; reading the deployment again");
                        self.last_error = Some(error);
                        tokio::time::sleep(retry).await;
                        break;
                    }
                }
            }
        }
    }

    /// One watch of the deployment from `version`, until it ends or the rollout does.
    async fn watch_from(&mut self, version: &str) -> WatchEnd {
        let session = self.session;
        let request_timeout = session.settings.request_timeout;
        let params = WatchParams::default()
            .fields(&format!("metadata.name={}", session.deployment))
            .timeout(watch_seconds(request_timeout));
        let api = session.deployments();
        let name = Some(session.deployment.as_str());
        let stream = match session
            .call("watch", "deployments", name, api.watch(&params, version))
            .await
        {
            Ok(stream) => stream,
            Err(error @ KubeError::Forbidden { .. }) => return WatchEnd::Forbidden(error),
            Err(KubeError::Api { code: 410, .. }) => return WatchEnd::Expired,
            Err(error) => return WatchEnd::Failed(error),
        };
        let mut stream = std::pin::pin!(stream);
        let mut version = version.to_string();
        loop {
            let event = match tokio::time::timeout(request_timeout, stream.next()).await {
                Err(_elapsed) => {
                    return WatchEnd::Failed(KubeError::TimedOut {
                        server: session.cluster.server.clone(),
                        verb: "watch",
                        resource: "deployments",
                        after: request_timeout,
                    });
                }
                Ok(None) => return WatchEnd::Closed(version),
                Ok(Some(Err(error))) => {
                    return WatchEnd::Failed(session.error("watch", "deployments", name, error));
                }
                Ok(Some(Ok(event))) => event,
            };
            match event {
                WatchEvent::Added(deployment) | WatchEvent::Modified(deployment) => {
                    if let Some(seen) = &deployment.metadata.resource_version {
                        version.clone_from(seen);
                    }
                    if let Some(end) = self.observe(&deployment) {
                        return WatchEnd::Finished(end);
                    }
                }
                WatchEvent::Deleted(_) => {
                    return WatchEnd::Finished(End::CannotFollow(KubeError::NotFound {
                        resource: "deployments",
                        name: session.deployment.clone(),
                        namespace: session.namespace.clone(),
                    }));
                }
                WatchEvent::Bookmark(bookmark) => version = bookmark.metadata.resource_version,
                WatchEvent::Error(status) if status.code == 410 => return WatchEnd::Expired,
                WatchEvent::Error(status) => {
                    let error = kube::Error::Api(status);
                    return WatchEnd::Failed(session.error("watch", "deployments", name, error));
                }
            }
        }
    }

    /// Reports a new waiting message; the end, when the rollout has ended.
    fn observe(&mut self, deployment: &Deployment) -> Option<End> {
        match rollout_state(deployment) {
            RolloutState::Complete(message) => Some(End::Complete(message)),
            RolloutState::DeadlineExceeded(message) => Some(End::DeadlineExceeded(message)),
            RolloutState::Waiting(message) => {
                if message != self.last_message {
                    self.progress.report(&message);
                    self.last_message = message;
                }
                None
            }
        }
    }
}

/// The `timeoutSeconds` of a watch: just below the request timeout (the client's read
/// timeout), so the server ends a quiet watch before the client gives up on it.
fn watch_seconds(request_timeout: Duration) -> u32 {
    let seconds = request_timeout.as_secs().saturating_sub(1).max(1);
    u32::try_from(seconds).unwrap_or(u32::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_end_before_the_read_timeout() {
        assert_eq!(watch_seconds(Duration::from_secs(30)), 29);
        assert_eq!(watch_seconds(Duration::from_secs(1)), 1);
        assert_eq!(watch_seconds(Duration::from_millis(300)), 1);
    }
}
