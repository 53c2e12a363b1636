//! From an acknowledged Slack invocation to its reply in the outbox: resolve the actor's
//! user groups and, in a thread, the thread's incident (once, carried on the invocation
//! for the engine and the incident desk), run the engine (the same pipeline as every surface: RBAC, confirmation,
//! approval, audit), and queue what it says on the interactive lane.
//!
//! Where replies go:
//! - only for the actor (denials, usage, request control): `chat.postEphemeral`, in the
//!   thread when there was one;
//! - typed or pressed in an incident thread opsbot posted: a reply in that thread (the
//!   outbox's `incident:ID` thread, in order with the incident's own updates);
//! - in another thread: a reply in that thread;
//! - a slash command in a channel: a message in the channel. When the command reports
//!   progress (a rollout), the first progress line becomes a root message and the
//!   progress and the result go into its thread.
//!
//! The answer of a slash command or button press goes through the request's
//! `response_url` (`in_channel`, or `ephemeral` for the actor only) when it is the only
//! message of the invocation in its place: a result in the channel or in a thread
//! opsbot did not open, and any reply for the actor alone. Slack does not count those
//! against the channel's one-message-per-second budget, so during an alert storm the
//! answer does not wait behind incident traffic. Not through it: progress and results
//! in a progress thread (they stay in the order the outbox keeps per thread), replies
//! in an incident thread (in order with the incident's own updates), replies with an
//! image (uploaded as a file, which a `response_url` cannot carry), and mentions (no
//! `response_url`).
//!
//! Progress is held back for `[slack] progress_after` (default 3 s): a command done by
//! then answers with its result alone, so quick commands never open threads.
//!
//! Dedupe keys are `slack:DELIVERY:progress:N` and `slack:DELIVERY:reply`, DELIVERY being
//! Slack's id of the request, so a retried delivery never answers twice. Every
//! invocation is stored in the command inbox ([`crate::inbox`]) before it is
//! acknowledged, and its reply is queued in the same transaction that marks it done; a
//! delivery the inbox already holds (Slack retries events it thinks timed out, Socket
//! Mode redelivers unacknowledged envelopes, a replayed signed request, across restarts
//! and replicas) is acknowledged and not run again. Deliveries seen recently by this
//! process are recognised in memory first, without a store round trip.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use opsbot_commands::{Actor, Invocation, Platform, Reply, context::Progress, reply::Visibility};
use opsbot_slack::{Destination, Inbound, ResponseUrlPolicy};
use tokio::sync::mpsc;

use super::groups::UserGroups;
use crate::{
    engine::Engine,
    inbox::{Accepted, Delivery, Inbox, InboxError},
    outbox::{Lane, Operation, OutboxMessage, ReplyQueue},
};

/// How long a delivery id is remembered in the inbox: Slack's signature window (a replay
/// older than that fails the signature check), with a minute to spare.
const REMEMBER_FOR: Duration =
    Duration::from_secs(opsbot_slack::signature::MAX_SKEW_SECONDS as u64 + 60);

/// Slack's responder: runs Slack invocations through the engine and queues their replies
/// (the same role as the Discord adapter's and the console's `Responder`).
pub struct Responder {
    engine: Arc<Engine>,
    groups: Arc<UserGroups>,
    progress_after: Duration,
    recent: Mutex<RecentDeliveries>,
    replies: ReplyQueue,
    inbox: Inbox,
    /// Which `response_url`s answers may go to (others: answered in the channel).
    response_urls: ResponseUrlPolicy,
}

/// The last [`RecentDeliveries::CAPACITY`] delivery ids, to drop redeliveries.
#[derive(Default)]
struct RecentDeliveries {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl RecentDeliveries {
    const CAPACITY: usize = 4096;

    /// Whether `id` is new (and remembers it).
    fn first_time(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == Self::CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        true
    }

    /// Forgets `id` (it could not be stored: its retry must not be dropped).
    fn forget(&mut self, id: &str) {
        if self.seen.remove(id) {
            self.order.retain(|seen| seen != id);
        }
    }
}

/// Where the replies of one invocation go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Thread {
    /// The thread of an incident root opsbot posted (outbox thread key `incident:ID`).
    Incident(String),
    /// Another Slack thread (its root's `ts`).
    Slack(String),
    /// No thread: a slash command in a channel.
    None,
}

