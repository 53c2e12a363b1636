//! What opsbot does with an interaction, whichever way it arrived (HTTP endpoint or
//! gateway): the immediate answer Discord needs within 3 seconds, and the work that
//! follows it.
//!
//! * PING → PONG.
//! * A slash command or a button press → "deferred" at once; then the engine runs the
//!   command (parse, RBAC with the user id and guild role ids, confirmation, approval,
//!   execution, audit) and its reply is queued in the outbox (interactive lane) for the
//!   interaction's `interaction:TOKEN` target, which edits the deferred response; replies
//!   are group-committed (one transaction for all waiting, [`ReplyQueue`]). Only
//!   after the answer has left may the work start (the HTTP body, or the gateway mode's
//!   callback), and the sink retries an edit that arrives before Discord has the answer.
//! * A destructive button → an ephemeral Yes/Cancel prompt at once (nothing runs; "Yes"
//!   is a button press like any other); "Cancel" closes the prompt.
//! * A button opsbot does not know (an older version's, another app's) → an ephemeral
//!   "this button is no longer valid" at once; the press is audited as unparsed.
//! * Autocomplete of the service option → catalog names and aliases matching what was
//!   typed.

use std::sync::Arc;

use opsbot_commands::{Actor, Invocation, Platform, context::NoProgress};
use opsbot_discord::{
    Action, Incoming, Request, Target, command_text::SERVICE_OPTION,
    interaction::AutocompleteRequest, response,
};
use serde_json::Value;

use crate::{
    engine::Engine,
    outbox::{Lane, Operation, OutboxMessage, ReplyQueue},
};

/// The answer to a press on a button opsbot does not know.
pub const NO_LONGER_VALID: &str =
    "This button is no longer valid; run the command again (`/help` lists them).";

/// Handles interactions for the engine.
pub struct Interactions {
    engine: Arc<Engine>,
    replies: ReplyQueue,
}

/// The immediate answer, and the work to start once it has been sent.
pub struct Answer {
    pub response: Value,
    pub work: Option<Work>,
}

/// Running one invocation and queueing its reply for the interaction's answer.
pub struct Work {
    engine: Arc<Engine>,
    replies: ReplyQueue,
    invocation: Invocation,
    interaction_id: String,
    token: String,
    /// Set when the input is not a command (an unknown button): why. It is audited as
    /// unparsed and not run; the immediate answer was the reply.
    unparsed: Option<String>,
}

impl Work {
    /// Runs the invocation through the engine and queues the reply durably.
    pub async fn run(self) {
        if let Some(reason) = &self.unparsed {
            self.engine.record_unparsed(&self.invocation, reason).await;
            return;
        }
        let reply = self.engine.handle(&self.invocation, &NoProgress).await;
        let message = OutboxMessage {
            platform: Platform::Discord,
            channel: Target::interaction(&self.token),
            thread_key: None,
            operation: Operation::Post,
            lane: Lane::Interactive,
            reply,
            dedupe_key: format!("discord:interaction:{}", self.interaction_id),
        };
        if let Err(error) = self.replies.send(message).await {
            tracing::error!(%error, interaction = %self.interaction_id,
                "the reply to a Discord interaction could not be queued");
        }
    }

    /// The invocation the engine will run.
    pub fn invocation(&self) -> &Invocation {
        &self.invocation
    }
}

impl Interactions {
    /// Handling for `engine`; starts the reply queue's writer task (within a Tokio
    /// runtime).
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            replies: ReplyQueue::spawn(engine.store().clone()),
            engine,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The answer to `incoming`, and the work to start after it was sent.
    pub fn receive(&self, incoming: Incoming) -> Answer {
        match incoming {
            Incoming::Ping => Answer::now(response::pong()),
            Incoming::Autocomplete(request) => Answer::now(self.autocomplete(&request)),
            Incoming::Unsupported(kind) => Answer::now(response::ephemeral_text(&format!(
                "opsbot does not handle interactions of type {kind}."
            ))),
            Incoming::Request(request) => self.request(request),
        }
    }

    fn request(&self, request: Request) -> Answer {
        let text = match &request.action {
            Action::Dismiss => return Answer::now(response::dismissed()),
            Action::Ask(command) => {
                return Answer::now(response::confirm_prompt(command).unwrap_or_else(|| {
                    response::ephemeral_text("That button's command is too long to run.")
                }));
            }
            Action::Run(text) => text.clone(),
            Action::Unknown(custom_id) => custom_id.clone(),
        };
        let unparsed = match &request.action {
            Action::Unknown(custom_id) => Some(format!("unknown button `{custom_id}`")),
            _ => None,
        };
        let actor = Actor::new(Platform::Discord, &request.user_id, &request.display_name)
            .with_groups(request.roles.clone());
        let mut invocation = Invocation::new(actor, &request.channel_id, text);
        invocation.thread = request.thread_id.clone();
        let response = match unparsed {
            Some(_) => response::ephemeral_text(NO_LONGER_VALID),
            None => response::deferred(),
        };
        Answer {
            response,
            work: Some(Work {
                engine: self.engine.clone(),
                replies: self.replies.clone(),
                invocation,
                interaction_id: request.interaction_id,
                token: request.token,
                unparsed,
            }),
        }
    }

    fn autocomplete(&self, request: &AutocompleteRequest) -> Value {
        if request.option != SERVICE_OPTION {
            return response::autocomplete(&[]);
        }
        let services = self.engine.catalog().services();
        let names = services.iter().flat_map(|s| {
            std::iter::once(s.name.as_str()).chain(s.aliases.iter().map(|a| a.as_str()))
        });
        let choices: Vec<(String, String)> = response::matching(names, &request.value)
            .into_iter()
            .map(|name| {
                let label = match self.engine.catalog().get(name) {
                    Some(service) if service.name.as_str() != name => {
                        format!("{name} → {} ({})", service.name, service.environment)
                    }
                    Some(service) => format!("{name} ({})", service.environment),
                    None => name.to_string(),
                };
                (label, name.to_string())
            })
            .collect();
        response::autocomplete(&choices)
    }
}

impl Answer {
    fn now(response: Value) -> Self {
        Self {
            response,
            work: None,
        }
    }
}
