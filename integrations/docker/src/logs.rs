//! `logs` of a compose service: the tail of each container's stdout and stderr
//! (`GET /containers/{id}/logs`), decoded, optionally filtered by a plain substring; one
//! chunk per container.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opsbot_commands::context::{LogChunk, LogQuery, RuntimeError};

use crate::{
    client::Engine, compose::ComposeService, container::ContainerInspect, multiplex::decode_lines,
};

/// With `grep`, this many recent lines per container are searched for matches.
pub const GREP_WINDOW: u32 = 10_000;

pub async fn logs(
    engine: &Engine,
    service: &ComposeService,
    query: &LogQuery,
) -> Result<Vec<LogChunk>, RuntimeError> {
    let containers = service.existing_containers(engine).await?;
    let mut chunks = Vec::with_capacity(containers.len());
    for container in containers {
        let inspected: ContainerInspect = engine
            .get_json(&format!("/containers/{}/json", container.id))
            .await?;
        let body = engine
            .get_bytes(&format!(
                "/containers/{}/logs?{}",
                container.id,
                logs_query(query, SystemTime::now())
            ))
            .await?;
        let mut lines = decode_lines(&body, inspected.tty());
        if let Some(needle) = query.grep.as_deref().filter(|n| !n.is_empty()) {
            lines.retain(|line| line.contains(needle));
        }
        let keep = query.tail as usize;
        if lines.len() > keep {
            lines.drain(..lines.len() - keep);
        }
        chunks.push(LogChunk {
            source: inspected.display_name(),
            lines,
        });
    }
    Ok(chunks)
}

/// `stdout=1&stderr=1&tail=N&timestamps=0[&since=UNIX]`.
pub fn logs_query(query: &LogQuery, now: SystemTime) -> String {
    let grep = query.grep.as_deref().is_some_and(|n| !n.is_empty());
    let tail = if grep {
        query.tail.max(GREP_WINDOW)
    } else {
        query.tail
    };
    let mut params = form_urlencoded::Serializer::new(String::new());
    params
        .append_pair("stdout", "1")
        .append_pair("stderr", "1")
        .append_pair("tail", &tail.to_string())
        .append_pair("timestamps", "0");
    if let Some(since) = query.since {
        let start = now
            .checked_sub(since)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        params.append_pair("since", &start.as_secs().to_string());
    }
    params.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_tail_and_since() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let q = LogQuery {
            since: Some(Duration::from_secs(3600)),
            tail: 50,
            grep: None,
        };
        assert_eq!(
            logs_query(&q, now),
            "stdout=1&stderr=1&tail=50&timestamps=0&since=1699996400"
        );
        let q = LogQuery {
            since: None,
            tail: 50,
            grep: Some("ERROR".into()),
        };
        assert_eq!(
            logs_query(&q, now),
            "stdout=1&stderr=1&tail=10000&timestamps=0"
        );
    }
}