impl Responder {
    pub fn new(
        engine: Arc<Engine>,
        groups: Arc<UserGroups>,
        progress_after: Duration,
        inbox: Inbox,
    ) -> Self {
        Self {
            groups,
            progress_after,
            recent: Mutex::new(RecentDeliveries::default()),
            replies: ReplyQueue::spawn(engine.store().clone()),
            engine,
            inbox,
            response_urls: ResponseUrlPolicy::default(),
        }
    }

    /// Answers only through `response_url`s `policy` allows (default: Slack's hooks).
    pub fn with_response_urls(mut self, policy: ResponseUrlPolicy) -> Self {
        self.response_urls = policy;
        self
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, RecentDeliveries> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `inbound` in the command inbox and, when it is new, runs it in the
    /// background. Acknowledge the request only after this returned `Ok` (it is durable
    /// then); on `Err` answer so that the sender retries or the user sees a failure.
    pub async fn accept(self: &Arc<Self>, mut inbound: Inbound) -> Result<Accepted, InboxError> {
        // A signed request comes from Slack, but its response_url is still only data:
        // one outside the allowed prefix is dropped and the answer goes to the channel.
        inbound.response_url = self.response_urls.vet(inbound.response_url.take());
        if !self.recent().first_time(&inbound.delivery_id) {
            tracing::info!(delivery = %inbound.delivery_id, "dropped a Slack redelivery");
            return Ok(Accepted::Replay);
        }
        let request_id = uuid::Uuid::now_v7().to_string();
        let delivery = Delivery {
            platform: Platform::Slack,
            delivery_id: inbound.delivery_id.clone(),
            request_id: request_id.clone(),
            actor_id: inbound.user_id.clone(),
            actor_name: inbound
                .user_name
                .clone()
                .unwrap_or_else(|| inbound.user_id.clone()),
            channel: inbound.channel_id.clone(),
            thread: inbound.thread_ts.clone(),
            text: inbound.text.clone(),
            answer_to: Some(
                Destination::channel(inbound.channel_id.clone())
                    .in_thread(inbound.thread_ts.clone())
                    .only(inbound.user_id.clone())
                    .through(inbound.response_url.clone())
                    .to_string(),
            ),
            answer_until: None,
            remember_for: REMEMBER_FOR,
        };
        match self.inbox.accept(delivery).await {
            Ok(Accepted::New) => {
                let this = self.clone();
                tokio::spawn(async move { this.run_accepted(inbound, request_id).await });
                Ok(Accepted::New)
            }
            Ok(Accepted::Replay) => {
                tracing::info!(delivery = %inbound.delivery_id,
                    "refused a Slack delivery already received (a retry or a replay)");
                Ok(Accepted::Replay)
            }
            Err(error) => {
                self.recent().forget(&inbound.delivery_id);
                tracing::error!(%error, "could not store a Slack invocation; refused it");
                Err(error)
            }
        }
    }

    /// Runs `inbound` to the end: the reply is queued when this returns (for callers
    /// outside the inbox: it is not stored first).
    pub async fn run(&self, mut inbound: Inbound) {
        inbound.response_url = self.response_urls.vet(inbound.response_url.take());
        self.execute(inbound, uuid::Uuid::now_v7().to_string(), None)
            .await;
    }

    /// Runs an invocation stored in the inbox; its reply is queued in the transaction
    /// that marks it done.
    async fn run_accepted(&self, inbound: Inbound, request_id: String) {
        self.execute(inbound, request_id, Some(&self.inbox)).await;
    }

    async fn execute(&self, inbound: Inbound, request_id: String, inbox: Option<&Inbox>) {
        let groups = self.groups.groups_of(&inbound.user_id).await;
        let name = inbound
            .user_name
            .clone()
            .unwrap_or_else(|| inbound.user_id.clone());
        let actor = Actor::new(Platform::Slack, inbound.user_id.clone(), name).with_groups(groups);
        let mut invocation =
            Invocation::new(actor, inbound.channel_id.clone(), inbound.text.clone());
        invocation.thread = inbound.thread_ts.clone();
        // The incident of the thread, found once here: the engine and the incident desk
        // read it from the invocation, and its thread is where the reply goes.
        invocation.incident = crate::incidents::incident_of_thread(
            self.engine.store(),
            self.engine.catalog(),
            Platform::Slack,
            &inbound.channel_id,
            inbound.thread_ts.as_deref(),
        )
        .await;
        let thread = match (&inbound.thread_ts, &invocation.incident) {
            (None, _) => Thread::None,
            (Some(_), Some(incident)) => {
                Thread::Incident(crate::incidents::model::thread_key(incident.id))
            }
            (Some(ts), None) => Thread::Slack(ts.clone()),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let delivery_id = inbound.delivery_id.clone();
        let courier = tokio::spawn(deliver(
            self.replies.clone(),
            inbound,
            thread,
            rx,
            self.progress_after,
        ));
        let reply = self
            .engine
            .handle_as(&invocation, &CourierProgress(tx.clone()), request_id)
            .await;
        let _ = tx.send(Said::Reply(reply));
        drop(tx);
        let last = match courier.await {
            Ok(last) => last,
            Err(error) => {
                tracing::error!(%error, "the Slack reply task failed");
                return;
            }
        };
        let Some(last) = last else { return };
        let dedupe_key = last.dedupe_key.clone();
        let queued = match inbox {
            Some(inbox) => inbox
                .finish(Platform::Slack, &delivery_id, last)
                .await
                .map_err(|e| e.to_string()),
            None => self.replies.send(last).await,
        };
        if let Err(error) = queued {
            tracing::error!(%error, %dedupe_key, "could not queue a Slack reply");
        }
    }
}

/// What the engine said during one invocation.
enum Said {
    Progress(String),
    Reply(Reply),
}

struct CourierProgress(mpsc::UnboundedSender<Said>);

impl Progress for CourierProgress {
    fn report(&self, message: &str) {
        let _ = self.0.send(Said::Progress(message.to_string()));
    }
}

/// Queues the progress said, in order, as outbox messages; returns the final reply's
/// message (for the caller to queue with the inbox's "done").
async fn deliver(
    replies: ReplyQueue,
    inbound: Inbound,
    thread: Thread,
    mut said: mpsc::UnboundedReceiver<Said>,
    progress_after: Duration,
) -> Option<OutboxMessage> {
    let plan = Plan {
        inbound: &inbound,
        thread: &thread,
    };
    let send = async |message: OutboxMessage| {
        let dedupe_key = message.dedupe_key.clone();
        if let Err(error) = replies.send(message).await {
            tracing::error!(%error, %dedupe_key, "could not queue a Slack reply");
        }
    };
    let due = tokio::time::Instant::now() + progress_after;
    let mut held: Vec<String> = Vec::new();
    let mut posted = 0usize;
    let mut last = None;
    loop {
        let item = tokio::select! {
            item = said.recv() => item,
            () = tokio::time::sleep_until(due), if !held.is_empty() => {
                for text in std::mem::take(&mut held) {
                    posted += 1;
                    send(plan.progress(posted, Reply::info(format!("⏳ {text}")))).await;
                }
                continue;
            }
        };
        match item {
            None => break,
            Some(Said::Progress(text)) if posted == 0 && tokio::time::Instant::now() < due => {
                held.push(text);
            }
            Some(Said::Progress(text)) => {
                posted += 1;
                send(plan.progress(posted, Reply::info(format!("⏳ {text}")))).await;
            }
            // Progress still held back is dropped: the result says it all.
            Some(Said::Reply(reply)) => last = Some(plan.reply(posted > 0, reply)),
        }
    }
    last
}

struct Plan<'a> {
    inbound: &'a Inbound,
    thread: &'a Thread,
}

impl Plan<'_> {
    fn message(
        &self,
        channel: String,
        thread_key: Option<String>,
        operation: Operation,
        reply: Reply,
        suffix: &str,
    ) -> OutboxMessage {
        OutboxMessage {
            platform: Platform::Slack,
            channel,
            thread_key,
            operation,
            lane: Lane::Interactive,
            reply,
            dedupe_key: format!("slack:{}:{suffix}", self.inbound.delivery_id),
        }
    }

