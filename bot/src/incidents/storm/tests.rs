//! The storm roll-up on both backends, without chat: what the store and the outbox hold
//! as a channel falls behind (folding), is tended (board pages, unfolding) and drains
//! (closing summary). Delivery is played by marking outbox rows delivered.

use opsbot_alerts::{AlertBatch, parse_alertmanager};
use opsbot_commands::{Actor, Invocation, Platform, context::IncidentDesk};
use sqlx::Row;

use crate::{
    incidents::{IncidentStatus, Incidents, repo as incidents_repo},
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::{Store, scratch::backend_tests},
};

const CONFIG: &str = r##"
[outbox]
channel_rate = 1

[outbox.storm]
horizon = "3s"
board_interval = "1s"
channels = { "slack:#quiet" = "off" }

[alerts]
default_channel = { console = "console" }

[[escalation]]
name = "page-now"
levels = [{ name = "L1", mention = ["@ai-ops"], after = "0m" }]

[[services]]
name = "gateway"
environment = "prod"
channels = { slack = "#ops" }
escalation = "page-now"

[[services]]
name = "rag"
environment = "prod"
channels = { slack = "#ops" }

[[services]]
name = "quiet"
environment = "prod"
channels = { slack = "#quiet" }
"##;

fn incidents(store: &Store) -> Incidents {
    Incidents::of_config(store, CONFIG)
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// A horizon (3 s) and more after now: the storm has subsided by then, when nothing
/// changes meanwhile.
fn subsided() -> jiff::Timestamp {
    now()
        .checked_add(jiff::SignedDuration::from_secs(4))
        .unwrap()
}

/// One Alertmanager group `name` of `service`, firing, at `severity`.
fn group(name: &str, service: &str, severity: &str) -> AlertBatch {
    group_now(name, service, severity, "firing")
}

/// The same group, its one alert `status` (`firing`, `resolved`).
fn group_now(name: &str, service: &str, severity: &str, status: &str) -> AlertBatch {
    let body = format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"{name}\"}}","status":"{status}","receiver":"opsbot",
        "groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"alerts":[
        {{"status":"{status}","labels":{{"alertname":"{name}","service":"{service}","severity":"{severity}"}},
          "annotations":{{"summary":"{name}"}},"startsAt":"2026-11-20T06:59:00Z"}}]}}"#
    );
    parse_alertmanager(body.as_bytes()).unwrap()
}

/// Queues `n` alerts-lane chat calls in `channel` that the test "delivers" later.
async fn hold_backlog(store: &Store, channel: &str, n: usize) {
    let mut conn = store.pool().acquire().await.unwrap();
    for k in 0..n {
        let message = OutboxMessage {
            platform: Platform::Slack,
            channel: channel.to_string(),
            thread_key: Some(format!("held:{k}")),
            operation: Operation::Reply,
            lane: Lane::Alerts,
            reply: opsbot_commands::Reply::info("held"),
            dedupe_key: format!("held:{channel}:{k}"),
        };
        Outbox::enqueue(&mut conn, &message).await.unwrap();
    }
}

/// Plays the dispatcher: everything queued is delivered.
async fn deliver_everything(store: &Store) {
    sqlx::query("UPDATE outbox SET state = 'delivered' WHERE state = 'pending'")
        .execute(store.pool())
        .await
        .unwrap();
}

/// `(thread_key, lane)` of root posts queued in `channel` on Slack, in order.
async fn roots(store: &Store, channel: &str) -> Vec<(String, String)> {
    let query = sqlx::query(
        "SELECT thread_key, lane FROM outbox WHERE platform = 'slack' AND channel = $1 \
         AND operation = 'post_root' ORDER BY id",
    );
    two_columns(
        query
            .bind(channel)
            .fetch_all(store.read_pool())
            .await
            .unwrap(),
    )
}

