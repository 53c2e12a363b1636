//! The investigations' store on both backends: a conversation stored and continued
//! (turns, tokens and cost adding up), spend per service in a period, and the look-up
//! of similar past incidents with what closed them (notes, and commands from the audit
//! log while each was open).

use opsbot_llm::Message;

use super::repo::*;
use crate::store::{Store, scratch::backend_tests};

async fn incident(store: &Store, id: i64, service: &str, alert: &str, status: &str) {
    sqlx::query(
        "INSERT INTO incidents (id, key, group_key, source, service, title, severity, status, \
         opened_at_us, resolved_at_us, resolved_by, changed_at_us) \
         VALUES ($1, $2, $3, 'alertmanager', $4, $5, 'critical', $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(format!("key-{id}"))
    .bind(format!("group-{id}"))
    .bind(service)
    .bind(format!("{alert} on {service}"))
    .bind(status)
    .bind(id * 1_000)
    .bind(if status == "resolved" {
        Some(id * 1_000 + 500)
    } else {
        None
    })
    .bind(if status == "resolved" {
        Some("Alice")
    } else {
        None
    })
    .bind(id * 1_000)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO incident_alerts (incident_id, fingerprint, name, status, severity, summary, \
         labels, annotations, first_seen_us, last_seen_us) \
         VALUES ($1, $2, $3, 'firing', 'critical', $4, '{}', '{}', $5, $6)",
    )
    .bind(id)
    .bind(format!("fp-{id}"))
    .bind(alert)
    .bind(alert)
    .bind(id * 1_000)
    .bind(id * 1_000)
    .execute(store.pool())
    .await
    .unwrap();
}

fn new<'a>(incident: i64, service: &'a str) -> NewInvestigation<'a> {
    NewInvestigation {
        incident,
        service: Some(service),
        platform: "slack",
        channel: "C0ALERTS",
        started_by: "slack:U0ALICE",
        model: "llama3.1:8b",
        endpoint: "http://ollama:11434/v1/chat/completions",
        currency: "USD",
    }
}

backend_tests! {
    async fn a_conversation_is_stored_and_continued_with_tokens_and_cost_adding_up(db) {
        let store = &db.store;
        incident(store, 1, "ollama", "OllamaDown", "open").await;
        assert!(latest(store, 1).await.unwrap().is_none());
        let mut conn = store.pool().acquire().await.unwrap();
        let id = insert(&mut conn, &new(1, "ollama")).await.unwrap();
        drop(conn);
        let conversation = vec![Message::system("be brief"), Message::user("why?")];
        let done = Finished {
            ok: true,
            conversation: &conversation,
            tokens_in: 100,
            tokens_out: 20,
            tool_calls: 2,
            cost: "0.25".parse().unwrap(),
            summary: "Ollama is down",
        };
        finish(store, id, &done).await.unwrap();
        let (found, turns, messages) = latest(store, 1).await.unwrap().unwrap();
        assert_eq!((found, turns), (id, 1));
        assert_eq!(messages, conversation);
        let mut conn = store.pool().acquire().await.unwrap();
        assert_eq!(next_turn(&mut conn, id).await.unwrap(), 2);
        drop(conn);
        finish(store, id, &done).await.unwrap();
        let (tokens_in, tool_calls, cost): (i64, i64, String) = sqlx::query_as(
            "SELECT tokens_in, tool_calls, cost FROM investigations WHERE id = $1",
        )
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!((tokens_in, tool_calls), (200, 4));
        assert_eq!(cost.parse::<opsbot_commands::catalog::Money>().unwrap().to_string(), "0.50");
        let now = jiff::Timestamp::now().as_microsecond();
        let spent = spend(store, Some("ollama"), now - 60_000_000, now + 1).await.unwrap();
        assert_eq!(spent.len(), 1);
        assert_eq!(spent[0].1.to_string(), "0.50");
        assert!(spend(store, Some("other"), now - 60_000_000, now + 1).await.unwrap().is_empty());
    }

    async fn similar_incidents_are_found_by_service_or_alert_with_what_closed_them(db) {
        let store = &db.store;
        incident(store, 1, "ollama", "OllamaDown", "resolved").await;
        incident(store, 2, "rag", "GpuMemoryFull", "resolved").await;
        incident(store, 3, "rag", "RagSlow", "resolved").await;
        incident(store, 4, "ollama", "GpuMemoryFull", "open").await;
        sqlx::query(
            "INSERT INTO incident_events (incident_id, at_us, kind, actor, detail) \
             VALUES (1, 1200, 'note', 'Alice', 'freed the GPU by unloading gpt-oss')",
        )
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO audit_log (seq, at_us, request_id, platform, actor_id, actor_name, channel, \
             text, command, service, decision, reason, outcome, summary, duration_ms, \
             prev_hash, hash) VALUES (1, 1300, 'r1', 'slack', 'U0ALICE', 'Alice', 'C0', \
             'restart ollama', 'restart', 'ollama', 'allowed', '', 'ok', '', 5, 'x', 'y')",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let found = similar(store, 4, Some("ollama"), &["GpuMemoryFull".to_string()], 5)
            .await
            .unwrap();
        let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
        assert_eq!(ids, [2, 1], "same alert (2) and same service (1), newest first; not 3");
        assert_eq!(found[1].resolved_by.as_deref(), Some("Alice"));
        assert_eq!(
            found[1].what_was_done,
            [
                "note by Alice: freed the GPU by unloading gpt-oss".to_string(),
                "ran restart ollama (Alice, ok)".to_string(),
            ]
        );
    }
}