    /// The thread key progress of a threadless command opens.
    fn progress_key(&self) -> String {
        format!("slack:{}", self.inbound.delivery_id)
    }

    /// Where a message for everyone goes, given whether progress opened a thread.
    fn public(
        &self,
        opened_thread: bool,
        reply: Reply,
        suffix: &str,
        first: bool,
    ) -> OutboxMessage {
        let channel = self.inbound.channel_id.clone();
        match self.thread {
            Thread::Incident(key) => {
                self.message(channel, Some(key.clone()), Operation::Reply, reply, suffix)
            }
            Thread::Slack(ts) => self.message(
                Destination::channel(channel)
                    .in_thread(Some(ts.clone()))
                    .to_string(),
                None,
                Operation::Post,
                reply,
                suffix,
            ),
            Thread::None if first => self.message(
                channel,
                Some(self.progress_key()),
                Operation::PostRoot,
                reply,
                suffix,
            ),
            Thread::None if opened_thread => self.message(
                channel,
                Some(self.progress_key()),
                Operation::Reply,
                reply,
                suffix,
            ),
            Thread::None => self.message(channel, None, Operation::Post, reply, suffix),
        }
    }

    fn progress(&self, n: usize, reply: Reply) -> OutboxMessage {
        self.public(n > 1, reply, &format!("progress:{n}"), n == 1)
    }

