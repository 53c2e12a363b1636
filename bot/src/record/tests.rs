//! The record of an incident on both store backends: a scenario written through the real
//! incident desk and audit writer (plus the runbook and health gate rows their own code
//! writes), then read back as a timeline, a postmortem draft and statistics.

use opsbot_alerts::parse_alertmanager;
use opsbot_commands::context::IncidentAction;

use super::*;
use crate::{
    audit::{AuditRecord, AuditWriter, Decision, Outcome},
    incidents::{EventKind, Incidents},
    store::{Store, scratch::backend_tests},
};

const CONFIG: &str = r##"
[outbox.storm]
horizon = "off"

[alerts]
default_channel = { slack = "#aiops-alerts" }

[[escalation]]
name = "wrkhrs"
levels = [
  { name = "L1", mention = ["@ai-ops"], after = "0m" },
  { name = "L2", mention = ["@platform"] },
]
respond_within = { critical = "15m" }

[[services]]
name = "wrkhrs-gateway"
environment = "prod"
channels = { slack = "#ai-operations" }
alert_labels = { job = "wrkhrs-gateway" }
escalation = "wrkhrs"

[[services]]
name = "ollama"
environment = "prod"
channels = { slack = "#aiops-alerts" }
"##;

/// The Slack thread of the incident (its root's ts).
const ROOT: &str = "1763708400.000100";
const ALICE: &str = "Alice (slack:U1)";

/// Friday 2026-11-20 07:00 UTC.
fn t0() -> jiff::Timestamp {
    "2026-11-20T07:00:00Z".parse().unwrap()
}

fn mins(m: i64) -> jiff::Timestamp {
    t0().checked_add(jiff::SignedDuration::from_mins(m))
        .unwrap()
}

fn incidents(store: &Store) -> Incidents {
    Incidents::of_config(store, CONFIG)
}

fn firing() -> opsbot_alerts::AlertBatch {
    let body = r#"{"version":"4","groupKey":"{}:{alertname=\"Down\"}","status":"firing",
        "receiver":"opsbot","groupLabels":{},"commonLabels":{},"commonAnnotations":{},
        "alerts":[{"status":"firing","labels":{"alertname":"GatewayDown","job":"wrkhrs-gateway",
        "severity":"critical"},"annotations":{"summary":"the gateway answers 503"},
        "startsAt":"2026-11-20T06:58:00Z"}]}"#;
    parse_alertmanager(body.as_bytes()).unwrap()
}

/// An audited command by Alice at `at`.
fn command(
    at: jiff::Timestamp,
    text: &str,
    service: Option<&str>,
    thread: Option<&str>,
) -> AuditRecord {
    AuditRecord {
        at,
        request_id: format!("req-{}", at.as_second()),
        platform: "slack".into(),
        actor_id: "U1".into(),
        actor_name: "Alice".into(),
        channel: "#ai-operations".into(),
        thread: thread.map(str::to_string),
        text: text.into(),
        command: text.split_whitespace().next().map(str::to_string),
        service: service.map(str::to_string),
        environment: service.map(|_| "prod".to_string()),
        decision: Decision::Allowed,
        reason: String::new(),
        approver: None,
        outcome: Outcome::Ok,
        summary: format!("{text} done"),
        duration_ms: 900,
    }
}

async fn exec(store: &Store, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(store.pool())
        .await
        .unwrap();
}

