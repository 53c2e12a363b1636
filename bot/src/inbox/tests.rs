//! The inbox on both backends: replays refused across handles (replicas, restarts), the
//! reply and the "done" mark in one transaction, and the recovery sweep answering and
//! auditing each interrupted invocation exactly once.

use std::time::Duration;

use opsbot_commands::{Catalog, Platform, Registry, Reply};

use super::{Accepted, Delivery, Inbox, recovery};
use crate::{
    audit::AuditWriter,
    outbox::{Lane, Operation, OutboxMessage},
    store::{Store, scratch::backend_tests},
};

fn delivery(platform: Platform, id: &str, text: &str) -> Delivery {
    Delivery {
        platform,
        delivery_id: id.to_string(),
        request_id: format!("request-{id}"),
        actor_id: "U1".into(),
        actor_name: "alice".into(),
        channel: "C1".into(),
        thread: None,
        text: text.into(),
        answer_to: Some(format!("C1/only=U1/response=1700000000:https://hooks/{id}")),
        answer_until: None,
        remember_for: Duration::from_secs(360),
    }
}

fn reply(platform: Platform, id: &str) -> OutboxMessage {
    OutboxMessage {
        platform,
        channel: "C1".into(),
        thread_key: None,
        operation: Operation::Post,
        lane: Lane::Interactive,
        reply: Reply::success("done"),
        dedupe_key: Delivery::reply_key(platform, id),
    }
}

async fn states(store: &Store) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT platform, delivery_id, state FROM inbox ORDER BY platform, delivery_id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// (dedupe key, channel, reply JSON) of every outbox message.
async fn outbox(store: &Store) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT dedupe_key, channel, reply FROM outbox ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// (request id, decision, outcome) of every audit record.
async fn audit(store: &Store) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT request_id, decision, outcome FROM audit_log ORDER BY seq")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

fn judge_parts() -> (Registry, Catalog) {
    (
        Registry::new(opsbot_commands::builtin::COMMANDS),
        Catalog::new(Vec::new()).unwrap(),
    )
}

