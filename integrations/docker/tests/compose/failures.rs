//! Failures: a missing socket or refused connection is `Unreachable` naming the docker
//! host; a daemon that does not answer in time is too; rollback points to the runbook;
//! a service with no containers says what was looked for; `docker_host` of the target
//! wins over the default.

use std::time::{Duration, Instant};

use opsbot_commands::context::{LogQuery, Runtime, RuntimeError};
use opsbot_docker::DockerRuntime;

use crate::{FakeEngine, Recorder, runtime, service, settings};

#[tokio::test]
async fn a_missing_socket_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/docker.sock", dir.path().display());
    let rt = DockerRuntime::new(settings(host.clone())).unwrap();

    let error = rt
        .restart(&service("wrkhrs-rag", None, false), &Recorder::default())
        .await
        .unwrap_err();

    let RuntimeError::Unreachable { what, reason } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(what, &format!("docker host {host}"));
    assert!(reason.contains("No such file or directory"), "{reason}");
}

#[tokio::test]
async fn a_refused_tcp_connection_is_unreachable() {
    // Bind then drop a listener: nothing accepts on that port any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let host = format!("tcp://127.0.0.1:{port}");
    let rt = DockerRuntime::new(settings("unix:///nonexistent/docker.sock".into())).unwrap();

    let error = rt
        .inspect(&service("wrkhrs-rag", Some(host.clone()), false))
        .await
        .unwrap_err();

    let RuntimeError::Unreachable { what, reason } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(what, &format!("docker host {host}"));
    assert!(reason.contains("refused"), "{reason}");
}

#[tokio::test]
async fn a_daemon_that_does_not_answer_times_out() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    engine.add("wrkhrs", "wrkhrs-rag", 1, true);
    engine.stall(Duration::from_secs(10));
    let mut settings = settings(engine.docker_host());
    settings.request_timeout = Duration::from_millis(300);
    let rt = DockerRuntime::new(settings).unwrap();

    let started = Instant::now();
    let error = rt
        .logs(
            &service("wrkhrs-rag", None, false),
            &LogQuery {
                since: None,
                tail: 10,
                grep: None,
            },
        )
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let RuntimeError::Unreachable { reason, .. } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(
        reason,
        "no answer to GET /containers/json?all=1&filters=%7B%22label%22%3A%5B%22com.docker.compose.project%3Dwrkhrs%22%2C%22com.docker.compose.service%3Dwrkhrs-rag%22%5D%7D within 300ms"
    );
}

#[tokio::test]
async fn the_target_docker_host_wins_over_the_default() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    engine.add("wrkhrs", "wrkhrs-rag", 1, false);
    let rt = DockerRuntime::new(settings("unix:///nonexistent/docker.sock".into())).unwrap();
    let view = rt
        .inspect(&service("wrkhrs-rag", Some(engine.docker_host()), false))
        .await
        .unwrap();
    assert_eq!(view.summary, "1/1 containers healthy, 0 restarts");
}

#[tokio::test]
async fn rollback_points_to_the_runbook() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let error = runtime(&engine)
        .rollback(
            &service("wrkhrs-rag", None, false),
            None,
            &Recorder::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        RuntimeError::NotSupported(
            "docker compose keeps no previous revision of wrkhrs-rag; see the runbook (runbooks/wrkhrs-ai-stack.md)".into()
        )
    );
}

#[tokio::test]
async fn a_service_without_containers_is_a_clear_failure() {
    let engine = FakeEngine::start(Duration::from_millis(10)).await;
    let error = runtime(&engine)
        .restart(&service("wrkhrs-mcp", None, false), &Recorder::default())
        .await
        .unwrap_err();
    let RuntimeError::Failed(message) = error else {
        panic!("expected Failed, got {error:?}");
    };
    assert!(
        message.contains("has no containers of compose service wrkhrs/wrkhrs-mcp"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bad_default_host_is_a_configuration_error() {
    let error = DockerRuntime::new(settings("ssh://ops@docker-1".into()))
        .err()
        .unwrap();
    assert!(
        error.contains("neither unix:///PATH nor tcp://HOST:PORT"),
        "{error}"
    );
}
