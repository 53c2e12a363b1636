//! [`Automations`] as the `automation` command's [`AutomationDesk`]: the kill switch
//! (`pause`/`resume`, kept in the store so every replica and a restart see it) and the
//! list of automations with whether each is paused.

use async_trait::async_trait;
use opsbot_commands::{
    Invocation,
    automations::{AutomationDesk, AutomationView},
};

use super::{Automations, ledger};
use crate::config::automations::{AutomationConfig, Trigger};

fn unavailable(error: crate::store::StoreError) -> String {
    format!("the store is unavailable ({error}); nothing was done")
}

/// What starts `a` and its guardrails, in a few words.
fn summary(a: &AutomationConfig) -> String {
    let on = match a.on {
        Trigger::Incident if a.alerts.is_empty() => "any incident".to_string(),
        Trigger::Incident => format!("incidents of {}", a.alerts.join(", ")),
        Trigger::Budget => "budget thresholds".to_string(),
    };
    let services = if a.services.is_empty() {
        "any service".to_string()
    } else {
        a.services.join(", ")
    };
    format!(
        "→ runbook `{}` on {on} for {services} (at most {} per {}, cooldown {})",
        a.runbook,
        a.max_runs,
        humantime::format_duration(a.window.0),
        humantime::format_duration(a.cooldown.0),
    )
}

#[async_trait]
impl AutomationDesk for Automations {
    async fn pause(&self, name: Option<&str>, invocation: &Invocation) -> Result<String, String> {
        let name = self.known(name)?;
        let by = invocation.actor.label();
        let done = ledger::pause(self.store(), name, &by)
            .await
            .map_err(unavailable)?;
        Ok(match (name == ledger::ALL, done) {
            (true, true) => "every automation is paused".to_string(),
            (true, false) => "every automation was already paused".to_string(),
            (false, true) => format!("automation `{name}` is paused"),
            (false, false) => format!("automation `{name}` was already paused"),
        })
    }

    async fn resume(&self, name: Option<&str>, _invocation: &Invocation) -> Result<String, String> {
        let name = self.known(name)?;
        let done = ledger::resume(self.store(), name)
            .await
            .map_err(unavailable)?;
        if name == ledger::ALL {
            return Ok(if done {
                "every automation acts again".to_string()
            } else {
                "no automation was paused".to_string()
            });
        }
        // A pause of every automation still holds this one back: say so.
        let still = ledger::paused(self.store(), name)
            .await
            .map_err(unavailable)?;
        Ok(match (done, still) {
            (_, Some(why)) => format!(
                "automation `{name}` is still held back: {why} (`automation resume` lifts that)"
            ),
            (true, None) => format!("automation `{name}` acts again"),
            (false, None) => format!("automation `{name}` was not paused"),
        })
    }

    async fn list(&self) -> Result<Vec<AutomationView>, String> {
        let pauses = ledger::pauses(self.store())
            .await
            .map_err(|e| format!("the store is unavailable ({e})"))?;
        let all = pauses.iter().find(|(n, _)| n == ledger::ALL);
        Ok(self
            .configs()
            .iter()
            .map(|a| AutomationView {
                name: a.name.clone(),
                summary: summary(a),
                paused_by: pauses
                    .iter()
                    .find(|(n, _)| *n == a.name)
                    .or(all)
                    .map(|(_, by)| by.clone()),
            })
            .collect())
    }
}