/// An incident of wrkhrs-gateway, from its alert (06:58) and opening (07:00) to its
/// resolution (07:30), with every source of its record filled. Returns its id and the
/// audit seqs of: the health check, the restart in the thread, the note in the thread.
async fn scenario(store: &Store) -> (i64, [i64; 3]) {
    let desk = incidents(store);
    let id = desk.ingest(&firing(), t0()).await.unwrap().incidents[0];
    exec(
        store,
        &format!(
            "INSERT INTO outbox_threads (platform, thread_key, channel, message_ref, \
             created_at_us) VALUES ('slack', 'incident:{id}', '#ai-operations', '{ROOT}', 0)"
        ),
    )
    .await;
    desk.act_at(id, &IncidentAction::Acknowledge, ALICE, mins(5))
        .await
        .unwrap();
    let writer = AuditWriter::spawn(store.clone());
    // Before the incident: not part of it.
    writer
        .append(command(
            mins(-30),
            "restart wrkhrs-gateway",
            Some("wrkhrs-gateway"),
            None,
        ))
        .await
        .unwrap();
    let health = writer
        .append(command(
            mins(3),
            "health wrkhrs-gateway",
            Some("wrkhrs-gateway"),
            None,
        ))
        .await
        .unwrap();
    let mut restart = command(
        mins(8),
        "restart wrkhrs-gateway",
        Some("wrkhrs-gateway"),
        Some(ROOT),
    );
    restart.approver = Some("Bob (slack:U2)".into());
    let restart = writer.append(restart).await.unwrap();
    // Another service, in the thread and outside it: left out.
    writer
        .append(command(
            mins(9),
            "restart ollama",
            Some("ollama"),
            Some(ROOT),
        ))
        .await
        .unwrap();
    writer
        .append(command(mins(10), "restart ollama", Some("ollama"), None))
        .await
        .unwrap();
    let note = writer
        .append(command(
            mins(11),
            "incident note looking at the pool",
            None,
            Some(ROOT),
        ))
        .await
        .unwrap();
    // In the channel, not about the service: left out.
    writer
        .append(command(mins(12), "whoami", None, None))
        .await
        .unwrap();
    writer.close().await;
    // A runbook run started in the thread (what the runbook runner stores).
    sqlx::query(
        "INSERT INTO runbook_runs (runbook, params, state, request_id, starter_kind, starter_id, \
         starter_name, starter_groups, platform, channel, thread, owner, lease_until_us, \
         started_at_us, finished_at_us) VALUES ('drain-gateway', '[]', 'succeeded', 'req-run', \
         'slack', 'U1', 'Alice', '[]', 'slack', '#ai-operations', $1, 'replica', 0, $2, $3)",
    )
    .bind(ROOT)
    .bind(mins(13).as_microsecond())
    .bind(mins(16).as_microsecond())
    .execute(store.pool())
    .await
    .unwrap();
    let run: i64 = sqlx::query_scalar("SELECT MAX(id) FROM runbook_runs")
        .fetch_one(store.read_pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO runbook_run_steps (run_id, position, rollback, kind, description, state, \
         detail, started_at_us, finished_at_us) VALUES ($1, 1, 0, 'command', \
         'scale wrkhrs-gateway 0', 'ok', 'scaled to 0', $2, $3)",
    )
    .bind(run)
    .bind(mins(14).as_microsecond())
    .bind(mins(15).as_microsecond())
    .execute(store.pool())
    .await
    .unwrap();
    // The restart's health gate passed (what the known-good store records).
    sqlx::query(
        "INSERT INTO known_good_revisions (service, environment, revision_id, revision, images, \
         passed_at_us, passed_by) VALUES ('wrkhrs-gateway', 'prod', 'gateway-7d9f', 7, \
         'wrkhrs/gateway:1.4', $1, $2)",
    )
    .bind(mins(9).as_microsecond())
    .bind(ALICE)
    .execute(store.pool())
    .await
    .unwrap();
    desk.act_at(
        id,
        &IncidentAction::Note("pool exhausted".into()),
        ALICE,
        mins(17),
    )
    .await
    .unwrap();
    desk.act_at(
        id,
        &IncidentAction::FollowUp("alert on pool saturation".into()),
        ALICE,
        mins(20),
    )
    .await
    .unwrap();
    desk.act_at(id, &IncidentAction::Resolve, ALICE, mins(30))
        .await
        .unwrap();
    (id, [health, restart, note])
}

/// For the stats test: (service, opened, acknowledged, resolved, pages (at, text),
/// alert names), times in minutes from `t0`.
type StatsIncident = (
    &'static str,
    i64,
    Option<i64>,
    Option<i64>,
    &'static [(i64, &'static str)],
    &'static [&'static str],
);

