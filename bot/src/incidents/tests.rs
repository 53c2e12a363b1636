//! Incident ingestion, lifecycle, silences, escalation and thread mapping, on both
//! backends, with an injected "now" instead of sleeping.

use opsbot_alerts::{AlertBatch, parse_alertmanager, parse_generic};
use opsbot_commands::{
    Actor, IncidentRef, Platform,
    context::{DeskError, IncidentAction},
};
use sqlx::Row;

use super::*;
use crate::store::scratch::backend_tests;

const CONFIG: &str = r##"
# These tests are about incidents one by one; storms are `storm/tests.rs`'s.
[outbox.storm]
horizon = "off"

[alerts]
default_channel = { slack = "#aiops-alerts", console = "console" }
reopen_window = "1h"

[[escalation]]
name = "wrkhrs"
levels = [
  { name = "L1", mention = ["@ai-ops"], after = "0m" },
  { name = "L2", mention = ["@platform"] },
  { name = "L3", mention = ["@eng-mgmt"], after = "30m" },
]
respond_within = { critical = "15m", warning = "1h" }
escalate_after = { critical = "30m" }

[[maintenance]]
name = "agent-aiops saturdays"
services = ["ollama"]
schedule = "saturday 02:00-04:00"

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
runbook = "runbooks/wrkhrs-ai-stack.md"
channels = { slack = "#ai-operations" }
alert_labels = { job = "wrkhrs-gateway" }
escalation = "wrkhrs"

[[services]]
name = "wrkhrs-rag"
environment = "prod"
channels = { slack = "#ai-operations" }
escalation = "wrkhrs"

[[services]]
name = "ollama"
environment = "prod"
channels = { slack = "#aiops-alerts" }
"##;

fn incidents(store: &crate::store::Store) -> Incidents {
    Incidents::of_config(store, CONFIG)
}

/// Friday 2026-11-20 07:00 UTC: outside every maintenance window.
fn t0() -> jiff::Timestamp {
    "2026-11-20T07:00:00Z".parse().unwrap()
}

fn mins(m: i64) -> jiff::Timestamp {
    t0().checked_add(jiff::SignedDuration::from_mins(m))
        .unwrap()
}

