//! How a runtime's answer becomes a command's answer: [`action_reply`] titles a report
//! after the action (a target reporting failure is [`CommandError::ActionFailed`]), and
//! [`runtime_error`] turns a [`RuntimeError`] into the command's error, a "not supported"
//! one pointing at the service's runbook ([`points_to_runbook`]).

use crate::{
    CommandError, Reply,
    context::{ActionReport, RuntimeError, runbook_pointer},
};

/// Turns a runtime result into a reply titled after the action; an action the target
/// reports as failed is [`CommandError::ActionFailed`], with the same detailed reply.
pub(super) fn action_reply(
    action: &str,
    service: &crate::Service,
    result: Result<ActionReport, RuntimeError>,
) -> Result<Reply, CommandError> {
    match result {
        Ok(report) => {
            let reply = if report.succeeded {
                Reply::success(format!("{action} {}: {}", service.name, report.summary))
            } else {
                Reply::danger(format!(
                    "{action} {} failed: {}",
                    service.name, report.summary
                ))
            };
            let mut reply = reply
                .lines(report.details)
                .field("Target", service.target.describe());
            if let Some(runbook) = &service.runbook {
                reply = reply.field("Runbook", runbook.clone());
            }
            if report.succeeded {
                Ok(reply)
            } else {
                Err(CommandError::ActionFailed(Box::new(reply)))
            }
        }
        Err(error) => Err(runtime_error(service, error)),
    }
}

/// A runtime error as the command's error; "not supported" points at the runbook.
pub(super) fn runtime_error(service: &crate::Service, error: RuntimeError) -> CommandError {
    match error {
        RuntimeError::NotSupported(why) => {
            CommandError::NotSupported(points_to_runbook(service, why))
        }
        RuntimeError::Unreachable { what, reason } => CommandError::Unavailable { what, reason },
        RuntimeError::Refused(why) | RuntimeError::Failed(why) => CommandError::Failed(why),
    }
}

/// `why`, pointing at the service's runbook when the catalog names one and `why` does
/// not already (the docker and systemd runtimes say it themselves through
/// [`RuntimeError::by_hand`]).
pub(super) fn points_to_runbook(service: &crate::Service, why: String) -> String {
    let pointer = runbook_pointer(service);
    if service.runbook.is_none() || why.ends_with(&pointer) {
        why
    } else {
        format!("{why}; {pointer}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::testing;

    /// A target that reports the action failed: the command failed (audited `failed`),
    /// and its reply still shows the target's account.
    #[test]
    fn an_action_the_target_reports_failed_is_an_error_with_its_reply() {
        let service = testing::service("web", "prod", &[]);
        let report = ActionReport {
            succeeded: false,
            summary: "progress deadline exceeded".into(),
            details: vec!["1 of 3 pods ready".into()],
        };
        let Err(CommandError::ActionFailed(reply)) = action_reply("Restart", &service, Ok(report))
        else {
            panic!("a failed action is an error");
        };
        assert_eq!(
            reply.title,
            "Restart web failed: progress deadline exceeded"
        );
        assert_eq!(reply.lines, vec!["1 of 3 pods ready".to_string()]);
        assert!(reply.fields.iter().any(|f| f.name == "Target"));
        assert_eq!(
            CommandError::ActionFailed(reply).to_string(),
            "Restart web failed: progress deadline exceeded: 1 of 3 pods ready"
        );
        let done = ActionReport {
            succeeded: true,
            summary: "rolled out".into(),
            details: vec![],
        };
        assert!(action_reply("Restart", &service, Ok(done)).is_ok());
    }
}
