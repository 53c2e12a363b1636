//! A [`ChatSink`] double for the outbox tests: records every completed call, can fail
//! chosen calls with `Retry`/`Permanent`, and can hang (a process about to be killed).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use opsbot_commands::{Platform, Reply};

use super::{ChatSink, DeliveryError, MessageRef};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    Post,
    Edit,
}

/// One call that completed (successfully or with a scripted error).
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub kind: CallKind,
    pub channel: String,
    /// The thread of a post, or the message an edit replaced.
    pub target: Option<MessageRef>,
    pub reply: Reply,
    pub at: Instant,
    /// The ref handed back (posts), or `None` for failed calls.
    pub result: Option<MessageRef>,
    /// The outbox tag of a post, when the sink keeps tags.
    pub tag: Option<String>,
}

struct Rule {
    /// Only calls whose reply has this title (any call when `None`).
    title: Option<String>,
    error: DeliveryError,
    times: usize,
}

/// The recorder. Share one between "replicas" (it is `Arc`-cloned into each sink list).
pub(crate) struct RecordingSink {
    platform: Platform,
    calls: Mutex<Vec<Call>>,
    rules: Mutex<Vec<Rule>>,
    next: AtomicU64,
    /// Calls after this many completed ones never return.
    hang_after: AtomicUsize,
    /// Calls that got past the repeat check (the ones `hang_after` counts).
    started: AtomicUsize,
    hanging: AtomicUsize,
    /// Calls after this many completed ones take effect on the platform, then never
    /// return (the process dies before it hears the answer).
    lose_answers_after: AtomicUsize,
    /// Keeps outbox tags and finds them (as Slack metadata would).
    keeps_tags: bool,
    /// Answers a post whose tag it took before with that first post, posting nothing,
    /// and finds no tags (as a Discord nonce with `enforce_nonce`).
    recognises_repeats: bool,
    delay: Duration,
}

impl RecordingSink {
    pub(crate) fn new(platform: Platform) -> Arc<Self> {
        Self::with_delay(platform, Duration::ZERO)
    }

