//! [`required_service`]: the service of a command that must have one.

use crate::{CommandError, language::Call};

/// The service a call targets; the parser guarantees it for commands that require one.
pub(super) fn required_service<'c>(call: &Call<'c>) -> Result<&'c crate::Service, CommandError> {
    call.service
        .ok_or_else(|| CommandError::Failed(format!("`{}` needs a service", call.name())))
}