/// Rows of two text columns, as pairs.
fn two_columns(rows: Vec<sqlx::any::AnyRow>) -> Vec<(String, String)> {
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// The newest content queued for page `page` of board `board`.
async fn page(store: &Store, board: i64, page: i64) -> String {
    sqlx::query_scalar(
        "SELECT reply FROM outbox WHERE thread_key = $1 \
         AND operation IN ('post_root', 'edit_root') ORDER BY id DESC LIMIT 1",
    )
    .bind(crate::incidents::storm::repo::page_thread(board, page))
    .fetch_one(store.read_pool())
    .await
    .unwrap()
}

/// Incident ids named `#N ` on a rendered board page.
fn ids_on(page: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = page
        .split(" #")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

async fn board_of(store: &Store, channel: &str) -> Option<i64> {
    let mut conn = store.read_pool().acquire().await.unwrap();
    crate::incidents::storm::repo::open_board(&mut conn, Platform::Slack, channel)
        .await
        .unwrap()
}

fn invocation() -> Invocation {
    Invocation::new(
        Actor::new(Platform::Slack, "U1", "Alice"),
        "#ops",
        "incident",
    )
}

/// Sets columns of the queued root of incident `id` in `channel` (`SET` clause `set`).
async fn mark_root(store: &Store, id: i64, channel: &str, set: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE outbox SET {set} WHERE thread_key = $1 AND channel = $2 \
         AND operation = 'post_root'"
    )))
    .bind(format!("incident:{id}"))
    .bind(channel)
    .execute(store.pool())
    .await
    .unwrap();
}

/// Incident ids folded into `board` now.
async fn folded_into(store: &Store, board: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT incident_id FROM incident_messages WHERE storm_board = $1 AND folded = 1 \
         ORDER BY incident_id",
    )
    .bind(board)
    .fetch_all(store.read_pool())
    .await
    .unwrap()
}

/// Edits and posts queued for page 0 of `board`.
async fn board_renders(store: &Store, board: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE thread_key = $1 AND operation = 'edit_root'",
    )
    .bind(crate::incidents::storm::repo::page_thread(board, 0))
    .fetch_one(store.read_pool())
    .await
    .unwrap()
}

/// The newest `operation` message in incident `id`'s thread in #ops (its content).
async fn in_thread(store: &Store, id: i64, operation: &str) -> String {
    sqlx::query_scalar(
        "SELECT reply FROM outbox WHERE thread_key = $1 AND operation = $2 \
         AND channel = '#ops' ORDER BY id DESC LIMIT 1",
    )
    .bind(format!("incident:{id}"))
    .bind(operation)
    .fetch_one(store.read_pool())
    .await
    .unwrap()
}

/// The closing summary queued for `board`.
async fn closing_summary(store: &Store, board: i64) -> String {
    sqlx::query_scalar("SELECT reply FROM outbox WHERE dedupe_key = $1")
        .bind(format!("storm:{board}:closed"))
        .fetch_one(store.read_pool())
        .await
        .unwrap()
}

/// Queues a responder's message in incident `id`'s thread in #ops (interactive lane): a
/// responder is acting on it.
async fn responder_note(store: &Store, id: i64) {
    let note = OutboxMessage {
        platform: Platform::Slack,
        channel: "#ops".into(),
        thread_key: Some(format!("incident:{id}")),
        operation: Operation::Reply,
        lane: Lane::Interactive,
        reply: opsbot_commands::Reply::info("looking"),
        dedupe_key: format!("responder-note:{id}"),
    };
    Outbox::enqueue(&mut store.pool().acquire().await.unwrap(), &note)
        .await
        .unwrap();
}

/// `(operation, lane)` of every message of incident `id`'s thread in `channel`, in order.
async fn thread_ops(store: &Store, id: i64, channel: &str) -> Vec<(String, String)> {
    let query = sqlx::query(
        "SELECT operation, lane FROM outbox WHERE thread_key = $1 AND channel = $2 ORDER BY id",
    );
    let query = query.bind(format!("incident:{id}")).bind(channel);
    two_columns(query.fetch_all(store.read_pool()).await.unwrap())
}

fn ops(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(o, l)| (o.to_string(), l.to_string()))
        .collect()
}