    /// Every call takes `delay` (a chat API round trip).
    pub(crate) fn with_delay(platform: Platform, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            platform,
            calls: Mutex::new(Vec::new()),
            rules: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            hang_after: AtomicUsize::new(usize::MAX),
            started: AtomicUsize::new(0),
            hanging: AtomicUsize::new(0),
            lose_answers_after: AtomicUsize::new(usize::MAX),
            keeps_tags: false,
            recognises_repeats: false,
            delay,
        })
    }

    /// A sink that keeps the outbox's tags on posts and finds them again.
    pub(crate) fn keeping_tags(platform: Platform) -> Arc<Self> {
        Arc::new(Self {
            platform,
            calls: Mutex::new(Vec::new()),
            rules: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            hang_after: AtomicUsize::new(usize::MAX),
            started: AtomicUsize::new(0),
            hanging: AtomicUsize::new(0),
            lose_answers_after: AtomicUsize::new(usize::MAX),
            keeps_tags: true,
            recognises_repeats: false,
            delay: Duration::ZERO,
        })
    }

    /// A sink that recognises a repeated tag by itself (a Discord nonce): the repeat is
    /// answered with the first post, and nothing can be looked up.
    pub(crate) fn recognising_repeats(platform: Platform) -> Arc<Self> {
        Arc::new(Self {
            platform,
            calls: Mutex::new(Vec::new()),
            rules: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            hang_after: AtomicUsize::new(usize::MAX),
            started: AtomicUsize::new(0),
            hanging: AtomicUsize::new(0),
            lose_answers_after: AtomicUsize::new(usize::MAX),
            keeps_tags: false,
            recognises_repeats: true,
            delay: Duration::ZERO,
        })
    }

    pub(crate) fn lose_answers_after(&self, completed: usize) {
        self.lose_answers_after.store(completed, Ordering::SeqCst);
    }

    /// The next `times` calls for a reply titled `title` (any, when `None`) fail.
    pub(crate) fn fail(&self, title: Option<&str>, error: DeliveryError, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            title: title.map(str::to_string),
            error,
            times,
        });
    }

    pub(crate) fn hang_after(&self, completed: usize) {
        self.hang_after.store(completed, Ordering::SeqCst);
    }

    /// Calls stuck inside the chat API by `hang_after`.
    pub(crate) fn hanging(&self) -> usize {
        self.hanging.load(Ordering::SeqCst)
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Successful calls only.
    pub(crate) fn delivered(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.result.is_some())
            .collect()
    }

    async fn call(
        &self,
        kind: CallKind,
        channel: &str,
        target: Option<&MessageRef>,
        reply: &Reply,
        tag: Option<&str>,
    ) -> Result<MessageRef, DeliveryError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.recognises_repeats
            && kind == CallKind::Post
            && let Some(tag) = tag
            && let Some(first) = self
                .calls()
                .into_iter()
                .find(|c| c.tag.as_deref() == Some(tag) && c.result.is_some())
        {
            return first
                .result
                .ok_or_else(|| DeliveryError::Permanent("no result".into()));
        }
        // Counted as the call starts, so two concurrent calls cannot both slip in as the
        // last one allowed (one of them would complete unmarked when the test kills the
        // dispatcher, and be posted again).
        if self.started.fetch_add(1, Ordering::SeqCst) >= self.hang_after.load(Ordering::SeqCst) {
            self.hanging.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        let error = {
            let mut rules = self.rules.lock().unwrap();
            let found = rules
                .iter_mut()
                .find(|r| r.times > 0 && r.title.as_deref().is_none_or(|t| t == reply.title));
            found.map(|rule| {
                rule.times -= 1;
                rule.error.clone()
            })
        };
        let result = match (&error, &kind) {
            (Some(_), _) => None,
            (None, CallKind::Edit) => target.cloned(),
            (None, CallKind::Post) => Some(MessageRef(format!(
                "m{}",
                self.next.fetch_add(1, Ordering::SeqCst)
            ))),
        };
        self.calls.lock().unwrap().push(Call {
            kind,
            channel: channel.to_string(),
            target: target.cloned(),
            reply: reply.clone(),
            at: Instant::now(),
            result: result.clone(),
            tag: tag
                .filter(|_| self.keeps_tags || self.recognises_repeats)
                .map(str::to_string),
        });
        if self.calls.lock().unwrap().len() > self.lose_answers_after.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        match (error, result) {
            (Some(error), _) => Err(error),
            (None, Some(message)) => Ok(message),
            (None, None) => Err(DeliveryError::Permanent("edit without a target".into())),
        }
    }
}

#[async_trait]
impl ChatSink for RecordingSink {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn post(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
    ) -> Result<MessageRef, DeliveryError> {
        self.call(CallKind::Post, channel, thread, reply, None)
            .await
    }

    async fn post_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        reply: &Reply,
        tag: &str,
    ) -> Result<MessageRef, DeliveryError> {
        self.call(CallKind::Post, channel, thread, reply, Some(tag))
            .await
    }

    async fn find_tagged(
        &self,
        channel: &str,
        thread: Option<&MessageRef>,
        tag_prefix: &str,
    ) -> Result<Option<(MessageRef, String)>, DeliveryError> {
        if self.recognises_repeats {
            return Ok(None);
        }
        Ok(self.calls().into_iter().find_map(|call| {
            let tag = call.tag?;
            (call.kind == CallKind::Post
                && call.channel == channel
                && call.target.as_ref() == thread
                && tag.starts_with(tag_prefix))
            .then_some((call.result?, tag))
        }))
    }

    async fn edit(
        &self,
        channel: &str,
        message: &MessageRef,
        reply: &Reply,
    ) -> Result<(), DeliveryError> {
        self.call(CallKind::Edit, channel, Some(message), reply, None)
            .await
            .map(|_| ())
    }
}