    fn reply(&self, after_progress: bool, reply: Reply) -> OutboxMessage {
        // Only the lone answer of an invocation goes through the response_url: behind
        // progress it would not be ordered with it (another channel string).
        let response = match (after_progress, &reply.attachment) {
            (false, None) => self.inbound.response_url.clone(),
            _ => None,
        };
        if reply.visibility == Visibility::OnlyActor {
            let destination = Destination::channel(self.inbound.channel_id.clone())
                .in_thread(self.inbound.thread_ts.clone())
                .only(self.inbound.user_id.clone())
                .through(response);
            return self.message(
                destination.to_string(),
                None,
                Operation::Post,
                reply,
                "reply",
            );
        }
        let mut message = self.public(after_progress, reply, "reply", false);
        if message.operation == Operation::Post
            && message.thread_key.is_none()
            && let Ok(destination) = message.channel.parse::<Destination>()
        {
            message.channel = destination.through(response).to_string();
        }
        message
    }
}

#[cfg(test)]
mod tests {
    use opsbot_slack::Source;

    use super::*;

    fn inbound(thread: Option<&str>) -> Inbound {
        Inbound {
            source: Source::SlashCommand,
            user_id: "U1".into(),
            user_name: None,
            channel_id: "C1".into(),
            thread_ts: thread.map(str::to_string),
            text: "restart x".into(),
            delivery_id: "command:42".into(),
            response_url: None,
        }
    }

    const HOOK: &str = "https://hooks.slack.com/commands/T1/2/x";

    fn answerable(thread: Option<&str>) -> Inbound {
        Inbound {
            response_url: Some(opsbot_slack::destination::ResponseUrl::new(
                HOOK,
                1_700_000_000,
            )),
            ..inbound(thread)
        }
    }