fn position(timeline: &Timeline, f: impl Fn(&Entry) -> bool) -> usize {
    timeline
        .entries
        .iter()
        .position(f)
        .unwrap_or_else(|| panic!("missing entry in {:#?}", timeline.entries))
}

backend_tests! {
    async fn the_timeline_merges_every_source_in_order(db) {
        let (id, [health, restart, note]) = scenario(&db.store).await;
        let timeline = Timeline::load(&db.store, id).await.unwrap();
        let times: Vec<_> = timeline.entries.iter().map(|e| e.at).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "chronological");
        // Only the commands of the thread and of the service during the incident.
        assert_eq!(timeline.audit_seqs(), [health, restart, note]);
        for kind in [
            EntryKind::Alert,
            EntryKind::Incident(EventKind::Opened),
            EntryKind::Incident(EventKind::AlertFiring),
            EntryKind::Incident(EventKind::Escalated),
            EntryKind::Incident(EventKind::Acknowledged),
            EntryKind::Incident(EventKind::Note),
            EntryKind::Incident(EventKind::FollowUp),
            EntryKind::Incident(EventKind::Resolved),
            EntryKind::Command,
            EntryKind::Runbook,
            EntryKind::RunbookStep,
            EntryKind::HealthGate,
        ] {
            assert!(timeline.entries.iter().any(|e| e.kind == kind), "no {kind:?} in {:#?}", timeline.entries);
        }
        let alert = position(&timeline, |e| e.kind == EntryKind::Alert);
        let opened = position(&timeline, |e| e.kind == EntryKind::Incident(EventKind::Opened));
        let ack = position(&timeline, |e| e.kind == EntryKind::Incident(EventKind::Acknowledged));
        let restarted = position(&timeline, |e| e.audit_seq == Some(restart));
        let gate = position(&timeline, |e| e.kind == EntryKind::HealthGate);
        let step = position(&timeline, |e| e.kind == EntryKind::RunbookStep);
        let resolved = position(&timeline, |e| e.kind == EntryKind::Incident(EventKind::Resolved));
        assert!(alert < opened && opened < ack && ack < restarted && restarted < gate
            && gate < step && step < resolved, "{:#?}", timeline.entries);
        let entry = &timeline.entries[restarted];
        assert_eq!(entry.actor.as_deref(), Some("Alice (slack:U1)"));
        assert!(entry.text.contains("`restart wrkhrs-gateway` allowed, ok"), "{}", entry.text);
        assert!(entry.text.contains("approved by Bob (slack:U2)"), "{}", entry.text);

        let markdown = timeline.to_markdown();
        assert!(markdown.starts_with(&format!("# Incident #{id}: ")), "{markdown}");
        for wanted in [
            "| GatewayDown | firing | critical | 2026-11-20 06:58:00 |",
            &format!("| 2026-11-20 07:08:00 | command | Alice (slack:U1) | `restart wrkhrs-gateway` allowed, ok: restart wrkhrs-gateway done (approved by Bob (slack:U2)) | #{restart} |"),
            "Health gate passed: revision 7 `gateway-7d9f` (wrkhrs/gateway:1.4) in prod",
            "Runbook `drain-gateway` run #",
            "scale wrkhrs-gateway 0 — ok: scaled to 0",
            "📌 Follow-up by Alice (slack:U1): alert on pool saturation",
        ] {
            assert!(markdown.contains(wanted), "the Markdown lacks {wanted}:\n{markdown}");
        }
        assert!(!markdown.contains("restart ollama"), "{markdown}");
        assert!(!markdown.contains("whoami"), "{markdown}");
        let lines = timeline.chat_lines(3);
        assert!(lines[0].contains("3 commands (audited)"), "{lines:?}");
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[4].contains("Resolved"), "{lines:?}");
        assert!(matches!(Timeline::load(&db.store, id + 100).await, Err(RecordError::NoIncident(_))));
    }

    async fn the_postmortem_draft_times_the_response_and_cites_verified_entries(db) {
        let (id, [_, restart, note]) = scenario(&db.store).await;
        let draft = Postmortem::draft(&db.store, id, mins(60)).await.unwrap();
        let t = &draft.times;
        assert_eq!(t.impact_start, mins(-2), "the alert's own start");
        assert_eq!(t.impact_end, Some(mins(30)));
        assert_eq!(t.to_acknowledge(), Some(jiff::SignedDuration::from_mins(5)));
        assert_eq!(t.to_mitigate(), Some(jiff::SignedDuration::from_mins(8)), "the restart, before the runbook");
        assert_eq!(t.to_resolve(), Some(jiff::SignedDuration::from_mins(30)));
        assert_eq!(t.acknowledged.as_ref().unwrap().by, ALICE);
        assert!(t.mitigated.as_ref().unwrap().by.contains(&format!("audit #{restart}")));
        let actions: Vec<i64> = draft.actions.iter().map(|a| a.audit_seq).collect();
        assert_eq!(actions, [restart, note], "the health check is no action");
        assert_eq!(draft.follow_ups.len(), 1);
        assert_eq!(draft.follow_ups[0].text, "alert on pool saturation");
        assert!(draft.evidence.citations.iter().all(Citation::holds), "{:?}", draft.evidence);
        assert!(draft.evidence.chain.is_ok());
        let markdown = draft.to_markdown();
        for wanted in [
            &format!("# Postmortem draft: Incident #{id}: "),
            "- Window: 2026-11-20 06:58:00 – 2026-11-20 07:30:00 (32m 0s)",
            "| Time to acknowledge | 5m 0s | 2026-11-20 07:05:00 Alice (slack:U1) |",
            "| Time to mitigate | 8m 0s |",
            "| Time to resolve | 30m 0s |",
            &format!("- 2026-11-20 07:08:00 Alice (slack:U1): `restart wrkhrs-gateway` allowed, ok: restart wrkhrs-gateway done (approved by Bob (slack:U2)) — audit #{restart}"),
            "- [ ] alert on pool saturation (Alice (slack:U1), 2026-11-20 07:20:00)",
            "✅ all 3 cited audit entries hold",
            "audit chain OK",
            &format!("| #{restart} | ✅ hash and links hold |"),
            "## Timeline",
        ] {
            assert!(markdown.contains(wanted), "the draft lacks {wanted}:\n{markdown}");
        }

        // Someone edits the restart's record in the database: the draft says so.
        sqlx::query("UPDATE audit_log SET summary = 'nothing happened' WHERE seq = $1")
            .bind(restart)
            .execute(db.store.pool())
            .await
            .unwrap();
        let draft = Postmortem::draft(&db.store, id, mins(60)).await.unwrap();
        let tampered: Vec<&Citation> = draft.evidence.tampered().collect();
        assert_eq!(tampered.len(), 1, "{:?}", draft.evidence);
        assert_eq!(tampered[0].seq, restart);
        assert!(tampered[0].problem.as_deref().unwrap().contains("edited"));
        assert!(!draft.evidence.chain.is_ok());
        let markdown = draft.to_markdown();
        assert!(markdown.contains(&format!("| #{restart} | ❌ TAMPERED: edited")), "{markdown}");
        assert!(markdown.contains("❌ 1 of 3 cited audit entries do NOT hold"), "{markdown}");
        assert!(markdown.contains("audit chain BROKEN"), "{markdown}");
    }

    async fn stats_give_medians_p90s_per_service_and_escalation_time(db) {
        let t = |m: i64| mins(m).as_microsecond();
        let incidents: [StatsIncident; 4] = [
            ("wrkhrs-gateway", 0, Some(2), Some(10), &[(0, "Paging L1: @ai-ops")], &["Down", "Slow"]),
            ("wrkhrs-gateway", 60, Some(80), Some(120),
             &[(60, "Paging L1: @ai-ops"), (75, "Paging L2: @platform")], &["Down"]),
            ("ollama", 120, Some(124), None, &[], &["Down"]),
            ("wrkhrs-gateway", -40 * 24 * 60, Some(-40 * 24 * 60 + 1), None, &[], &["Old"]),
        ];
        for (n, (service, opened, ack, resolved, pages, alerts)) in incidents.iter().enumerate() {
            let status = if resolved.is_some() { "resolved" } else { "acknowledged" };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO incidents (key, group_key, source, service, title, severity, status, \
                 opened_at_us, acknowledged_at_us, resolved_at_us, changed_at_us) \
                 VALUES ($1, $1, 'alertmanager', $2, 'Down', 'critical', $3, $4, $5, $6, $4) RETURNING id",
            )
            .bind(format!("k{n}"))
            .bind(*service)
            .bind(status)
            .bind(t(*opened))
            .bind(ack.map(t))
            .bind(resolved.map(t))
            .fetch_one(db.store.pool())
            .await
            .unwrap();
            let mut events: Vec<(i64, &str, &str)> = pages.iter().map(|(at, text)| (*at, "escalated", *text)).collect();
            events.extend(ack.map(|at| (at, "acknowledged", "")));
            events.extend(resolved.map(|at| (at, "resolved", "")));
            events.sort();
            for (at, kind, detail) in events {
                sqlx::query("INSERT INTO incident_events (incident_id, at_us, kind, detail) VALUES ($1, $2, $3, $4)")
                    .bind(id).bind(t(at)).bind(kind).bind(detail)
                    .execute(db.store.pool()).await.unwrap();
            }
            for (k, name) in alerts.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO incident_alerts (incident_id, fingerprint, name, status, severity, \
                     summary, labels, annotations, first_seen_us, last_seen_us) \
                     VALUES ($1, $2, $3, 'firing', 'critical', '', '{}', '{}', $4, $4)",
                )
                .bind(id).bind(format!("f{n}-{k}")).bind(*name).bind(t(*opened))
                .execute(db.store.pool()).await.unwrap();
            }
        }
        let m = jiff::SignedDuration::from_mins;
        let query = |since: i64, service: Option<&str>| StatsQuery {
            since: mins(since),
            service: service.map(str::to_string),
            now: mins(180),
        };
        let stats = Stats::compute(&db.store, &query(-24 * 60, None)).await.unwrap();
        assert_eq!(stats.incidents, 3, "the 40-day-old one is before --since");
        assert_eq!(stats.per_service, [("wrkhrs-gateway".to_string(), 2), ("ollama".to_string(), 1)]);
        let mtta = stats.mtta.unwrap();
        assert_eq!((mtta.count, mtta.median, mtta.p90), (3, m(4), m(20)));
        let mttr = stats.mttr.unwrap();
        assert_eq!((mttr.count, mttr.median, mttr.p90), (2, m(10), m(60)));
        assert_eq!(stats.noisiest_alerts[0], NoisyAlert { name: "Down".into(), alerts: 3, incidents: 3 });
        assert_eq!(stats.noisiest_alerts.len(), 2, "Old is before --since");
        assert_eq!(stats.escalation_levels, [("L1".to_string(), m(2 + 15)), ("L2".to_string(), m(5))]);
        let lines = stats.lines().join("\n");
        assert!(lines.contains("MTTA: median 4m 0s, p90 20m 0s (3 incidents)"), "{lines}");
        assert!(lines.contains("Per service: wrkhrs-gateway 2, ollama 1"), "{lines}");
        let png = stats.chart().expect("a chart");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

        let gateway = Stats::compute(&db.store, &query(-24 * 60, Some("wrkhrs-gateway"))).await.unwrap();
        assert_eq!(gateway.incidents, 2);
        let mtta = gateway.mtta.unwrap();
        assert_eq!((mtta.median, mtta.p90), (m(2), m(20)));
        assert!(gateway.title().ends_with("(wrkhrs-gateway)"), "{}", gateway.title());

        let recent = Stats::compute(&db.store, &query(30, None)).await.unwrap();
        assert_eq!(recent.incidents, 2);
        assert_eq!(recent.mttr.unwrap().count, 1);
        let none = Stats::compute(&db.store, &query(500, None)).await.unwrap();
        assert_eq!((none.incidents, none.mtta, none.chart()), (0, None, None));
    }
}
