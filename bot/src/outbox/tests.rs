//! The outbox on SQLite and PostgreSQL: enqueue, order, retries, failures, pacing and
//! digests, lanes, replicas and restarts, against the [`RecordingSink`] double.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use opsbot_commands::{Platform, Reply};
use sqlx::Row;

use super::{
    ChatSink, DeliveryError, Dispatcher, DispatcherConfig, Lane, Operation, Outbox, OutboxMessage,
    OutboxMetrics,
    testing::{CallKind, RecordingSink},
};
use crate::store::{Store, scratch::backend_tests};

fn message(
    channel: &str,
    thread: Option<&str>,
    operation: Operation,
    lane: Lane,
    title: &str,
) -> OutboxMessage {
    OutboxMessage {
        platform: Platform::Slack,
        channel: channel.into(),
        thread_key: thread.map(str::to_string),
        operation,
        lane,
        reply: Reply::info(title),
        dedupe_key: format!("key:{title}"),
    }
}

/// Unpaced, short leases and quick polls.
fn fast() -> DispatcherConfig {
    DispatcherConfig {
        channel_rate: 0.0,
        max_attempts: 5,
        lease: Duration::from_secs(2),
        retry_base: Duration::from_millis(50),
        poll_interval: Duration::from_millis(20),
        max_in_flight: 16,
    }
}

fn spawn(store: &Store, sink: &Arc<RecordingSink>, config: DispatcherConfig) -> Dispatcher {
    let sink: Arc<dyn ChatSink> = sink.clone();
    Dispatcher::spawn(store.clone(), vec![sink], config, OutboxMetrics::default())
}

async fn send_all(store: &Store, messages: &[OutboxMessage]) {
    for m in messages {
        assert!(Outbox::send(store, m).await.unwrap(), "{}", m.dedupe_key);
    }
}

async fn count(store: &Store, state: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = $1")
        .bind(state)
        .fetch_one(store.read_pool())
        .await
        .unwrap()
}