    #[test]
    fn the_lone_answer_goes_through_the_response_url() {
        let inbound = answerable(None);
        let plan = Plan {
            inbound: &inbound,
            thread: &Thread::None,
        };
        let message = plan.reply(false, Reply::success("done"));
        assert_eq!(message.channel, format!("C1/response=1700000000:{HOOK}"));
        assert_eq!(message.operation, Operation::Post);
        let denied = plan.reply(false, Reply::danger("Not allowed").only_actor());
        assert_eq!(
            denied.channel,
            format!("C1/only=U1/response=1700000000:{HOOK}")
        );
        // Behind progress: in the progress thread, in order.
        let result = plan.reply(true, Reply::success("done"));
        assert_eq!(result.channel, "C1");
        assert_eq!(result.thread_key.as_deref(), Some("slack:command:42"));
        assert_eq!(plan.progress(1, Reply::info("rolling out")).channel, "C1");
        // A chart is uploaded into the channel.
        let mut chart = Reply::info("cost");
        chart.attachment = Some(opsbot_commands::reply::Attachment::png("cost", vec![1]));
        assert_eq!(plan.reply(false, chart).channel, "C1");
        // In a thread opsbot did not open: through the response_url, in that thread.
        let threaded = answerable(Some("1.2"));
        let other = Plan {
            inbound: &threaded,
            thread: &Thread::Slack("1.2".into()),
        };
        assert_eq!(
            other.reply(false, Reply::success("ok")).channel,
            format!("C1/thread=1.2/response=1700000000:{HOOK}")
        );
        // In an incident thread: in order with the incident's updates.
        let incident = Plan {
            inbound: &threaded,
            thread: &Thread::Incident("incident:7".into()),
        };
        let message = incident.reply(false, Reply::success("acknowledged"));
        assert_eq!(message.channel, "C1");
        assert_eq!(message.thread_key.as_deref(), Some("incident:7"));
    }

    #[test]
    fn redeliveries_are_recognised_within_the_window() {
        let mut recent = RecentDeliveries::default();
        assert!(recent.first_time("event:Ev1"));
        assert!(!recent.first_time("event:Ev1"));
        for n in 0..RecentDeliveries::CAPACITY {
            assert!(recent.first_time(&format!("event:{n}")));
        }
        assert!(
            recent.first_time("event:Ev1"),
            "forgotten after CAPACITY others"
        );
        assert_eq!(recent.order.len(), RecentDeliveries::CAPACITY);
        assert_eq!(recent.seen.len(), RecentDeliveries::CAPACITY);
    }

    #[test]
    fn a_quick_slash_command_answers_in_the_channel() {
        let inbound = inbound(None);
        let plan = Plan {
            inbound: &inbound,
            thread: &Thread::None,
        };
        let message = plan.reply(false, Reply::success("done"));
        assert_eq!(message.channel, "C1");
        assert_eq!(message.operation, Operation::Post);
        assert_eq!(message.thread_key, None);
        assert_eq!(message.lane, Lane::Interactive);
        assert_eq!(message.dedupe_key, "slack:command:42:reply");
    }

    #[test]
    fn progress_opens_a_thread_the_result_lands_in() {
        let inbound = inbound(None);
        let plan = Plan {
            inbound: &inbound,
            thread: &Thread::None,
        };
        let first = plan.progress(1, Reply::info("rolling out"));
        assert_eq!(first.operation, Operation::PostRoot);
        assert_eq!(first.thread_key.as_deref(), Some("slack:command:42"));
        let second = plan.progress(2, Reply::info("2/3 ready"));
        assert_eq!(second.operation, Operation::Reply);
        assert_eq!(second.thread_key.as_deref(), Some("slack:command:42"));
        let result = plan.reply(true, Reply::success("done"));
        assert_eq!(result.operation, Operation::Reply);
        assert_eq!(result.thread_key.as_deref(), Some("slack:command:42"));
        assert_ne!(first.dedupe_key, second.dedupe_key);
    }

    #[test]
    fn threads_and_ephemeral_replies() {
        let inbound = inbound(Some("1700000000.000100"));
        let incident = Plan {
            inbound: &inbound,
            thread: &Thread::Incident("incident:7".into()),
        };
        let message = incident.reply(false, Reply::success("acknowledged"));
        assert_eq!(message.operation, Operation::Reply);
        assert_eq!(message.thread_key.as_deref(), Some("incident:7"));
        assert_eq!(message.channel, "C1");
        let other = Plan {
            inbound: &inbound,
            thread: &Thread::Slack("1700000000.000100".into()),
        };
        let message = other.reply(false, Reply::success("ok"));
        assert_eq!(message.channel, "C1/thread=1700000000.000100");
        assert_eq!(message.operation, Operation::Post);
        let private = other.reply(false, Reply::danger("Not allowed").only_actor());
        assert_eq!(private.channel, "C1/thread=1700000000.000100/only=U1");
        assert_eq!(private.operation, Operation::Post);
    }
}
