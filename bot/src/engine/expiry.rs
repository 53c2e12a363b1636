//! The expiry sweep: requests nobody confirmed or approved in time are marked expired and
//! audited as such, so an abandoned `restart` shows up in the log, not only a used one.

use opsbot_commands::Reply;

use super::{Engine, Trail, Verdict, request_control::requester_invocation};
use crate::{
    audit::{Decision, Outcome},
    store::{PendingState, StoreError},
};

impl Engine {
    /// Expires every open request past its deadline; returns how many it expired.
    pub async fn expire_abandoned(&self) -> Result<usize, StoreError> {
        let store = &self.parts.store;
        let mut expired = 0;
        loop {
            let due = store.due_pending(jiff::Timestamp::now(), 100).await?;
            if due.is_empty() {
                return Ok(expired);
            }
            for pending in due {
                // Compare-and-set: a confirm racing the sweep wins or loses cleanly.
                if !store
                    .transition_pending(
                        &pending.id,
                        pending.state,
                        PendingState::Expired,
                        None,
                        None,
                    )
                    .await?
                {
                    continue;
                }
                expired += 1;
                let invocation = requester_invocation(&pending);
                let trail = Trail::continuing(&invocation, pending.request_id.clone());
                let waiting_for = match pending.state {
                    PendingState::AwaitingApproval => "approval",
                    _ => "confirmation",
                };
                let service = pending
                    .service
                    .as_deref()
                    .and_then(|s| self.parts.catalog.get(s));
                let command = self.parts.registry.find(&pending.command).map(|c| c.name);
                let mut verdict = Verdict::new(Decision::Expired, Outcome::NotRun)
                    .service(service)
                    .reason(format!(
                        "request {} expired waiting for {waiting_for}",
                        pending.id
                    ))
                    .summary(format!("request {}: {}", pending.id, pending.text));
                if let Some(command) = command {
                    verdict = verdict.command(command);
                }
                self.finish(&trail, verdict, Reply::default()).await;
            }
        }
    }
}
