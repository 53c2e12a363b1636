//! `scale` of a compose service, as `docker compose up --scale` does it: new replicas are
//! created from an existing container's configuration (same image, config, labels and
//! networks; the next `container-number`; name `PROJECT-SERVICE-N`) and started; surplus
//! replicas, highest number first, are stopped and removed.

use hyper::Method;
use opsbot_commands::context::{ActionReport, Progress, RuntimeError};
use serde_json::{Map, Value, json};

use crate::{
    DockerSettings,
    client::Engine,
    compose::ComposeService,
    container::{Condition, ContainerInspect, ContainerSummary, LABEL_NUMBER, short_id},
    wait::{Waited, until_healthy},
};

/// Networks that take no aliases and no endpoint settings of ours.
const BUILTIN_NETWORKS: [&str; 3] = ["bridge", "host", "none"];

pub async fn scale(
    engine: &Engine,
    service: &ComposeService,
    replicas: u32,
    settings: &DockerSettings,
    progress: &dyn Progress,
) -> Result<ActionReport, RuntimeError> {
    if replicas == 0 {
        return Err(RuntimeError::Refused(format!(
            "scaling compose service {} to 0 would remove every container and leave none to create replicas from; stop it with docker compose as the runbook says",
            service.label()
        )));
    }
    let containers = service.existing_containers(engine).await?;
    let current = containers.len() as u32;
    if replicas == current {
        return Ok(ActionReport {
            succeeded: true,
            summary: format!(
                "compose service {} already has {current} container{}",
                service.label(),
                plural(current)
            ),
            details: containers
                .iter()
                .map(|c| format!("{}: {}", c.name(), c.state))
                .collect(),
        });
    }
    if replicas > current {
        scale_up(engine, service, &containers, replicas, settings, progress).await
    } else {
        scale_down(engine, service, &containers, replicas, settings, progress).await
    }
}

async fn scale_up(
    engine: &Engine,
    service: &ComposeService,
    containers: &[ContainerSummary],
    replicas: u32,
    settings: &DockerSettings,
    progress: &dyn Progress,
) -> Result<ActionReport, RuntimeError> {
    let template = pick_template(engine, containers).await?;
    let first_number = containers
        .iter()
        .filter_map(ContainerSummary::number)
        .max()
        .unwrap_or(0)
        + 1;
    let current = containers.len() as u32;
    let mut details = Vec::new();
    for (number, count) in (first_number..).zip(current + 1..=replicas) {
        let name = service.container_name(number);
        progress.report(&format!("creating {name} ({count}/{replicas})"));
        let outcome = match add_replica(engine, service, &template, number, &name).await {
            Ok(id) => until_healthy(engine, &id, settings, progress).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Waited::Healthy { state, after }) => {
                details.push(format!("{name}: created, {state} after {after}"));
            }
            Ok(
                Waited::Failed {
                    state,
                    details: why,
                }
                | Waited::TimedOut {
                    state,
                    details: why,
                },
            ) => {
                details.push(format!("{name}: created, but {state}"));
                details.extend(why);
                return Ok(stopped_at(service, count, replicas, &name, &state, details));
            }
            Err(error) => {
                details.push(format!("{name}: {error}"));
                return Ok(stopped_at(
                    service,
                    count,
                    replicas,
                    &name,
                    "not created",
                    details,
                ));
            }
        }
    }
    Ok(ActionReport {
        succeeded: true,
        summary: format!(
            "scaled compose service {} from {current} to {replicas} container{}",
            service.label(),
            plural(replicas)
        ),
        details,
    })
}

fn stopped_at(
    service: &ComposeService,
    count: u32,
    replicas: u32,
    name: &str,
    state: &str,
    details: Vec<String>,
) -> ActionReport {
    ActionReport {
        succeeded: false,
        summary: format!(
            "scaling compose service {} to {replicas} stopped at container {count}: {name} is {state}",
            service.label()
        ),
        details,
    }
}

