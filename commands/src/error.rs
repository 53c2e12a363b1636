//! How a command's execution can fail, worded for the chat reply.
//!
//! A command's `Ok(reply)` means it ran and did what was asked, whatever the reply's
//! colour (a red "open incidents" listing ran fine); an `Err` means it failed. The audit
//! outcome comes from this, never from the reply's status.

/// A command ran but could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The request was understood but refused or failed; the text says why.
    #[error("{0}")]
    Failed(String),
    /// Something opsbot depends on (a store, a runtime API) could not be reached.
    #[error("{what} is unavailable: {reason}")]
    Unavailable { what: String, reason: String },
    /// The target has no way to do this (no rollback on systemd, for example).
    #[error("{0}")]
    NotSupported(String),
    /// The action ran on its target and the target reported failure; the reply gives its
    /// account (what it said, the target, the runbook) and is shown as it is.
    #[error("{}", .0.summary())]
    ActionFailed(Box<crate::Reply>),
}

/// The incident desk's refusal is the command's failure; its store being unavailable is
/// [`CommandError::Unavailable`].
impl From<crate::context::DeskError> for CommandError {
    fn from(error: crate::context::DeskError) -> Self {
        use crate::context::DeskError;
        match error {
            DeskError::Refused(why) => CommandError::Failed(why),
            DeskError::Unavailable(source) => CommandError::Unavailable {
                what: "the incident store".into(),
                reason: format!("{source}; try again shortly"),
            },
            DeskError::Store(source) => {
                CommandError::Failed(format!("the incident store failed: {source}"))
            }
        }
    }
}