/// Waits until nothing is pending (or panics after `limit`).
async fn drained(store: &Store, limit: Duration) {
    let start = Instant::now();
    while count(store, "pending").await > 0 {
        assert!(
            start.elapsed() < limit,
            "outbox not drained after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn row(store: &Store, title: &str) -> (String, i64, Option<String>) {
    let row = sqlx::query("SELECT state, attempts, last_error FROM outbox WHERE dedupe_key = $1")
        .bind(format!("key:{title}"))
        .fetch_one(store.read_pool())
        .await
        .unwrap();
    (row.get("state"), row.get("attempts"), row.get("last_error"))
}

/// How often each title (or digest line) was posted.
fn posted_titles(sink: &RecordingSink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for call in sink.delivered() {
        if call.reply.title.ends_with(" updates") {
            for line in &call.reply.lines {
                let title = line.trim_start_matches("ℹ️ ").to_string();
                *seen.entry(title).or_default() += 1;
            }
        } else {
            *seen.entry(call.reply.title.clone()).or_default() += 1;
        }
    }
    seen
}

backend_tests! {
    async fn enqueue_is_idempotent_and_transactional(db) {
        let m = message("ops", Some("incident:1"), Operation::PostRoot, Lane::Alerts, "root");
        let mut tx = db.store.pool().begin().await.unwrap();
        assert!(Outbox::enqueue(&mut tx, &m).await.unwrap());
        assert!(!Outbox::enqueue(&mut tx, &m).await.unwrap(), "same dedupe key");
        tx.rollback().await.unwrap();
        assert_eq!(count(&db.store, "pending").await, 0, "rolled back with the caller");

        let mut tx = db.store.pool().begin().await.unwrap();
        assert!(Outbox::enqueue(&mut tx, &m).await.unwrap());
        tx.commit().await.unwrap();
        let changed = OutboxMessage { reply: Reply::danger("other"), ..m.clone() };
        assert!(!Outbox::send(&db.store, &changed).await.unwrap());
        assert_eq!(count(&db.store, "pending").await, 1);
        // Delivered messages keep their key: a replayed event is still not re-sent.
        let sink = RecordingSink::new(Platform::Slack);
        let dispatcher = spawn(&db.store, &sink, fast());
        drained(&db.store, Duration::from_secs(10)).await;
        dispatcher.shutdown().await;
        assert!(!Outbox::send(&db.store, &m).await.unwrap());
        assert_eq!(sink.delivered().len(), 1);
        assert_eq!(sink.delivered()[0].reply, Reply::info("root"));
    }

    async fn threads_are_delivered_in_order(db) {
        let mut messages = Vec::new();
        for t in 0..3 {
            let thread = format!("incident:{t}");
            let th = Some(thread.as_str());
            let ch = "ops";
            messages.push(message(ch, th, Operation::PostRoot, Lane::Alerts, &format!("{t}-root")));
            for i in 0..4 {
                messages.push(message(ch, th, Operation::Reply, Lane::Alerts, &format!("{t}-reply-{i}")));
            }
            messages.push(message(ch, th, Operation::EditRoot, Lane::Alerts, &format!("{t}-edit")));
            messages.push(message(ch, th, Operation::Reply, Lane::Alerts, &format!("{t}-reply-4")));
        }
        send_all(&db.store, &messages).await;
        let sink = RecordingSink::with_delay(Platform::Slack, Duration::from_millis(2));
        let dispatcher = spawn(&db.store, &sink, fast());
        drained(&db.store, Duration::from_secs(20)).await;
        dispatcher.shutdown().await;
        let calls = sink.delivered();
        assert_eq!(calls.len(), messages.len(), "unpaced: one call per message");
        for t in 0..3 {
            let prefix = format!("{t}-");
            let mine: Vec<_> = calls.iter().filter(|c| c.reply.title.starts_with(&prefix)).collect();
            let titles: Vec<&str> = mine.iter().map(|c| c.reply.title.as_str()).collect();
            let expected: Vec<String> = ["root", "reply-0", "reply-1", "reply-2", "reply-3", "edit", "reply-4"]
                .iter().map(|s| format!("{t}-{s}")).collect();
            assert_eq!(titles, expected);
            let root = mine[0].result.clone();
            assert!(mine[1..].iter().all(|c| c.target == root), "replies and edit find the root");
            assert_eq!(mine[5].kind, CallKind::Edit);
        }
    }

    async fn retry_honours_retry_after_then_succeeds(db) {
        let sink = RecordingSink::new(Platform::Slack);
        sink.fail(None, DeliveryError::Retry {
            reason: "rate_limited".into(),
            retry_after: Some(Duration::from_millis(400)),
        }, 1);
        send_all(&db.store, &[message("ops", None, Operation::Post, Lane::Alerts, "hello")]).await;
        let dispatcher = spawn(&db.store, &sink, fast());
        drained(&db.store, Duration::from_secs(10)).await;
        dispatcher.shutdown().await;
        let calls = sink.calls();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].result.is_none() && calls[1].result.is_some());
        let gap = calls[1].at - calls[0].at;
        assert!(gap >= Duration::from_millis(390), "retried after {gap:?}");
        let (state, attempts, error) = row(&db.store, "hello").await;
        // A rate limit is pacing, not a failed attempt.
        assert_eq!((state.as_str(), attempts), ("delivered", 0));
        assert!(error.unwrap().contains("rate_limited"));
    }

    async fn rate_limits_never_use_up_the_attempts(db) {
        let sink = RecordingSink::new(Platform::Slack);
        sink.fail(None, DeliveryError::Retry {
            reason: "rate_limited".into(),
            retry_after: Some(Duration::from_millis(10)),
        }, 12);
        send_all(&db.store, &[message("ops", None, Operation::Post, Lane::Alerts, "storm")]).await;
        let dispatcher = spawn(&db.store, &sink, fast());
        drained(&db.store, Duration::from_secs(10)).await;
        dispatcher.shutdown().await;
        assert_eq!(sink.calls().len(), 13, "twelve 429s, then delivered; max_attempts is 5");
        assert_eq!(row(&db.store, "storm").await.0, "delivered");
    }

    async fn permanent_failure_is_parked_and_the_thread_goes_on(db) {
        let sink = RecordingSink::new(Platform::Slack);
        sink.fail(Some("b"), DeliveryError::Permanent("msg_too_long".into()), usize::MAX);
        // Exhausted retries are parked too.
        sink.fail(Some("d"), DeliveryError::Retry { reason: "503".into(), retry_after: None }, usize::MAX);
        let th = Some("incident:9");
        send_all(&db.store, &[
            message("ops", th, Operation::PostRoot, Lane::Alerts, "a"),
            message("ops", th, Operation::Reply, Lane::Alerts, "b"),
            message("ops", th, Operation::Reply, Lane::Alerts, "c"),
            message("ops", None, Operation::Post, Lane::Alerts, "d"),
        ]).await;
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = OutboxMetrics::register(&mut registry);
        let sink_dyn: Arc<dyn ChatSink> = sink.clone();
        let dispatcher = Dispatcher::spawn(db.store.clone(), vec![sink_dyn], fast(), metrics.clone());
        drained(&db.store, Duration::from_secs(20)).await;
        dispatcher.shutdown().await;
        assert_eq!(row(&db.store, "a").await.0, "delivered");
        let (state, _, error) = row(&db.store, "b").await;
        assert_eq!((state.as_str(), error.as_deref()), ("failed", Some("msg_too_long")));
        assert_eq!(row(&db.store, "c").await.0, "delivered");
        let (state, attempts, error) = row(&db.store, "d").await;
        assert_eq!((state.as_str(), attempts), ("failed", 5));
        assert!(error.unwrap().contains("gave up after 5 attempts"));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains(r#"outbox_failed_total{lane="alerts"} 2"#), "{text}");
        assert!(text.contains(r#"chat_api_errors_total{platform="slack",kind="permanent"} 1"#), "{text}");
        assert!(text.contains(r#"outbox_retried_total{lane="alerts"} 4"#), "{text}");
    }

    async fn pacing_coalesces_a_burst_into_a_digest(db) {
        let th = Some("incident:7");
        let mut burst = vec![message("ops", th, Operation::PostRoot, Lane::Alerts, "root")];
        for i in 0..12 {
            burst.push(message("ops", th, Operation::Reply, Lane::Alerts, &format!("update {i}")));
            burst.push(message("ops", th, Operation::EditRoot, Lane::Alerts, &format!("root v{i}")));
        }
        send_all(&db.store, &burst).await;
        let sink = RecordingSink::new(Platform::Slack);
        let config = DispatcherConfig { channel_rate: 4.0, ..fast() };
        let started = Instant::now();
        let dispatcher = spawn(&db.store, &sink, config);
        drained(&db.store, Duration::from_secs(10)).await;
        dispatcher.shutdown().await;
        let calls = sink.delivered();
        // The root is posted with its newest content, then one digest of every update.
        assert_eq!(calls.len(), 2, "{calls:#?}");
        assert_eq!(calls[0].reply.title, "root v11");
        assert_eq!(calls[1].reply.title, "12 updates");
        assert_eq!(calls[1].target, calls[0].result);
        let lines: Vec<String> = (0..12).map(|i| format!("ℹ️ update {i}")).collect();
        assert_eq!(calls[1].reply.lines, lines);
        // Paced: the second call waited for the channel's next slot.
        assert!(calls[1].at - calls[0].at >= Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(count(&db.store, "delivered").await, 25);
    }

    async fn interactive_lane_overtakes_an_alert_backlog(db) {
        // 300 alert posts in one channel at 10 per second: half a minute of backlog.
        let mut backlog = Vec::new();
        for i in 0..300 {
            backlog.push(message("ops", None, Operation::Post, Lane::Alerts, &format!("alert {i}")));
        }
        send_all(&db.store, &backlog).await;
        let sink = RecordingSink::new(Platform::Slack);
        let config = DispatcherConfig { channel_rate: 10.0, ..fast() };
        let dispatcher = spawn(&db.store, &sink, config);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = Instant::now();
        send_all(&db.store, &[message("ops", None, Operation::Post, Lane::Interactive, "whoami")]).await;
        loop {
            if sink.delivered().iter().any(|c| c.reply.title == "whoami") {
                break;
            }
            assert!(asked.elapsed() < Duration::from_secs(2), "command reply stuck behind alerts");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let latency = asked.elapsed();
        assert!(latency < Duration::from_millis(500), "{latency:?}");
        let reply = sink.delivered().into_iter().find(|c| c.reply.title == "whoami").unwrap();
        assert_eq!(reply.channel, "ops");
        assert!(count(&db.store, "pending").await > 250, "alerts were still queued");
        dispatcher.shutdown().await;
        assert_eq!(row(&db.store, "whoami").await.0, "delivered");
    }

    async fn two_replicas_deliver_every_message_exactly_once(db) {
        let mut messages = Vec::new();
        for t in 0..30 {
            let thread = format!("incident:{t}");
            let ch = format!("ch{}", t % 6);
            messages.push(message(&ch, Some(&thread), Operation::PostRoot, Lane::Alerts, &format!("{t} root")));
            for i in 0..6 {
                messages.push(message(&ch, Some(&thread), Operation::Reply, Lane::Alerts, &format!("{t} r{i}")));
            }
        }
        for i in 0..40 {
            messages.push(message(&format!("ch{}", i % 6), None, Operation::Post, Lane::Interactive, &format!("cmd {i}")));
        }
        send_all(&db.store, &messages).await;
        let other = Store::connect(&db.url, 4).await.unwrap();
        let sink = RecordingSink::with_delay(Platform::Slack, Duration::from_millis(3));
        let a = spawn(&db.store, &sink, fast());
        let b = spawn(&other, &sink, fast());
        drained(&db.store, Duration::from_secs(30)).await;
        a.shutdown().await;
        b.shutdown().await;
        other.close().await;
        let seen = posted_titles(&sink);
        assert_eq!(seen.len(), messages.len());
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "posted more than once: {twice:?}");
        assert_eq!(count(&db.store, "delivered").await, messages.len() as i64);
        // Order within each thread held across replicas.
        for t in 0..30 {
            let prefix = format!("{t} ");
            let titles: Vec<String> = sink.delivered().iter()
                .map(|c| c.reply.title.clone())
                .filter(|title| title.starts_with(&prefix))
                .collect();
            let expected: Vec<String> = std::iter::once(format!("{t} root"))
                .chain((0..6).map(|i| format!("{t} r{i}"))).collect();
            assert_eq!(titles, expected);
        }
    }

    async fn a_dispatcher_killed_mid_batch_is_taken_over_exactly_once(db) {
        let mut messages = Vec::new();
        for i in 0..40 {
            messages.push(message(&format!("ch{}", i % 8), None, Operation::Post, Lane::Alerts, &format!("m{i}")));
        }
        send_all(&db.store, &messages).await;
        let sink = RecordingSink::new(Platform::Slack);
        sink.hang_after(10);
        let config = DispatcherConfig { lease: Duration::from_secs(1), ..fast() };
        let first = spawn(&db.store, &sink, config.clone());
        // Ten posts went through and were marked; every later call hangs inside the chat
        // API (none returns, so none is in the window between a post and its mark).
        // Wait for a call to be stuck as well: its row is claimed (the claim commits before
        // the call), so the kill below leaves at least that lease behind.
        while sink.calls().len() < 10 || sink.hanging() == 0 || count(&db.store, "delivered").await < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Claimed rows are left leased, some of them inside a chat call: kill -9.
        first.abort();
        let leased: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND claimed_by IS NOT NULL")
            .fetch_one(db.store.read_pool()).await.unwrap();
        assert!(leased > 0, "the crash left leases behind");
        sink.hang_after(usize::MAX);
        let restarted = spawn(&db.store, &sink, config);
        drained(&db.store, Duration::from_secs(15)).await;
        restarted.shutdown().await;
        let seen = posted_titles(&sink);
        assert_eq!(seen.len(), 40);
        assert!(seen.values().all(|n| *n == 1), "{seen:?}");
        let leased: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL")
            .fetch_one(db.store.read_pool()).await.unwrap();
        assert_eq!(leased, 0);
    }

    async fn a_post_the_platform_took_before_a_crash_is_not_posted_again(db) {
        let mut messages = Vec::new();
        for t in 0..4 {
            let thread = format!("incident:{t}");
            messages.push(message(&format!("ch{t}"), Some(&thread), Operation::PostRoot, Lane::Alerts, &format!("root{t}")));
            for r in 0..3 {
                messages.push(message(&format!("ch{t}"), Some(&thread), Operation::Reply, Lane::Alerts, &format!("r{t}.{r}")));
            }
            messages.push(message(&format!("ch{t}"), None, Operation::Post, Lane::Alerts, &format!("post{t}")));
        }
        send_all(&db.store, &messages).await;
        let sink = RecordingSink::keeping_tags(Platform::Slack);
        // After three calls the platform takes every post but the answers never arrive:
        // the process is killed between the post and recording it.
        sink.lose_answers_after(3);
        let config = DispatcherConfig { lease: Duration::from_secs(1), ..fast() };
        let first = spawn(&db.store, &sink, config.clone());
        while sink.calls().len() < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        first.abort();
        let lost_answers = sink.calls().len() - 3;
        sink.lose_answers_after(usize::MAX);
        let restarted = spawn(&db.store, &sink, config);
        drained(&db.store, Duration::from_secs(15)).await;
        restarted.shutdown().await;
        let seen = posted_titles(&sink);
        assert_eq!(seen.len(), 20, "{seen:?}");
        assert!(seen.values().all(|n| *n == 1), "posted twice after the crash ({lost_answers} answers lost): {seen:?}");
        // Replies went into the threads of the roots that were found, not new roots.
        let calls = sink.delivered();
        for t in 0..4 {
            let root = calls.iter().find(|c| c.reply.title == format!("root{t}")).unwrap().result.clone();
            for reply in calls.iter().filter(|c| c.reply.title.starts_with(&format!("r{t}."))) {
                assert_eq!(reply.target, root, "{} is in its root's thread", reply.reply.title);
            }
        }
    }

    async fn an_unanswered_post_is_claimed_again_only_as_uncertain(db) {
        // A post that got no answer is handed back in one statement: whoever claims it
        // next (another replica, or a restart after a crash right then) looks for the
        // post first. It used to be released (claimed_by NULL) and marked unanswered in
        // two statements; a claim in between saw it as never tried and posted it again.
        use crate::outbox::repo::{self, ClaimRequest};
        let th = Some("incident:5");
        send_all(&db.store, &[
            message("ops", th, Operation::PostRoot, Lane::Alerts, "root"),
            message("ops", th, Operation::Reply, Lane::Alerts, "update"),
            message("other", None, Operation::Post, Lane::Alerts, "elsewhere"),
        ]).await;
        let claim = |dispatcher: &'static str| {
            let store = db.store.clone();
            async move {
                let (heads, unreadable) = repo::claim_heads(&store, &ClaimRequest {
                    lane: Lane::Alerts,
                    dispatcher,
                    lease_until_us: jiff::Timestamp::now().as_microsecond() + 60_000_000,
                    platforms: &["slack"],
                    exclude: &[],
                    limit: 8,
                }).await.unwrap();
                assert!(unreadable.is_empty());
                heads
            }
        };
        let first = claim("first").await;
        assert_eq!(first.len(), 2, "one head per channel");
        let root = first.iter().find(|m| m.reply.title == "root").unwrap();
        let elsewhere = first.iter().find(|m| m.reply.title == "elsewhere").unwrap();
        assert!(!root.claim_lost);
        // Another dispatcher's lease is left alone.
        repo::schedule_unanswered(&db.store, &[elsewhere.id], 0, "no answer", "someone-else").await.unwrap();
        repo::schedule_unanswered(&db.store, &[root.id], 0, "no answer within 250ms", "first").await.unwrap();
        let again = claim("second").await;
        assert_eq!(again.len(), 1, "the other channel is still leased by first: {again:?}");
        assert_eq!(again[0].id, root.id);
        assert!(again[0].claim_lost, "claimed again as possibly posted");
        assert_eq!(again[0].attempts, 1, "the attempt counts");
        let (state, attempts, error) = row(&db.store, "root").await;
        assert_eq!((state.as_str(), attempts), ("pending", 1));
        assert_eq!(error.as_deref(), Some("no answer within 250ms"));
    }

    async fn an_unanswered_post_is_repeated_with_the_same_tag_and_messages(db) {
        // Every call reaches the platform, but no answer comes back in time: each is
        // repeated, and the platform (a Discord nonce) recognises the repeat by its tag
        // alone. Replies queued while the digest was in flight must not join its repeat
        // (a different tag would post the digest again).
        let th = Some("incident:9");
        let mut burst = vec![message("ops", th, Operation::PostRoot, Lane::Alerts, "root")];
        for i in 0..6 {
            burst.push(message("ops", th, Operation::Reply, Lane::Alerts, &format!("update {i}")));
        }
        send_all(&db.store, &burst).await;
        let sink = RecordingSink::recognising_repeats(Platform::Slack);
        sink.lose_answers_after(0);
        let config = DispatcherConfig { channel_rate: 50.0, lease: Duration::from_secs(1), ..fast() };
        let dispatcher = spawn(&db.store, &sink, config);
        let deadline = Instant::now() + Duration::from_secs(15);
        while sink.calls().len() < 2 {
            assert!(Instant::now() < deadline, "the digest was never posted: {:#?}", sink.calls());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let later: Vec<OutboxMessage> = (6..9)
            .map(|i| message("ops", th, Operation::Reply, Lane::Alerts, &format!("update {i}")))
            .collect();
        send_all(&db.store, &later).await;
        drained(&db.store, Duration::from_secs(15)).await;
        dispatcher.shutdown().await;
        let seen = posted_titles(&sink);
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert!(seen.values().all(|n| *n == 1), "posted twice: {seen:?}");
        let calls = sink.delivered();
        assert_eq!(calls[1].reply.title, "6 updates", "{calls:#?}");
        assert_eq!(count(&db.store, "delivered").await, 10);
    }

    async fn shutdown_releases_claims_and_unknown_platforms_wait(db) {
        let mut discord = message("ops", None, Operation::Post, Lane::Alerts, "for discord");
        discord.platform = Platform::Discord;
        send_all(&db.store, &[discord]).await;
        let sink = RecordingSink::new(Platform::Slack);
        let dispatcher = spawn(&db.store, &sink, fast());
        tokio::time::sleep(Duration::from_millis(200)).await;
        dispatcher.shutdown().await;
        assert!(sink.calls().is_empty());
        assert_eq!(row(&db.store, "for discord").await.0, "pending");
        let discord_sink = RecordingSink::new(Platform::Discord);
        let dispatcher = spawn(&db.store, &discord_sink, fast());
        drained(&db.store, Duration::from_secs(10)).await;
        dispatcher.shutdown().await;
        assert_eq!(discord_sink.delivered().len(), 1);
    }

    async fn a_reply_without_a_root_goes_to_the_channel_and_an_edit_becomes_the_root(db) {
        let sink = RecordingSink::new(Platform::Slack);
        sink.fail(Some("root"), DeliveryError::Permanent("channel_not_found".into()), 1);
        let th = Some("incident:3");
        send_all(&db.store, &[
            message("ops", th, Operation::PostRoot, Lane::Alerts, "root"),
            message("ops", th, Operation::Reply, Lane::Alerts, "orphan"),
            message("ops", th, Operation::EditRoot, Lane::Alerts, "root v2"),
            message("ops", th, Operation::Reply, Lane::Interactive, "cmd reply"),
        ]).await;
        let dispatcher = spawn(&db.store, &sink, fast());
        drained(&db.store, Duration::from_secs(10)).await;
        dispatcher.shutdown().await;
        let calls = sink.delivered();
        let by_title = |t: &str| calls.iter().find(|c| c.reply.title == t).unwrap().clone();
        assert_eq!(by_title("orphan").target, None);
        let new_root = by_title("root v2");
        assert_eq!(new_root.kind, CallKind::Post);
        assert_eq!(row(&db.store, "root").await.0, "failed");
    }

    async fn a_claim_takes_the_oldest_head_per_channel_from_a_bounded_window(db) {
        // 1,100 standalone posts for ch-a (more than the claim window), then one for
        // ch-b and a thread of two for ch-c.
        let mut tx = db.store.pool().begin().await.unwrap();
        for i in 0..1100 {
            let m = message("ch-a", None, Operation::Post, Lane::Alerts, &format!("a{i}"));
            assert!(Outbox::enqueue(&mut tx, &m).await.unwrap());
        }
        for m in [
            message("ch-b", None, Operation::Post, Lane::Alerts, "b0"),
            message("ch-c", Some("incident:1"), Operation::PostRoot, Lane::Alerts, "c-root"),
            message("ch-c", Some("incident:1"), Operation::Reply, Lane::Alerts, "c-reply"),
        ] {
            assert!(Outbox::enqueue(&mut tx, &m).await.unwrap());
        }
        tx.commit().await.unwrap();
        let claim = |exclude: Vec<String>| {
            let store = db.store.clone();
            async move {
                let request = crate::outbox::repo::ClaimRequest {
                    lane: Lane::Alerts,
                    dispatcher: "test",
                    lease_until_us: jiff::Timestamp::now().as_microsecond() + 60_000_000,
                    platforms: &["slack"],
                    exclude: &exclude,
                    limit: 8,
                };
                let (heads, unreadable) = crate::outbox::repo::claim_heads(&store, &request).await.unwrap();
                assert!(unreadable.is_empty());
                heads.into_iter().map(|h| h.reply.title).collect::<Vec<_>>()
            }
        };
        // The window holds only ch-a's oldest posts: one head, the oldest.
        assert_eq!(claim(Vec::new()).await, ["a0"]);
        // With ch-a busy (a delivery in flight), its backlog does not fill the window:
        // the other channels' heads come next, a thread's reply not before its root.
        assert_eq!(claim(vec!["slack/ch-a".into()]).await, ["b0", "c-root"]);
        assert!(claim(vec!["slack/ch-a".into()]).await.is_empty(), "leased, and c-reply waits for its root");
    }

    async fn on_the_alerts_lane_roots_go_first_then_edits_then_replies_and_a_leased_channel_waits(db) {
        // #ops: incident 1's root already posted, two replies queued for its thread;
        // incident 0's root edit; then incident 2 opens (its root), then a storm board's
        // edit. The same kinds on the interactive lane for #cmd.
        let mut tx = db.store.pool().begin().await.unwrap();
        for m in [
            message("ops", Some("incident:1"), Operation::Reply, Lane::Alerts, "1 reply a"),
            message("ops", Some("incident:1"), Operation::Reply, Lane::Alerts, "1 reply b"),
            message("ops", Some("incident:0"), Operation::EditRoot, Lane::Alerts, "0 edit"),
            message("ops", Some("incident:2"), Operation::PostRoot, Lane::Alerts, "2 root"),
            message("ops", Some("storm:1:0"), Operation::EditRoot, Lane::Alerts, "board"),
            message("cmd", Some("cmd:1"), Operation::Reply, Lane::Interactive, "cmd reply"),
            message("cmd", Some("cmd:2"), Operation::PostRoot, Lane::Interactive, "cmd root"),
        ] {
            assert!(Outbox::enqueue(&mut tx, &m).await.unwrap());
        }
        tx.commit().await.unwrap();
        let claim = |lane: Lane, dispatcher: &'static str| {
            let store = db.store.clone();
            async move {
                let request = crate::outbox::repo::ClaimRequest {
                    lane,
                    dispatcher,
                    lease_until_us: jiff::Timestamp::now().as_microsecond() + 60_000_000,
                    platforms: &["slack"],
                    exclude: &[],
                    limit: 8,
                };
                let (heads, _) = crate::outbox::repo::claim_heads(&store, &request).await.unwrap();
                heads.into_iter().map(|h| h.reply.title).collect::<Vec<_>>()
            }
        };
        let delivered = |id: i64| {
            let store = db.store.clone();
            async move {
                sqlx::query("UPDATE outbox SET state = 'delivered', claimed_until_us = NULL WHERE id = $1")
                    .bind(id)
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
        };
        // What shows a new incident goes first, before older edits and replies.
        assert_eq!(claim(Lane::Alerts, "replica-1").await, ["2 root"]);
        // Another replica finds #ops leased: it leaves the channel to the one delivering.
        assert!(claim(Lane::Alerts, "replica-2").await.is_empty());
        crate::outbox::repo::release(&db.store, &[4], "replica-1").await.unwrap();
        assert_eq!(claim(Lane::Alerts, "replica-2").await, ["2 root"]);
        delivered(4).await;
        // Then the roots' edits, oldest first; the replies of a shown thread last.
        assert_eq!(claim(Lane::Alerts, "replica-1").await, ["0 edit"]);
        delivered(3).await;
        assert_eq!(claim(Lane::Alerts, "replica-1").await, ["board"]);
        delivered(5).await;
        assert_eq!(claim(Lane::Alerts, "replica-1").await, ["1 reply a"]);
        // Command replies keep their order: the oldest head first.
        assert_eq!(claim(Lane::Interactive, "replica-1").await, ["cmd reply"]);
    }

}