/// A running (preferably healthy) replica, inspected whole: its configuration is copied.
async fn pick_template(
    engine: &Engine,
    containers: &[ContainerSummary],
) -> Result<Value, RuntimeError> {
    let mut fallback = None;
    for container in containers {
        let raw: Value = engine
            .get_json(&format!("/containers/{}/json", container.id))
            .await?;
        let typed: ContainerInspect = serde_json::from_value(raw.clone()).map_err(|e| {
            RuntimeError::Failed(format!(
                "unexpected inspect answer for {}: {e}",
                container.name()
            ))
        })?;
        if typed.condition() == Condition::Healthy {
            return Ok(raw);
        }
        fallback.get_or_insert(raw);
    }
    fallback.ok_or_else(|| RuntimeError::Failed("no container to copy".to_string()))
}

/// Creates, connects and starts replica `number`; returns its id.
async fn add_replica(
    engine: &Engine,
    service: &ComposeService,
    template: &Value,
    number: u32,
    name: &str,
) -> Result<String, RuntimeError> {
    let (body, extra_networks) = create_body(template, service, number, name)?;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish();
    let created = engine
        .ok(
            Method::POST,
            &format!("/containers/create?{query}"),
            Some(&body),
            engine.timeout(),
        )
        .await?;
    let id = serde_json::from_slice::<Value>(&created)
        .ok()
        .and_then(|v| v.get("Id").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| RuntimeError::Failed(format!("docker created {name} but sent no Id")))?;
    for (network, endpoint) in extra_networks {
        let connect = json!({ "Container": id, "EndpointConfig": endpoint });
        engine
            .ok(
                Method::POST,
                &format!("/networks/{network}/connect"),
                Some(&connect),
                engine.timeout(),
            )
            .await?;
    }
    engine
        .ok(
            Method::POST,
            &format!("/containers/{id}/start"),
            None,
            engine.timeout(),
        )
        .await?;
    Ok(id)
}

/// The `POST /containers/create` body for a copy of `template`, and the networks beyond
/// the first to connect it to afterwards (older API versions accept one at create).
pub fn create_body(
    template: &Value,
    service: &ComposeService,
    number: u32,
    name: &str,
) -> Result<(Value, Vec<(String, Value)>), RuntimeError> {
    let template_id = template
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let template_name = template
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim_start_matches('/');
    let Some(Value::Object(config)) = template.get("Config") else {
        return Err(RuntimeError::Failed(format!(
            "cannot copy {template_name}: docker sent no Config"
        )));
    };
    let mut body: Map<String, Value> = config.clone();
    let labels = body
        .entry("Labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    labels[LABEL_NUMBER] = Value::String(number.to_string());
    // Docker names a container's host after its short id unless told otherwise; a copied
    // hostname would make every replica claim the template's.
    if body.get("Hostname").and_then(Value::as_str) == Some(short_id(template_id)) {
        body.remove("Hostname");
    }
    if let Some(host_config) = template.get("HostConfig") {
        body.insert("HostConfig".to_string(), host_config.clone());
    }
    let shared_namespace = template
        .pointer("/HostConfig/NetworkMode")
        .and_then(Value::as_str)
        .is_some_and(|mode| mode.starts_with("container:"));
    let mut endpoints: Vec<(String, Value)> = Vec::new();
    if !shared_namespace
        && let Some(Value::Object(networks)) = template.pointer("/NetworkSettings/Networks")
    {
        for (network, settings) in networks {
            let endpoint = if BUILTIN_NETWORKS.contains(&network.as_str()) {
                json!({})
            } else {
                let mut aliases: Vec<String> = settings
                    .get("Aliases")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|a| *a != template_name && *a != short_id(template_id))
                    .map(str::to_owned)
                    .collect();
                for alias in [name, service.service.as_str()] {
                    if !aliases.iter().any(|a| a == alias) {
                        aliases.push(alias.to_string());
                    }
                }
                json!({ "Aliases": aliases })
            };
            endpoints.push((network.clone(), endpoint));
        }
    }
    let mut endpoints = endpoints.into_iter();
    if let Some((network, endpoint)) = endpoints.next() {
        body.insert(
            "NetworkingConfig".to_string(),
            json!({ "EndpointsConfig": { network: endpoint } }),
        );
    }
    Ok((Value::Object(body), endpoints.collect()))
}