backend_tests! {
    async fn the_storm_metrics_follow_a_board_from_fold_to_drain(db) {
        let store = &db.store;
        let i = incidents(store);
        let metrics = crate::incidents::storm::StormMetrics::default();
        hold_backlog(store, "#ops", 4).await;
        for (name, service) in [("GatewayDown", "gateway"), ("RagDown", "rag")] {
            i.ingest(&group(name, service, "critical"), now()).await.unwrap();
        }
        // [boards open, incidents folded, board edits, unfolded, drains]
        i.tend_storm_boards_measured(now(), &metrics).await.unwrap();
        assert_eq!(metrics.values(), [1, 2, 1, 0, 0]);
        // Drained, but the incidents changed a moment ago: the storm has not subsided,
        // nothing is unfolded yet.
        deliver_everything(store).await;
        i.tend_storm_boards_measured(now(), &metrics).await.unwrap();
        assert_eq!(metrics.values()[3], 0, "unfolded while the storm went on");
        let mut rounds = 0;
        while metrics.values()[4] == 0 {
            rounds += 1;
            assert!(rounds <= 10, "the board never closed: {:?}", metrics.values());
            deliver_everything(store).await;
            i.tend_storm_boards_measured(subsided(), &metrics).await.unwrap();
        }
        let [open, folded, edits, unfolded, drains] = metrics.values();
        assert_eq!((open, folded, unfolded, drains), (0, 0, 2, 1));
        assert!(edits >= 2, "the final board was rendered too: {edits}");
    }

    async fn a_storming_channel_folds_new_incidents_until_it_drains(db) {
        let store = &db.store;
        let i = incidents(store);
        // Four calls queued in #ops: 4 s of work at 1/s, past the 3 s horizon.
        hold_backlog(store, "#ops", 4).await;
        hold_backlog(store, "#quiet", 4).await;
        let mut ids = Vec::new();
        for (name, service, severity) in [
            ("GatewayDown", "gateway", "critical"),
            ("GatewaySlow", "gateway", "warning"),
            ("RagSlow", "rag", "warning"),
            ("RagDown", "rag", "critical"),
        ] {
            ids.extend(i.ingest(&group(name, service, severity), now()).await.unwrap().incidents);
        }
        assert_eq!(ids.len(), 4);
        let quiet = i.ingest(&group("QuietDown", "quiet", "critical"), now()).await.unwrap().incidents;
        // Folded: no root of their own in #ops, only the board's first message (on the
        // interactive lane); `off` keeps today's behaviour in #quiet; the console (not
        // rate limited) never folds.
        let board = board_of(store, "#ops").await.expect("a board is open in #ops");
        let board_root = (format!("storm:{board}:0"), "interactive".to_string());
        assert_eq!(roots(store, "#ops").await, std::slice::from_ref(&board_root));
        assert_eq!(roots(store, "#quiet").await, [(format!("incident:{}", quiet[0]), "alerts".to_string())]);
        assert!(board_of(store, "#quiet").await.is_none());
        let console_roots: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE platform = 'console' AND operation = 'post_root'",
        )
        .fetch_one(store.read_pool())
        .await
        .unwrap();
        assert_eq!(console_roots, 5);
        // Who was paged is told in the board's thread, ahead of the backlog.
        let paged: Vec<(String, String)> = sqlx::query(
            "SELECT reply, lane FROM outbox WHERE thread_key = $1 AND operation = 'reply'",
        )
        .bind(crate::incidents::storm::repo::page_thread(board, 0))
        .fetch_all(store.read_pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        assert_eq!(paged.len(), 2, "both gateway incidents paged L1: {paged:?}");
        assert!(paged.iter().all(|(reply, lane)| reply.contains("@ai-ops") && lane == "interactive"));

        // The keeper posts the board: every folded incident, most severe first, agreeing
        // with `incident list`.
        let tended = i.tend_storm_boards(now()).await.unwrap();
        assert!(tended[0].edited && tended[0].unfolded == 0 && !tended[0].closed, "{tended:?}");
        assert_eq!(roots(store, "#ops").await, std::slice::from_ref(&board_root), "the board is edited");
        let edits: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE thread_key = $1 AND operation = 'edit_root'",
        )
        .bind(&board_root.0)
        .fetch_one(store.read_pool())
        .await
        .unwrap();
        assert_eq!(edits, 1);
        let first = page(store, board, 0).await;
        let listed: Vec<i64> = {
            let mut l: Vec<i64> = i.list(false, 100).await.unwrap().iter()
                .filter(|v| v.service.as_deref() != Some("quiet")).map(|v| v.id).collect();
            l.sort_unstable();
            l
        };
        assert_eq!(ids_on(&first), listed, "{first}");
        let critical = first.find(&format!("#{} ", ids[0])).unwrap();
        let warning = first.find(&format!("#{} ", ids[1])).unwrap();
        assert!(critical < warning, "critical first: {first}");
        assert!(first.contains("gateway: 1 critical, 1 warning"), "{first}");
        // Nothing changed: no edit.
        let again = i.tend_storm_boards(now()).await.unwrap();
        assert!(!again[0].edited, "{again:?}");

        // `incident show` gives one incident its own root and thread, on the interactive
        // lane; the board drops it at its next edit.
        i.show(ids[3]).await.unwrap().unwrap();
        let thread = format!("incident:{}", ids[3]);
        assert!(roots(store, "#ops").await.contains(&(thread.clone(), "interactive".to_string())));
        let catch_up: String = sqlx::query_scalar(
            "SELECT reply FROM outbox WHERE thread_key = $1 AND operation = 'reply' AND channel = '#ops'",
        )
        .bind(&thread)
        .fetch_one(store.read_pool())
        .await
        .unwrap();
        assert!(catch_up.contains("was on the storm board"), "{catch_up}");
        i.show(ids[3]).await.unwrap().unwrap();
        assert_eq!(roots(store, "#ops").await.iter().filter(|r| r.0 == thread).count(), 1, "one root only");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        i.tend_storm_boards(now()).await.unwrap();
        assert!(!ids_on(&page(store, board, 0).await).contains(&ids[3]));

        // Acknowledging a service from the board keeps its incidents on the board.
        let acked = i.acknowledge_service("gateway", &invocation()).await.unwrap();
        assert_eq!(acked.iter().map(|v| v.id).collect::<Vec<_>>(), [ids[0], ids[1]]);
        assert_eq!(roots(store, "#ops").await.len(), 2, "no new roots");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        i.tend_storm_boards(now()).await.unwrap();
        let after_ack = page(store, board, 0).await;
        assert!(after_ack.contains("acknowledged"), "{after_ack}");
        // A responder acting on one incident gives it its thread.
        i.act(ids[2], opsbot_commands::context::IncidentAction::Note("looking".into()), &invocation()).await.unwrap();
        assert!(roots(store, "#ops").await.iter().any(|r| r.0 == format!("incident:{}", ids[2])));

        // Resolved while folded: it stays on the board, resolved.
        i.ingest(&group_now("GatewaySlow", "gateway", "warning", "resolved"), now()).await.unwrap();
        // The channel drains: the rest get their own thread (the horizon has room for one
        // at a time), then the board closes with a summary.
        let mut closed = false;
        for _ in 0..10 {
            deliver_everything(store).await;
            let tended = i.tend_storm_boards(subsided()).await.unwrap();
            if tended.iter().any(|t| t.closed) {
                closed = true;
                break;
            }
        }
        assert!(closed, "the board closes once the channel drained");
        assert!(board_of(store, "#ops").await.is_none());
        let summary = closing_summary(store, board).await;
        assert!(summary.contains("4 incidents were folded"), "{summary}");
        assert!(summary.contains("3 got their own thread, 1 resolved on the board"), "{summary}");
        let threads: Vec<String> = roots(store, "#ops").await.into_iter().map(|r| r.0).collect();
        for id in [ids[0], ids[2], ids[3]] {
            assert_eq!(threads.iter().filter(|t| **t == format!("incident:{id}")).count(), 1, "{threads:?}");
        }
        assert!(!threads.contains(&format!("incident:{}", ids[1])), "{threads:?}");
        // Firing again after the board closed, it is not lost on the closed board: it
        // gets its own root and thread, once.
        deliver_everything(store).await;
        i.ingest(&group("GatewaySlow", "gateway", "warning"), now()).await.unwrap();
        i.ingest(&group_now("GatewaySlow", "gateway", "critical", "firing"), now()).await.unwrap();
        let posts: Vec<String> = sqlx::query_scalar(
            "SELECT operation FROM outbox WHERE thread_key = $1 AND channel = '#ops' \
             AND operation IN ('post_root', 'edit_root') ORDER BY id",
        )
        .bind(format!("incident:{}", ids[1]))
        .fetch_all(store.read_pool())
        .await
        .unwrap();
        assert_eq!(posts, ["post_root", "edit_root"]);
        let mut conn = store.read_pool().acquire().await.unwrap();
        let statuses: Vec<IncidentStatus> = {
            let mut s = Vec::new();
            for id in &ids {
                s.push(incidents_repo::get(&mut conn, store.backend(), *id, false).await.unwrap().unwrap().status);
            }
            s
        };
        assert_eq!(statuses[0], IncidentStatus::Acknowledged);
        drop(conn);

        // An open incident folded into the board as it closed (another replica's
        // ingest racing the close) is not left there: the next round gives it a thread.
        sqlx::query("UPDATE incident_messages SET folded = 1, storm_board = $1 WHERE incident_id = $2 AND platform = 'slack'")
            .bind(board)
            .bind(ids[2])
            .execute(store.pool())
            .await
            .unwrap();
        deliver_everything(store).await;
        let rescued = i.tend_storm_boards(now()).await.unwrap();
        assert_eq!(rescued.iter().map(|t| t.unfolded).sum::<usize>(), 1, "{rescued:?}");
        assert_eq!(i.tend_storm_boards(now()).await.unwrap(), [], "rescued once");
        deliver_everything(store).await;
        // Normal behaviour resumes: the next incident gets its own root.
        let next = i.ingest(&group("After", "rag", "warning"), now()).await.unwrap().incidents;
        assert!(roots(store, "#ops").await.contains(&(format!("incident:{}", next[0]), "alerts".to_string())));
        assert!(board_of(store, "#ops").await.is_none());
    }

    async fn an_incident_folded_into_a_board_has_no_thread_to_report_in(db) {
        let store = &db.store;
        let i = incidents(store);
        hold_backlog(store, "#ops", 4).await;
        hold_backlog(store, "#quiet", 4).await;
        let folded = i.ingest(&group("GatewayDown", "gateway", "critical"), now()).await.unwrap().incidents[0];
        let quiet = i.ingest(&group("QuietDown", "quiet", "critical"), now()).await.unwrap().incidents[0];
        assert!(board_of(store, "#ops").await.is_some());
        // What an automation is told: the folded incident is in #ops without a thread
        // (the board stands for it); the one in #quiet (roll-up off) has its thread.
        let only_slack = |mut facts: crate::incidents::FiredFacts| {
            facts.places.retain(|p| p.platform == "slack");
            facts
        };
        let facts = only_slack(i.fired_facts(folded).await.unwrap().unwrap());
        assert_eq!(facts.places.len(), 1);
        assert_eq!((facts.places[0].channel.as_str(), facts.places[0].threaded), ("#ops", false));
        let (place, thread) = facts.report_place().unwrap();
        assert_eq!((place.channel.as_str(), thread), ("#ops", None));
        let facts = only_slack(i.fired_facts(quiet).await.unwrap().unwrap());
        let (place, thread) = facts.report_place().unwrap();
        assert_eq!(
            (place.channel.as_str(), thread),
            ("#quiet", Some(format!("incident:{quiet}")))
        );
    }

    async fn a_board_opening_folds_the_incidents_whose_roots_have_not_gone_out(db) {
        let store = &db.store;
        let i = incidents(store);
        let mut ids = Vec::new();
        for name in ["InFlight", "Attempted", "Responder", "Waiting"] {
            ids.extend(i.ingest(&group(name, "rag", "warning"), now()).await.unwrap().incidents);
        }
        let [in_flight, attempted, responder, waiting] = ids[..] else { panic!("{ids:?}") };
        assert!(board_of(store, "#ops").await.is_none(), "four roots were queued, no board yet");
        // One root is being posted, one was tried without an answer (it may be on Slack),
        // one thread has a responder's message waiting: those keep their roots.
        mark_root(store, in_flight, "#ops", "claimed_by = 'd1', claimed_until_us = 9999999999999999").await;
        mark_root(store, attempted, "#ops", "attempts = 1").await;
        responder_note(store, responder).await;
        // A later change of the waiting incident queued a thread update behind its root.
        i.ingest(&group_now("Waiting", "rag", "critical", "firing"), now()).await.unwrap();

        // The next incident finds the channel past its horizon: the board opens, and the
        // incident whose root had not gone out joins it, its queued thread with it.
        let opened = i.ingest(&group("Opener", "rag", "warning"), now()).await.unwrap().incidents[0];
        let board = board_of(store, "#ops").await.expect("a board opened");
        assert_eq!(folded_into(store, board).await, [waiting, opened]);
        let kept: Vec<String> = roots(store, "#ops").await.into_iter().map(|r| r.0).collect();
        for id in [in_flight, attempted, responder] {
            assert!(kept.contains(&format!("incident:{id}")), "{id} keeps its root: {kept:?}");
        }
        let waiting_rows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE thread_key = $1 AND channel = '#ops'",
        )
        .bind(format!("incident:{waiting}"))
        .fetch_one(store.read_pool())
        .await
        .unwrap();
        assert_eq!(waiting_rows, 0, "nothing of its thread is left to post");

        // The board's first render shows both; given its thread on demand, the incident
        // gets its root back, once, with a catch-up on what happened while it waited.
        i.tend_storm_boards(now()).await.unwrap();
        assert_eq!(ids_on(&page(store, board, 0).await), [waiting, opened]);
        i.show(waiting).await.unwrap().unwrap();
        i.show(waiting).await.unwrap().unwrap();
        let threads: Vec<String> = roots(store, "#ops").await.into_iter().map(|r| r.0).collect();
        assert_eq!(threads.iter().filter(|t| **t == format!("incident:{waiting}")).count(), 1, "{threads:?}");
        let catch_up = in_thread(store, waiting, "reply").await;
        assert!(catch_up.contains("was on the storm board"), "{catch_up}");
    }

    async fn a_board_shows_new_incidents_before_its_interval_and_waits_for_it_with_counts_only(db) {
        let store = &db.store;
        let i = Incidents::of_config(store, &CONFIG.replace("board_interval = \"1s\"", "board_interval = \"10s\""));
        hold_backlog(store, "#ops", 4).await;
        let start = now();
        let at = |secs: f64| start.checked_add(jiff::SignedDuration::from_secs_f64(secs)).unwrap();
        let first = i.ingest(&group("First", "rag", "warning"), now()).await.unwrap().incidents[0];
        let board = board_of(store, "#ops").await.unwrap();
        i.tend_storm_boards(at(0.0)).await.unwrap();
        assert_eq!(board_renders(store, board).await, 1);
        // A new incident on the board: edited two seconds after the last render, not
        // ten, and not sooner.
        let second = i.ingest(&group("Second", "rag", "warning"), now()).await.unwrap().incidents[0];
        i.tend_storm_boards(at(1.0)).await.unwrap();
        assert_eq!(board_renders(store, board).await, 1, "too soon after the last edit");
        i.tend_storm_boards(at(2.1)).await.unwrap();
        assert_eq!(board_renders(store, board).await, 2);
        assert_eq!(ids_on(&page(store, board, 0).await), [first, second]);
        // Only a count changed: that waits for `board_interval`.
        i.ingest(&group_now("Second", "rag", "critical", "firing"), now()).await.unwrap();
        i.tend_storm_boards(at(4.2)).await.unwrap();
        assert_eq!(board_renders(store, board).await, 2, "counts wait for board_interval");
        i.tend_storm_boards(at(12.2)).await.unwrap();
        assert_eq!(board_renders(store, board).await, 3);
    }

    async fn incidents_with_their_own_root_fold_when_alerts_change_them_in_a_storm(db) {
        let store = &db.store;
        let i = incidents(store);
        // Five incidents open before the storm; their roots go out.
        let mut ids = Vec::new();
        for name in ["Early", "Gone", "Shown", "Queued", "Responder"] {
            ids.extend(i.ingest(&group(name, "rag", "warning"), now()).await.unwrap().incidents);
            deliver_everything(store).await;
        }
        let [early, gone, shown, queued, responder] = ids[..] else { panic!("{ids:?}") };
        // One gets a thread update queued while the channel is still calm.
        i.ingest(&group_now("Queued", "rag", "critical", "firing"), now()).await.unwrap();
        assert!(board_of(store, "#ops").await.is_none());
        let posted = ops(&[("post_root", "alerts")]);
        let queued_update = ops(&[("post_root", "alerts"), ("edit_root", "alerts"), ("reply", "alerts")]);
        assert_eq!(thread_ops(store, queued, "#ops").await, queued_update);
        // A responder is acting on another.
        responder_note(store, responder).await;

        // The channel falls behind. Alerts change `early`: the board opens, and the
        // incident joins it rather than queueing a root edit and a thread reply; so does
        // `queued`, whose update had not gone out (taken back).
        hold_backlog(store, "#ops", 4).await;
        i.ingest(&group_now("Early", "rag", "critical", "firing"), now()).await.unwrap();
        let board = board_of(store, "#ops").await.expect("a board opened on a change");
        assert_eq!(folded_into(store, board).await, [early, queued]);
        assert_eq!(thread_ops(store, early, "#ops").await, posted);
        assert_eq!(thread_ops(store, queued, "#ops").await, posted, "its update was taken back");
        // Resolved by its alerts during the storm: folded too, its root still says firing.
        i.ingest(&group_now("Gone", "rag", "warning", "resolved"), now()).await.unwrap();
        i.ingest(&group_now("Shown", "rag", "critical", "firing"), now()).await.unwrap();
        // The responder's incident keeps its thread, current.
        i.ingest(&group_now("Responder", "rag", "critical", "firing"), now()).await.unwrap();
        assert_eq!(folded_into(store, board).await, [early, gone, shown, queued]);
        let responder_ops = thread_ops(store, responder, "#ops").await;
        assert!(responder_ops.contains(&("edit_root".into(), "alerts".into())), "{responder_ops:?}");
        // The board shows them all, current.
        i.tend_storm_boards(now()).await.unwrap();
        let first = page(store, board, 0).await;
        assert_eq!(ids_on(&first), [early, gone, shown, queued], "{first}");
        // Given its thread on demand, an incident's root is edited (it has one), not
        // posted again; its next change during the storm stays in its thread.
        i.show(shown).await.unwrap().unwrap();
        assert_eq!(
            thread_ops(store, shown, "#ops").await,
            ops(&[("post_root", "alerts"), ("edit_root", "interactive"), ("reply", "interactive")])
        );
        i.ingest(&group_now("Shown", "rag", "info", "firing"), now()).await.unwrap();
        assert_eq!(folded_into(store, board).await, [early, gone, queued]);
        assert_eq!(thread_ops(store, shown, "#ops").await.len(), 5, "edit and reply queued");

        // As the storm subsides, the folded incidents with a root have it edited and
        // their thread caught up, the resolved one too; then the board closes.
        let mut closed = false;
        for _ in 0..10 {
            deliver_everything(store).await;
            if i.tend_storm_boards(subsided()).await.unwrap().iter().any(|t| t.closed) {
                closed = true;
                break;
            }
        }
        assert!(closed, "the board closes");
        let caught_up = ops(&[("post_root", "alerts"), ("edit_root", "alerts"), ("reply", "alerts")]);
        for id in [early, gone, queued] {
            assert_eq!(thread_ops(store, id, "#ops").await, caught_up, "incident {id}");
        }
        let edited = in_thread(store, gone, "edit_root").await;
        assert!(edited.contains("resolved"), "{edited}");
        let summary = closing_summary(store, board).await;
        assert!(summary.contains("4 incidents were folded"), "{summary}");
        assert!(summary.contains("4 got their own thread"), "{summary}");
    }
}
