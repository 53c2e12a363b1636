//! `logs`: `kubectl logs -l SELECTOR -c CONTAINER --since S --tail N | grep TEXT`, one
//! [`LogChunk`] per pod of the deployment.
//!
//! The container is the target's, else each pod's first container. `grep` is a plain
//! substring filter applied here, after the API server has cut the tail, exactly as the
//! runbooks' `kubectl logs … | grep ERROR` does.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use opsbot_commands::context::{LogChunk, LogQuery};

use crate::{KubeError, revisions::selector_string, session::Session};

pub(crate) async fn logs(
    session: &Session<'_>,
    query: &LogQuery,
) -> Result<Vec<LogChunk>, KubeError> {
    let deployment = session.get_deployment().await?;
    let selector = deployment
        .spec
        .as_ref()
        .map(|spec| selector_string(&spec.selector))
        .unwrap_or_default();
    let api = session.pods();
    let params = ListParams::default().labels(&selector);
    let mut pods = session
        .call("list", "pods", None, api.list(&params))
        .await?
        .items;
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut chunks = Vec::with_capacity(pods.len());
    for pod in &pods {
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        let container = match container_of(pod, session.container.as_deref()) {
            Ok(container) => container,
            Err(why) => {
                chunks.push(LogChunk {
                    source: format!("pod/{name}"),
                    lines: vec![format!("[opsbot: {why}]")],
                });
                continue;
            }
        };
        let params = LogParams {
            container: Some(container.clone()),
            since_seconds: query
                .since
                .map(|since| i64::try_from(since.as_secs().max(1)).unwrap_or(i64::MAX)),
            tail_lines: (query.tail > 0).then_some(i64::from(query.tail)),
            ..LogParams::default()
        };
        let source = format!("pod/{name}/{container}");
        let lines = match session
            .call("get", "pods/log", Some(name), api.logs(name, &params))
            .await
        {
            Ok(text) => text
                .lines()
                .filter(|line| query.grep.as_deref().is_none_or(|grep| line.contains(grep)))
                .map(str::to_string)
                .collect(),
            // Permission and reachability concern every pod: fail the whole command.
            Err(
                error @ (KubeError::Forbidden { .. }
                | KubeError::Unreachable { .. }
                | KubeError::TimedOut { .. }),
            ) => {
                return Err(error);
            }
            // One pod without logs (still starting, just deleted) must not hide the others.
            Err(error) => vec![format!("[opsbot: no logs from this pod: {error}]")],
        };
        chunks.push(LogChunk { source, lines });
    }
    Ok(chunks)
}

/// The container to read: the one asked for, else the pod's first.
fn container_of(pod: &Pod, wanted: Option<&str>) -> Result<String, String> {
    let containers = pod
        .spec
        .as_ref()
        .map(|spec| &spec.containers[..])
        .unwrap_or_default();
    let found = match wanted {
        Some(wanted) => containers.iter().find(|c| c.name == wanted),
        None => containers.first(),
    };
    found.map(|c| c.name.clone()).ok_or_else(|| match wanted {
        Some(wanted) => format!("the pod has no container {wanted:?}"),
        None => "the pod has no containers".to_string(),
    })
}