fn am(status: &str, alerts: &[(&str, &str, &str)]) -> AlertBatch {
    let alerts: Vec<String> = alerts
        .iter()
        .map(|(name, job, alert_status)| {
            format!(
                r#"{{"status":"{alert_status}","labels":{{"alertname":"{name}","job":"{job}","severity":"critical"}},
                "annotations":{{"summary":"{name} on {job}"}},"startsAt":"2026-11-20T06:59:00Z"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"Down\"}}","status":"{status}","receiver":"opsbot",
        "groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"alerts":[{}]}}"#,
        alerts.join(",")
    );
    parse_alertmanager(body.as_bytes()).unwrap()
}

/// `(operation, dedupe_key, channel)` of every outbox row, in order.
async fn outbox(store: &crate::store::Store) -> Vec<(String, String, String)> {
    sqlx::query("SELECT operation, dedupe_key, channel FROM outbox ORDER BY id")
        .fetch_all(store.read_pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn outbox_reply(store: &crate::store::Store, dedupe_key: &str) -> String {
    sqlx::query_scalar("SELECT reply FROM outbox WHERE dedupe_key = $1")
        .bind(dedupe_key)
        .fetch_one(store.read_pool())
        .await
        .unwrap()
}

async fn incident(i: &Incidents, id: i64) -> Incident {
    let mut conn = i.store().read_pool().acquire().await.unwrap();
    repo::get(&mut conn, i.store().backend(), id, false)
        .await
        .unwrap()
        .unwrap()
}

async fn event_kinds(i: &Incidents, id: i64) -> Vec<&'static str> {
    let mut conn = i.store().read_pool().acquire().await.unwrap();
    repo::events(&mut conn, id, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str())
        .collect()
}

fn ops(rows: &[(String, String, String)]) -> Vec<&str> {
    rows.iter().map(|r| r.0.as_str()).collect()
}

backend_tests! {
    async fn a_v4_batch_opens_an_incident_with_its_root_and_is_deduplicated(db) {
        let i = incidents(&db.store);
        let batch = am("firing", &[("Down", "wrkhrs-gateway", "firing"), ("Slow", "wrkhrs-gateway", "firing")]);
        let outcome = i.ingest(&batch, t0()).await.unwrap();
        assert_eq!(outcome.accepted, 2);
        assert_eq!(outcome.incidents.len(), 1);
        let id = outcome.incidents[0];
        let inc = incident(&i, id).await;
        assert_eq!(inc.service.as_deref(), Some("wrkhrs-gateway"));
        assert_eq!(inc.status, IncidentStatus::Open);
        assert_eq!(inc.severity, "critical");
        assert_eq!(inc.escalation_level, 1, "L1 paged at once");
        assert_eq!(inc.next_escalation_at, Some(mins(15)));
        let rows = outbox(&db.store).await;
        // The service's channel plus the console mirror: a root and the L1 page each.
        assert_eq!(ops(&rows), ["post_root", "reply", "post_root", "reply"]);
        // Ordered by platform: the console mirror, then Slack.
        assert_eq!(rows[0].2, "console");
        assert_eq!(rows[2].2, "#ai-operations");
        assert_eq!(rows[2].1, format!("incident:{id}:root:slack:#ai-operations"));
        let root = outbox_reply(&db.store, &rows[2].1).await;
        for wanted in ["Incident #", "Down on wrkhrs-gateway", "critical", "runbooks/wrkhrs-ai-stack.md",
                       &format!("incident ack {id}"), "health wrkhrs-gateway", "restart wrkhrs-gateway"] {
            assert!(root.contains(wanted), "root lacks {wanted}: {root}");
        }
        assert!(outbox_reply(&db.store, &rows[3].1).await.contains("Paging L1: @ai-ops"));
        assert_eq!(event_kinds(&i, id).await, ["opened", "alert_firing", "alert_firing", "escalated"]);

        // Alertmanager repeats the notification: nothing new.
        let again = i.ingest(&batch, mins(5)).await.unwrap();
        assert_eq!(again.incidents, vec![id]);
        assert_eq!(outbox(&db.store).await.len(), 4);
        assert_eq!(event_kinds(&i, id).await.len(), 4);
    }

    async fn grouping_by_group_key_per_service_and_by_labels(db) {
        let i = incidents(&db.store);
        // One Alertmanager group spanning two services: one incident each.
        let batch = am("firing", &[("Down", "wrkhrs-gateway", "firing"), ("Down", "wrkhrs-rag", "firing")]);
        let outcome = i.ingest(&batch, t0()).await.unwrap();
        assert_eq!(outcome.incidents.len(), 2);
        assert_eq!(incident(&i, outcome.incidents[1]).await.service.as_deref(), Some("wrkhrs-rag"), "mapped by the `job` label key");
        // Generic alerts: grouped by service + alertname; unknown services go to the default channel.
        let generic = parse_generic(br#"{"alerts":[
            {"name":"DiskLow","service":"nowhere","labels":{"host":"a"}},
            {"name":"DiskLow","service":"nowhere","labels":{"host":"b"}},
            {"name":"CpuHigh","service":"nowhere"}]}"#).unwrap();
        let outcome = i.ingest(&generic, t0()).await.unwrap();
        assert_eq!(outcome.incidents.len(), 2, "DiskLow twice is one incident");
        let disk = incident(&i, outcome.incidents[0]).await;
        assert_eq!(disk.service, None);
        let mut conn = db.store.read_pool().acquire().await.unwrap();
        assert_eq!(repo::alerts(&mut conn, disk.id).await.unwrap().len(), 2);
        let targets = repo::message_targets(&mut conn, disk.id).await.unwrap();
        let places: Vec<(String, String)> = targets.iter().map(|t| (t.platform.clone(), t.channel.clone())).collect();
        assert_eq!(places, [("console".to_string(), "console".to_string()), ("slack".to_string(), "#aiops-alerts".to_string())]);
        assert!(targets.iter().all(|t| t.folded_into.is_none()), "no storm: nothing folded");
    }

    async fn resolves_automatically_reopens_within_the_window_and_opens_anew_after(db) {
        let i = incidents(&db.store);
        let firing = am("firing", &[("Down", "wrkhrs-gateway", "firing"), ("Slow", "wrkhrs-gateway", "firing")]);
        let id = i.ingest(&firing, t0()).await.unwrap().incidents[0];
        let half = am("firing", &[("Down", "wrkhrs-gateway", "resolved"), ("Slow", "wrkhrs-gateway", "firing")]);
        i.ingest(&half, mins(10)).await.unwrap();
        assert_eq!(incident(&i, id).await.status, IncidentStatus::Open, "one alert still fires");
        let resolved = am("resolved", &[("Down", "wrkhrs-gateway", "resolved"), ("Slow", "wrkhrs-gateway", "resolved")]);
        i.ingest(&resolved, mins(23)).await.unwrap();
        let inc = incident(&i, id).await;
        assert_eq!(inc.status, IncidentStatus::Resolved);
        assert_eq!(inc.resolved_at, Some(mins(23)));
        assert_eq!(inc.next_escalation_at, None);
        let rows = outbox(&db.store).await;
        let last_edit = rows.iter().rev().find(|r| r.0 == "edit_root" && r.2 == "#ai-operations").unwrap();
        let root = outbox_reply(&db.store, &last_edit.1).await;
        assert!(root.contains("resolved after 23m 0s"), "{root}");
        assert!(rows.iter().all(|r| r.1.starts_with(&format!("incident:{id}:"))));

        // Fires again 30 minutes later: the same incident, reopened.
        assert_eq!(i.ingest(&firing, mins(53)).await.unwrap().incidents, vec![id]);
        let inc = incident(&i, id).await;
        assert_eq!(inc.status, IncidentStatus::Open);
        assert_eq!(inc.escalation_level, 1, "paged again");
        assert!(event_kinds(&i, id).await.contains(&"reopened"));

        // Resolved, then firing again two hours later: a new incident.
        i.ingest(&resolved, mins(60)).await.unwrap();
        let newer = i.ingest(&firing, mins(180)).await.unwrap().incidents[0];
        assert_ne!(newer, id);
        assert_eq!(incident(&i, id).await.status, IncidentStatus::Resolved);
        assert_eq!(incident(&i, newer).await.status, IncidentStatus::Open);
    }

    async fn silenced_and_maintenance_alerts_are_recorded_not_paged(db) {
        let i = incidents(&db.store);
        let actor = Actor::new(Platform::Console, "operator", "Operator");
        let view = opsbot_commands::context::IncidentDesk::silence(&i, opsbot_commands::context::SilenceRequest {
            service: Some("wrkhrs-gateway".into()), matchers: None,
            duration: std::time::Duration::from_secs(7200), reason: "deploying".into(),
        }, &actor).await.unwrap();
        assert_eq!(view.target, "wrkhrs-gateway");
        // The silence was made "now" (the real clock); ingest at the real now too.
        let now = jiff::Timestamp::now();
        let id = i.ingest(&am("firing", &[("Down", "wrkhrs-gateway", "firing")]), now).await.unwrap().incidents[0];
        let inc = incident(&i, id).await;
        assert!(inc.silenced);
        assert_eq!(inc.escalation_level, 0);
        assert_eq!(inc.next_escalation_at, None);
        assert!(event_kinds(&i, id).await.contains(&"silenced"));
        let rows = outbox(&db.store).await;
        let reply = rows.iter().find(|r| r.0 == "reply").unwrap();
        assert!(outbox_reply(&db.store, &reply.1).await.contains("Silenced"), "shown in the thread");
        assert!(!outbox_reply(&db.store, &reply.1).await.contains("Paging"));

        // Ollama on Saturday 03:00 UTC: its maintenance window.
        let saturday: jiff::Timestamp = "2026-11-21T03:00:00Z".parse().unwrap();
        let ollama = parse_generic(br#"{"alerts":[{"name":"OllamaDown","service":"ollama","severity":"critical"}]}"#).unwrap();
        let id = i.ingest(&ollama, saturday).await.unwrap().incidents[0];
        let inc = incident(&i, id).await;
        assert!(inc.silenced);
        assert!(inc.silenced_reason.unwrap().contains("agent-aiops saturdays"));
        // Expiring the silence: the next gateway alert pages.
        assert!(opsbot_commands::context::IncidentDesk::expire_silence(&i, view.id, &actor).await.unwrap());
    }

    async fn escalation_pages_on_time_and_ack_stops_the_clock(db) {
        let i = incidents(&db.store);
        let id = i.ingest(&am("firing", &[("Down", "wrkhrs-gateway", "firing")]), t0()).await.unwrap().incidents[0];
        assert_eq!(i.escalate_due(mins(14)).await.unwrap(), 0);
        assert_eq!(i.escalate_due(mins(15)).await.unwrap(), 1);
        let inc = incident(&i, id).await;
        assert_eq!(inc.escalation_level, 2);
        let rows = outbox(&db.store).await;
        let page = rows.iter().rev().find(|r| r.0 == "reply" && r.2 == "#ai-operations").unwrap();
        assert!(outbox_reply(&db.store, &page.1).await.contains("Paging L2: @platform"));
        assert_eq!(i.escalate_due(mins(15)).await.unwrap(), 0, "not twice");

        // Acknowledged: no more paging, only the 30-minute resolution deadline.
        let view = i.act_at(id, &IncidentAction::Acknowledge, "alice", mins(20)).await.unwrap();
        assert_eq!(view.status, "acknowledged");
        assert_eq!(incident(&i, id).await.next_escalation_at, Some(mins(30)));
        assert!(matches!(i.act_at(id, &IncidentAction::Acknowledge, "bob", mins(21)).await, Err(DeskError::Refused(_))));
        assert_eq!(i.escalate_due(mins(29)).await.unwrap(), 0);
        assert_eq!(i.escalate_due(mins(30)).await.unwrap(), 1);
        assert_eq!(incident(&i, id).await.next_escalation_at, None);
        assert_eq!(i.escalate_due(mins(120)).await.unwrap(), 0);

        // Notes, resolve by hand, reopen.
        i.act_at(id, &IncidentAction::Note("restarted the gateway".into()), "alice", mins(31)).await.unwrap();
        let view = i.act_at(id, &IncidentAction::Resolve, "alice", mins(40)).await.unwrap();
        assert_eq!(view.status, "resolved");
        assert!(matches!(i.act_at(id, &IncidentAction::Resolve, "alice", mins(41)).await, Err(DeskError::Refused(_))));
        i.act_at(id, &IncidentAction::Reopen, "alice", mins(42)).await.unwrap();
        assert_eq!(incident(&i, id).await.status, IncidentStatus::Open);
        let kinds = event_kinds(&i, id).await;
        assert_eq!(&kinds[kinds.len() - 4..], ["note", "resolved", "reopened", "escalated"]);
        // Every outbox message is unique.
        let rows = outbox(&db.store).await;
        let mut keys: Vec<&String> = rows.iter().map(|r| &r.1).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), rows.len());
    }

    async fn a_thread_maps_back_to_its_incident_and_service(db) {
        let i = incidents(&db.store);
        let id = i.ingest(&am("firing", &[("Down", "wrkhrs-gateway", "firing")]), t0()).await.unwrap().incidents[0];
        // What the dispatcher records once it posted the root.
        sqlx::query("INSERT INTO outbox_threads (platform, thread_key, channel, message_ref, created_at_us) VALUES ($1, $2, $3, $4, $5)")
            .bind("slack").bind(format!("incident:{id}")).bind("#ai-operations").bind("1763708400.000100").bind(0i64)
            .execute(db.store.pool()).await.unwrap();
        let found = i.thread_incident(Platform::Slack, "#ai-operations", "1763708400.000100").await.unwrap();
        assert_eq!(found, Some(IncidentRef { id, service: Some("wrkhrs-gateway".parse().unwrap()) }));
        assert_eq!(i.thread_incident(Platform::Slack, "#elsewhere", "1763708400.000100").await.unwrap(), None);
        assert_eq!(i.thread_incident(Platform::Discord, "#ai-operations", "1763708400.000100").await.unwrap(), None);
    }

    async fn concurrent_batches_share_commits_and_every_alert_lands(db) {
        let i = incidents(&db.store);
        // 24 senders at once: 12 groups, each sent twice with overlapping alerts.
        let mut sends = Vec::new();
        for n in 0..24usize {
            let group = n % 12;
            let hosts: Vec<String> = (0..10).map(|h| format!(r#"{{"name":"Storm{group}","service":"wrkhrs-rag","labels":{{"host":"h{}"}}}}"#, h + (n / 12) * 5)).collect();
            let batch = parse_generic(format!(r#"{{"alerts":[{}]}}"#, hosts.join(",")).as_bytes()).unwrap();
            let i = i.clone();
            sends.push(tokio::spawn(async move { i.ingest(&batch, t0()).await }));
        }
        let mut ids = Vec::new();
        for send in sends {
            let outcome = send.await.unwrap().unwrap();
            assert_eq!(outcome.accepted, 10);
            ids.extend(outcome.incidents);
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12, "one incident per group, whichever batch came first");
        let mut conn = db.store.read_pool().acquire().await.unwrap();
        for id in ids {
            // Hosts h0..h9 and h5..h14: 15 distinct alerts, each with one firing event.
            let tally = repo::alert_tally(&mut conn, id).await.unwrap();
            assert_eq!((tally.total, tally.firing), (15, 15));
            let kinds = event_kinds(&i, id).await;
            assert_eq!(kinds.iter().filter(|k| **k == "alert_firing").count(), 15);
            assert_eq!(kinds.iter().filter(|k| **k == "opened").count(), 1);
        }
        let roots = outbox(&db.store).await.iter().filter(|r| r.0 == "post_root").count();
        assert_eq!(roots, 24, "one root per incident on each of its two channels");
    }

    async fn a_storm_on_one_incident_is_counted_not_listed(db) {
        let i = incidents(&db.store);
        let mut id = 0;
        for round in 0..3 {
            let alerts: Vec<String> = (0..300).map(|h| format!(r#"{{"name":"Flood","service":"wrkhrs-rag","labels":{{"host":"r{round}h{h}"}}}}"#)).collect();
            let batch = parse_generic(format!(r#"{{"alerts":[{}]}}"#, alerts.join(",")).as_bytes()).unwrap();
            id = i.ingest(&batch, mins(round)).await.unwrap().incidents[0];
        }
        let mut conn = db.store.read_pool().acquire().await.unwrap();
        assert_eq!(repo::alert_tally(&mut conn, id).await.unwrap().total, 900);
        let edits: Vec<String> = outbox(&db.store).await.into_iter().filter(|r| r.0 == "edit_root" && r.2 == "#ai-operations").map(|r| r.1).collect();
        let last = outbox_reply(&db.store, edits.last().unwrap()).await;
        assert!(last.contains("900 firing of 900"), "{last}");
        assert!(last.contains("more"), "the root lists a few and counts the rest: {last}");
        // The same fingerprint twice in one batch: the later copy wins.
        let twice = parse_generic(br#"{"alerts":[
            {"name":"Flap","service":"ollama","fingerprint":"f1"},
            {"name":"Flap","service":"ollama","fingerprint":"f1","status":"resolved"}]}"#).unwrap();
        let flap = i.ingest(&twice, mins(5)).await.unwrap();
        assert_eq!(flap.incidents.len(), 1, "it fired, so the incident opened");
        let flap_id = flap.incidents[0];
        assert_eq!(repo::alert_tally(&mut conn, flap_id).await.unwrap(), alert_tally::AlertTally { total: 1, firing: 0, firing_paged: 0, worst_firing: None, worst_any: Some(opsbot_alerts::Severity::Warning) });
        assert_eq!(incident(&i, flap_id).await.status, IncidentStatus::Resolved);
        assert_eq!(&event_kinds(&i, flap_id).await[..3], ["opened", "alert_firing", "alert_resolved"]);
    }
}