async fn scale_down(
    engine: &Engine,
    service: &ComposeService,
    containers: &[ContainerSummary],
    replicas: u32,
    settings: &DockerSettings,
    progress: &dyn Progress,
) -> Result<ActionReport, RuntimeError> {
    let current = containers.len() as u32;
    let surplus = &containers[replicas as usize..];
    let mut details = Vec::new();
    for (index, container) in surplus.iter().rev().enumerate() {
        let name = container.name();
        progress.report(&format!(
            "stopping {name} ({}/{})",
            index + 1,
            surplus.len()
        ));
        let removed = async {
            let stop = format!(
                "/containers/{}/stop?t={}",
                container.id,
                settings.stop_grace.as_secs()
            );
            engine
                .ok(
                    Method::POST,
                    &stop,
                    None,
                    engine.timeout() + settings.stop_grace,
                )
                .await?;
            engine
                .ok(
                    Method::DELETE,
                    &format!("/containers/{}", container.id),
                    None,
                    engine.timeout(),
                )
                .await
        }
        .await;
        match removed {
            Ok(_) => details.push(format!("{name}: stopped and removed")),
            Err(error) => {
                details.push(format!("{name}: {error}"));
                return Ok(ActionReport {
                    succeeded: false,
                    summary: format!(
                        "scaling compose service {} down to {replicas} failed at {name}",
                        service.label()
                    ),
                    details,
                });
            }
        }
    }
    Ok(ActionReport {
        succeeded: true,
        summary: format!(
            "scaled compose service {} from {current} to {replicas} container{}",
            service.label(),
            plural(replicas)
        ),
        details,
    })
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_config_with_the_next_number_and_fresh_aliases() {
        let template = json!({
            "Id": "0123456789abcdef",
            "Name": "/wrkhrs-wrkhrs-rag-1",
            "Config": {
                "Hostname": "0123456789ab",
                "Image": "wrkhrs/rag:1.4",
                "Env": ["QDRANT_URL=http://qdrant:6333"],
                "Labels": {
                    "com.docker.compose.project": "wrkhrs",
                    "com.docker.compose.service": "wrkhrs-rag",
                    "com.docker.compose.container-number": "1"
                }
            },
            "HostConfig": { "NetworkMode": "wrkhrs_default", "RestartPolicy": {"Name": "unless-stopped"} },
            "NetworkSettings": { "Networks": {
                "wrkhrs_default": { "Aliases": ["wrkhrs-wrkhrs-rag-1", "wrkhrs-rag", "0123456789ab"], "IPAddress": "172.18.0.5" },
                "wrkhrs_backend": { "Aliases": ["wrkhrs-rag"] }
            }}
        });
        let service = ComposeService {
            project: "wrkhrs".into(),
            service: "wrkhrs-rag".into(),
        };
        let (body, extra) = create_body(&template, &service, 2, "wrkhrs-wrkhrs-rag-2").unwrap();
        assert_eq!(body["Image"], "wrkhrs/rag:1.4");
        assert_eq!(body["Labels"][LABEL_NUMBER], "2");
        assert_eq!(body["Labels"]["com.docker.compose.service"], "wrkhrs-rag");
        assert!(body.get("Hostname").is_none());
        assert_eq!(
            body["HostConfig"]["RestartPolicy"]["Name"],
            "unless-stopped"
        );
        let endpoints = body["NetworkingConfig"]["EndpointsConfig"]
            .as_object()
            .unwrap();
        assert_eq!(endpoints.len(), 1);
        let (first, endpoint) = endpoints.iter().next().unwrap();
        let aliases = endpoint["Aliases"].as_array().unwrap();
        assert!(aliases.contains(&json!("wrkhrs-rag")));
        assert!(aliases.contains(&json!("wrkhrs-wrkhrs-rag-2")));
        assert!(!aliases.contains(&json!("wrkhrs-wrkhrs-rag-1")));
        assert!(endpoint.get("IPAddress").is_none());
        assert_eq!(extra.len(), 1);
        assert_ne!(&extra[0].0, first);
    }
}
