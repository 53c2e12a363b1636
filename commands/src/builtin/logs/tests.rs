//! Tests of `logs`: the query passed on, counts, redaction and truncation.

use crate::{
    Catalog,
    context::{LogChunk, RuntimeError},
};

use super::super::testing::{FakeProber, RecordingRuntime, run, service};

fn catalog() -> Catalog {
    Catalog::new(vec![service("assistant", "prod", &[])]).unwrap()
}

fn runtime(chunks: Vec<LogChunk>) -> RecordingRuntime {
    RecordingRuntime::default().with_logs(chunks)
}

#[tokio::test]
async fn passes_the_query_counts_and_redacts() {
    let runtime = runtime(vec![LogChunk {
        source: "ai_assistant-1".into(),
        lines: vec![
            "INFO started".into(),
            "WARN slow upstream".into(),
            "ERROR openai call failed: Authorization: Bearer sk-abcdefghijklmnop1234".into(),
            "ERROR db password=hunter2 rejected".into(),
        ],
    }]);
    let reply = run(
        "logs assistant --since 1h --tail 50",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap();
    let query = runtime.log_queries.lock().unwrap()[0].clone();
    assert_eq!(query.tail, 50);
    assert_eq!(query.since, Some(std::time::Duration::from_secs(3600)));
    let text = reply.to_plain_text();
    assert_eq!(reply.title, "Logs of assistant: 4 lines in the last 1h");
    assert!(
        !text.contains("hunter2") && !text.contains("sk-abcdefghijklmnop1234"),
        "{text}"
    );
    assert!(
        text.contains("ERROR db password=[redacted] rejected"),
        "{text}"
    );
    assert!(text.contains("🔒 2 secrets redacted"), "{text}");
    assert!(text.contains("ERROR lines: 2"), "{text}");
    assert!(text.contains("WARN lines: 1"), "{text}");
}

#[tokio::test]
async fn grep_filters_and_counts_even_if_the_runtime_does_not() {
    let runtime = runtime(vec![LogChunk {
        source: "c".into(),
        lines: vec!["ERROR a".into(), "INFO b".into(), "ERROR c".into()],
    }]);
    let reply = run(
        "logs assistant --grep ERROR",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap();
    assert_eq!(
        runtime.log_queries.lock().unwrap()[0].grep.as_deref(),
        Some("ERROR")
    );
    assert_eq!(reply.title, "Logs of assistant: 2 lines matching `ERROR`");
    assert!(reply.to_plain_text().contains("Matching `ERROR`: 2"));
    assert!(!reply.to_plain_text().contains("INFO b"));
}

#[tokio::test]
async fn long_output_is_cut_to_one_message_keeping_the_newest_lines() {
    let lines: Vec<String> = (0..2_000)
        .map(|i| format!("INFO request {i:05} served in 12 ms by worker 3"))
        .collect();
    let runtime = runtime(vec![
        LogChunk {
            source: "pod-a".into(),
            lines: lines.clone(),
        },
        LogChunk {
            source: "pod-b".into(),
            lines,
        },
    ]);
    let reply = run(
        "logs assistant --tail 5000",
        &catalog(),
        &FakeProber::default(),
        &runtime,
    )
    .await
    .unwrap();
    let body: usize = reply.lines.iter().map(|l| l.chars().count() + 1).sum();
    assert!(body < 4_000, "{body}");
    let text = reply.to_plain_text();
    assert!(
        text.contains("── pod-a ──") && text.contains("── pod-b ──"),
        "{text}"
    );
    assert!(text.contains("request 01999"), "the newest line is kept");
    assert!(!text.contains("request 00000 "), "the oldest line is cut");
    let cut_line = reply
        .lines
        .iter()
        .find(|l| l.starts_with("✂️"))
        .expect("says what was cut");
    assert!(cut_line.contains("older lines not shown"), "{cut_line}");
}

#[tokio::test]
async fn empty_and_unsupported() {
    let reply = run(
        "logs assistant --since 5m",
        &catalog(),
        &FakeProber::default(),
        &runtime(vec![]),
    )
    .await
    .unwrap();
    assert_eq!(reply.title, "No log lines of assistant in the last 5m");
    let unsupported = RecordingRuntime::default().with_logs_error(RuntimeError::NotSupported(
        "opsbot cannot read logs of x".into(),
    ));
    let err = run(
        "logs assistant",
        &catalog(),
        &FakeProber::default(),
        &unsupported,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("cannot read logs"));
}

#[tokio::test]
async fn grep_matches_the_redacted_text_so_a_secret_cannot_be_probed() {
    let lines = vec![
        "INFO calling openai with sk-test-1234567890abcdef".to_string(),
        "WARN retry with sk-test-1234567890abcdef".into(),
        "ERROR sk-test-1234567890abcdef rejected".into(),
        "INFO idle".into(),
    ];
    let runtime = || {
        runtime(vec![LogChunk {
            source: "c".into(),
            lines: lines.clone(),
        }])
    };
    // Neither the whole key nor a piece of it matches: both answers are the same.
    for probe in ["sk-test-1234567890abcdef", "sk-test-9", "sk-test-1"] {
        let reply = run(
            &format!("logs assistant --grep {probe}"),
            &catalog(),
            &FakeProber::default(),
            &runtime(),
        )
        .await
        .unwrap();
        assert!(
            reply
                .title
                .starts_with("No log lines of assistant matching"),
            "{probe}: {}",
            reply.title
        );
        assert!(
            !reply.to_plain_text().contains("1234567890abcdef"),
            "the pattern is echoed redacted: {}",
            reply.to_plain_text()
        );
    }
    // The redacted form is what can be searched.
    let reply = run(
        "logs assistant --grep sk-[redacted]",
        &catalog(),
        &FakeProber::default(),
        &runtime(),
    )
    .await
    .unwrap();
    assert_eq!(
        reply.title,
        "Logs of assistant: 3 lines matching `sk-[redacted]`"
    );
}
