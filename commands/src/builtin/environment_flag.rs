//! [`wanted_environment`]: the `--env` flag of `services` and `health`, checked against
//! the environments of the catalog.

use crate::{CommandError, Ctx, Environment, language::Call};

/// The `--env` flag, checked against the environments of the catalog.
pub(super) fn wanted_environment(
    call: &Call<'_>,
    ctx: Ctx<'_>,
) -> Result<Option<Environment>, CommandError> {
    let Some(text) = call.text("env") else {
        return Ok(None);
    };
    let env: Environment = text
        .parse()
        .map_err(|e: crate::catalog::NameError| CommandError::Failed(e.to_string()))?;
    if !ctx.catalog.environments().contains(&env) {
        let known: Vec<String> = ctx
            .catalog
            .environments()
            .iter()
            .map(|e| e.to_string())
            .collect();
        return Err(CommandError::Failed(format!(
            "no service is in environment `{env}`; environments: {}",
            known.join(", ")
        )));
    }
    Ok(Some(env))
}