backend_tests! {
    async fn a_replay_is_refused_by_any_handle_on_the_store(db) {
        let first = Inbox::spawn(db.store.clone(), "one".into(), Duration::from_secs(30));
        let other = Inbox::spawn(db.store.clone(), "two".into(), Duration::from_secs(30));
        let d = delivery(Platform::Slack, "command:1", "whoami");
        assert_eq!(first.accept(d.clone()).await.unwrap(), Accepted::New);
        assert_eq!(first.accept(d.clone()).await.unwrap(), Accepted::Replay);
        assert_eq!(other.accept(d.clone()).await.unwrap(), Accepted::Replay, "another replica");
        // The same id on another platform is another delivery.
        let discord = delivery(Platform::Discord, "command:1", "whoami");
        assert_eq!(other.accept(discord).await.unwrap(), Accepted::New);
        // Concurrent accepts of one id: exactly one is new.
        let racers: Vec<_> = (0..20)
            .map(|n| {
                let inbox = if n % 2 == 0 { first.clone() } else { other.clone() };
                let d = delivery(Platform::Slack, "command:race", "whoami");
                tokio::spawn(async move { inbox.accept(d).await.unwrap() })
            })
            .collect();
        let mut new = 0;
        for racer in racers {
            if racer.await.unwrap() == Accepted::New {
                new += 1;
            }
        }
        assert_eq!(new, 1);
        // Finished: still refused.
        first.finish(Platform::Slack, "command:1", reply(Platform::Slack, "command:1")).await.unwrap();
        assert_eq!(other.accept(d).await.unwrap(), Accepted::Replay);
    }

    async fn finish_queues_the_reply_and_marks_done_together(db) {
        let inbox = Inbox::spawn(db.store.clone(), "one".into(), Duration::from_secs(30));
        inbox.accept(delivery(Platform::Slack, "command:1", "whoami")).await.unwrap();
        inbox.accept(delivery(Platform::Discord, "77", "whoami")).await.unwrap();
        inbox.finish(Platform::Slack, "command:1", reply(Platform::Slack, "command:1")).await.unwrap();
        assert_eq!(
            states(&db.store).await,
            [
                ("discord".to_string(), "77".to_string(), "accepted".to_string()),
                ("slack".to_string(), "command:1".to_string(), "done".to_string()),
            ]
        );
        let queued = outbox(&db.store).await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].0, "slack:command:1:reply");
    }

    async fn the_sweep_answers_and_audits_what_a_dead_process_left_exactly_once(db) {
        let lease = Duration::from_millis(200);
        let dead = Inbox::spawn(db.store.clone(), "dead".into(), lease);
        for (id, text) in [
            ("command:1", "restart svc"),
            ("command:2", "whoami"),
            ("command:3", "confirm abc"),
            ("command:4", "whoami"),
        ] {
            dead.accept(delivery(Platform::Slack, id, text)).await.unwrap();
        }
        dead.accept(delivery(Platform::Discord, "88", "not a command")).await.unwrap();
        // Finished before the crash: left alone.
        dead.finish(Platform::Slack, "command:4", reply(Platform::Slack, "command:4")).await.unwrap();
        let audit_writer = AuditWriter::spawn(db.store.clone());
        let (registry, catalog) = judge_parts();
        let judge = recovery::Judge { registry: &registry, catalog: &catalog, audit: &audit_writer };
        let alive = Inbox::spawn(db.store.clone(), "alive".into(), lease);
        // Its own open rows are never taken (it is running them).
        alive.accept(delivery(Platform::Slack, "command:mine", "whoami")).await.unwrap();
        if db.store.backend() == crate::store::Backend::Postgres {
            // On PostgreSQL the dead owner's lease must lapse first.
            assert_eq!(recovery::sweep(&alive, &judge).await.unwrap(), 0);
            // The rows were accepted in more than one group commit, so their leases may
            // lapse a moment apart: sweep until all four are taken.
            let lapsed = async {
                let mut taken = 0;
                while taken < 4 {
                    taken += recovery::sweep(&alive, &judge).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                taken
            };
            let taken = tokio::time::timeout(Duration::from_secs(30), lapsed).await.expect("lease lapses");
            assert_eq!(taken, 4);
        } else {
            assert_eq!(recovery::sweep(&alive, &judge).await.unwrap(), 4);
        }
        assert_eq!(recovery::sweep(&alive, &judge).await.unwrap(), 0, "each once");
        let queued = outbox(&db.store).await;
        let keys: Vec<&str> = queued.iter().map(|(key, _, _)| key.as_str()).collect();
        assert_eq!(keys.len(), 5);
        for key in ["slack:command:1:reply", "slack:command:2:reply", "slack:command:3:reply",
            "discord:interaction:88", "slack:command:4:reply"] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        let text_of = |key: &str| {
            let (_, channel, reply) = queued.iter().find(|(k, _, _)| k == key).unwrap();
            (channel.clone(), reply.clone())
        };
        // An unconfirmed destructive command did nothing; said so through its response_url.
        let (channel, restart) = text_of("slack:command:1:reply");
        assert!(restart.contains("opsbot restarted before running `restart svc`; nothing was done, run it again."), "{restart}");
        assert_eq!(channel, "C1/only=U1/response=1700000000:https://hooks/command:1");
        let (_, confirm) = text_of("slack:command:3:reply");
        assert!(confirm.contains("may or may not have taken effect"), "{confirm}");
        let (_, unparsed) = text_of("discord:interaction:88");
        assert!(unparsed.contains("nothing was done"), "{unparsed}");
        // Audited once each, with the request id given at acceptance.
        let records = audit(&db.store).await;
        let mut ids: Vec<&str> = records.iter().map(|(id, _, _)| id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["request-88", "request-command:1", "request-command:2", "request-command:3"]);
        assert!(records.iter().all(|(_, decision, _)| decision == "cancelled"));
        let open: Vec<_> = states(&db.store).await.into_iter().filter(|(_, _, s)| s != "done").collect();
        assert_eq!(open, [("slack".to_string(), "command:mine".to_string(), "accepted".to_string())]);
        audit_writer.close().await;
    }

    async fn an_invocation_audited_before_the_crash_is_not_audited_again(db) {
        let dead = Inbox::spawn(db.store.clone(), "dead".into(), Duration::ZERO);
        dead.accept(delivery(Platform::Slack, "command:9", "whoami")).await.unwrap();
        let audit_writer = AuditWriter::spawn(db.store.clone());
        // The process died after the audit write, before queueing the reply.
        let record = crate::audit::AuditRecord {
            at: jiff::Timestamp::now(),
            request_id: "request-command:9".into(),
            platform: "slack".into(),
            actor_id: "U1".into(),
            actor_name: "alice".into(),
            channel: "C1".into(),
            thread: None,
            text: "whoami".into(),
            command: Some("whoami".into()),
            service: None,
            environment: None,
            decision: crate::audit::Decision::Allowed,
            reason: String::new(),
            approver: None,
            outcome: crate::audit::Outcome::Ok,
            summary: "You are alice".into(),
            duration_ms: 1,
        };
        audit_writer.append(record).await.unwrap();
        let (registry, catalog) = judge_parts();
        let judge = recovery::Judge { registry: &registry, catalog: &catalog, audit: &audit_writer };
        let alive = Inbox::spawn(db.store.clone(), "alive".into(), Duration::from_secs(30));
        let recovered = async {
            while recovery::sweep(&alive, &judge).await.unwrap() == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), recovered).await.expect("recovered");
        assert_eq!(audit(&db.store).await.len(), 1, "not audited twice");
        let queued = outbox(&db.store).await;
        assert_eq!(queued.len(), 1);
        assert!(queued[0].2.contains("allowed, ok: You are alice"), "{}", queued[0].2);
        audit_writer.close().await;
    }

    async fn done_rows_are_forgotten_after_their_window(db) {
        let inbox = Inbox::spawn(db.store.clone(), "one".into(), Duration::from_secs(30));
        let mut short = delivery(Platform::Slack, "command:old", "whoami");
        short.remember_for = Duration::ZERO;
        inbox.accept(short.clone()).await.unwrap();
        inbox.accept(delivery(Platform::Slack, "command:new", "whoami")).await.unwrap();
        // An open row is never pruned, whatever its window.
        let audit_writer = AuditWriter::spawn(db.store.clone());
        let (registry, catalog) = judge_parts();
        let judge = recovery::Judge { registry: &registry, catalog: &catalog, audit: &audit_writer };
        recovery::sweep(&inbox, &judge).await.unwrap();
        assert_eq!(states(&db.store).await.len(), 2);
        for id in ["command:old", "command:new"] {
            inbox.finish(Platform::Slack, id, reply(Platform::Slack, id)).await.unwrap();
        }
        recovery::sweep(&inbox, &judge).await.unwrap();
        assert_eq!(
            states(&db.store).await,
            [("slack".to_string(), "command:new".to_string(), "done".to_string())]
        );
        audit_writer.close().await;
    }
}
