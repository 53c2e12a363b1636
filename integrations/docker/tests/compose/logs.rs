//! `logs`: one chunk per container, the multiplexed stream decoded (raw output for TTY
//! containers), `grep` as a plain substring filter, `tail` and `since` passed on.

use std::time::Duration;

use opsbot_commands::context::{LogQuery, Runtime};

use crate::{FakeEngine, runtime, service};

fn query(tail: u32, grep: Option<&str>) -> LogQuery {
    LogQuery {
        since: None,
        tail,
        grep: grep.map(str::to_owned),
    }
}

#[tokio::test]
async fn logs_are_decoded_per_container() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let first = engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    let second = engine.add("wrkhrs", "wrkhrs-rag", 2, true);
    engine.edit(&first, |c| {
        c.logs = vec![
            (1, "INFO loading index".into()),
            (2, "WARN qdrant slow: 900 ms".into()),
            (1, "INFO listening on :8082".into()),
        ]
    });
    engine.edit(&second, |c| {
        c.tty = true;
        c.logs = vec![(1, "tty line one".into()), (1, "tty line two".into())];
    });

    let chunks = runtime(&engine)
        .logs(&service("wrkhrs-rag", None, false), &query(100, None))
        .await
        .unwrap();

    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].source, "wrkhrs-wrkhrs-rag-1");
    assert_eq!(
        chunks[0].lines,
        vec![
            "INFO loading index",
            "WARN qdrant slow: 900 ms",
            "INFO listening on :8082"
        ]
    );
    assert_eq!(chunks[1].source, "wrkhrs-wrkhrs-rag-2");
    assert_eq!(chunks[1].lines, vec!["tty line one", "tty line two"]);
}

#[tokio::test]
async fn grep_filters_and_tail_keeps_the_latest() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let id = engine.add("wrkhrs", "wrkhrs-gateway", 1, true);
    engine.edit(&id, |c| {
        c.logs = (1..=30)
            .map(|n| {
                (
                    if n % 3 == 0 { 2 } else { 1 },
                    format!("{} request {n}", if n % 3 == 0 { "ERROR" } else { "INFO" }),
                )
            })
            .collect()
    });
    let rt = runtime(&engine);
    let svc = service("wrkhrs-gateway", None, false);

    let chunks = rt.logs(&svc, &query(3, Some("ERROR"))).await.unwrap();
    assert_eq!(
        chunks[0].lines,
        vec!["ERROR request 24", "ERROR request 27", "ERROR request 30"]
    );

    let chunks = rt.logs(&svc, &query(2, None)).await.unwrap();
    assert_eq!(chunks[0].lines, vec!["INFO request 29", "ERROR request 30"]);

    let since = LogQuery {
        since: Some(Duration::from_secs(3600)),
        ..query(5, None)
    };
    rt.logs(&svc, &since).await.unwrap();
    let requests = engine.requests();
    let last = requests
        .iter()
        .rev()
        .find(|r| r.contains("/logs?"))
        .unwrap();
    assert!(
        last.contains("stdout=1&stderr=1&tail=5&timestamps=0&since="),
        "{last}"
    );
}
