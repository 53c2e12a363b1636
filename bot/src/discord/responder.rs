//! What opsbot does with an interaction, whichever way it arrived (HTTP endpoint or
//! gateway): the immediate answer Discord needs within 3 seconds, and the work that
//! follows it.
//!
//! * PING → PONG.
//! * A slash command or a button press → "deferred" at once; then (in a thread, after
//!   finding the thread's incident once, for the invocation) the engine runs the
//!   command (parse, RBAC with the user id and guild role ids, confirmation, approval,
//!   execution, audit) and its reply is queued in the outbox (interactive lane) for the
//!   interaction's `interaction:TOKEN` target, which edits the deferred response. Before
//!   the answer leaves, the invocation is stored in the command inbox
//!   ([`Responder::accept`], group-committed); its reply is queued in the transaction
//!   that marks it done, so an invocation Discord saw deferred is either answered or, after
//!   a crash, reported by the next process. An interaction id the inbox already holds (a
//!   replayed request, across restarts and replicas) is answered but not run again. Only
//!   after the answer has left may the work start (the HTTP body, or the gateway mode's
//!   callback), and the sink retries an edit that arrives before Discord has the answer.
//! * A destructive button → an ephemeral Yes/Cancel prompt at once (nothing runs; "Yes"
//!   is a button press like any other); "Cancel" closes the prompt.
//! * A button opsbot does not know (an older version's, another app's) → an ephemeral
//!   "this button is no longer valid" at once; the press is audited as unparsed.
//! * Autocomplete of the service option → catalog names and aliases matching what was
//!   typed.

use std::{sync::Arc, time::Duration};

use opsbot_commands::{Actor, Invocation, Platform, context::NoProgress};
use opsbot_discord::{
    Action, Incoming, Request, Target, command_text::SERVICE_OPTION,
    interaction::AutocompleteRequest, response,
};
use serde_json::Value;

use crate::{
    engine::Engine,
    inbox::{Accepted, Delivery, Inbox, InboxError},
    outbox::{Lane, Operation, OutboxMessage},
};

/// How long Discord accepts answers and follow-ups with an interaction token (15
/// minutes), less a minute: a report after that goes to the channel.
const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// The answer to a press on a button opsbot does not know.
pub const NO_LONGER_VALID: &str =
    "This button is no longer valid; run the command again (`/help` lists them).";

/// Discord's responder: runs interactions through the engine and queues their replies (the
/// same role as the Slack adapter's and the console's `Responder`).
pub struct Responder {
    engine: Arc<Engine>,
    inbox: Inbox,
    /// How long an interaction id is remembered: the signature window.
    remember_for: Duration,
}

/// The immediate answer, and the work to start once it has been sent.
pub struct Answer {
    pub response: Value,
    pub work: Option<Work>,
}

/// Running one invocation and queueing its reply for the interaction's answer.
pub struct Work {
    engine: Arc<Engine>,
    inbox: Inbox,
    invocation: Invocation,
    interaction_id: String,
    token: String,
    request_id: String,
    /// Set when the input is not a command (an unknown button): why. It is audited as
    /// unparsed and not run; the immediate answer was the reply.
    unparsed: Option<String>,
}

impl Work {
    /// Runs the invocation through the engine and queues the reply durably, marking it
    /// done in the command inbox in the same transaction. Typed or pressed in a thread,
    /// the thread's incident is found first, once (the engine and the incident desk read
    /// it from the invocation).
    pub async fn run(mut self) {
        if let Some(reason) = &self.unparsed {
            self.engine.record_unparsed(&self.invocation, reason).await;
            if let Err(error) = self
                .inbox
                .finish_answered(Platform::Discord, &self.interaction_id)
                .await
            {
                tracing::error!(%error, interaction = %self.interaction_id,
                    "an unknown Discord button could not be marked done");
            }
            return;
        }
        self.invocation.incident = crate::incidents::incident_of_thread(
            self.engine.store(),
            self.engine.catalog(),
            Platform::Discord,
            &self.invocation.channel,
            self.invocation.thread.as_deref(),
        )
        .await;
        let reply = self
            .engine
            .handle_as(&self.invocation, &NoProgress, self.request_id.clone())
            .await;
        let message = OutboxMessage {
            platform: Platform::Discord,
            channel: Target::interaction(&self.token),
            thread_key: None,
            operation: Operation::Post,
            lane: Lane::Interactive,
            reply,
            dedupe_key: Delivery::reply_key(Platform::Discord, &self.interaction_id),
        };
        if let Err(error) = self
            .inbox
            .finish(Platform::Discord, &self.interaction_id, message)
            .await
        {
            tracing::error!(%error, interaction = %self.interaction_id,
                "the reply to a Discord interaction could not be queued");
        }
    }

    /// The invocation the engine will run.
    pub fn invocation(&self) -> &Invocation {
        &self.invocation
    }
}

impl Responder {
    /// Handling for `engine`, storing invocations in `inbox` and remembering them for
    /// `remember_for` (the signature window) to refuse replays.
    pub fn new(engine: Arc<Engine>, inbox: Inbox, remember_for: Duration) -> Self {
        Self {
            engine,
            inbox,
            remember_for,
        }
    }

    /// Stores `work`'s invocation in the command inbox (committed when this returns
    /// `New`): answer Discord only after this, and start the work only when `New`.
    pub async fn accept(&self, work: &Work) -> Result<Accepted, InboxError> {
        let invocation = &work.invocation;
        let delivery = Delivery {
            platform: Platform::Discord,
            delivery_id: work.interaction_id.clone(),
            request_id: work.request_id.clone(),
            actor_id: invocation.actor.id.clone(),
            actor_name: invocation.actor.display_name.clone(),
            channel: invocation.channel.clone(),
            thread: invocation.thread.clone(),
            text: invocation.text.clone(),
            answer_to: Some(Target::interaction(&work.token)),
            answer_until: jiff::Timestamp::now().checked_add(TOKEN_LIFETIME).ok(),
            remember_for: self.remember_for,
        };
        let accepted = self.inbox.accept(delivery).await;
        match &accepted {
            Ok(Accepted::Replay) => tracing::info!(interaction = %work.interaction_id,
                "refused a Discord interaction already received (a replay)"),
            Err(error) => tracing::error!(%error, "could not store a Discord interaction"),
            Ok(Accepted::New) => {}
        }
        accepted
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
                inbox: self.inbox.clone(),
                invocation,
                interaction_id: request.interaction_id,
                token: request.token,
                request_id: uuid::Uuid::now_v7().to_string(),
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
