//! A compose service as the Engine sees it: the containers labelled with its project and
//! service name, in replica-number order.

use opsbot_commands::context::RuntimeError;

use crate::{
    client::Engine,
    container::{ContainerSummary, LABEL_PROJECT, LABEL_SERVICE},
};

/// The `project`/`service` pair of a `Target::Compose`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeService {
    pub project: String,
    pub service: String,
}

impl ComposeService {
    pub fn label(&self) -> String {
        format!("{}/{}", self.project, self.service)
    }

    /// `docker compose`'s container name for replica `number`.
    pub fn container_name(&self, number: u32) -> String {
        format!("{}-{}-{number}", self.project, self.service)
    }

    /// The query of `GET /containers/json` that lists this service's containers, running
    /// or not.
    pub fn list_path(&self) -> String {
        let filters = serde_json::json!({
            "label": [
                format!("{LABEL_PROJECT}={}", self.project),
                format!("{LABEL_SERVICE}={}", self.service),
            ]
        });
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("all", "1")
            .append_pair("filters", &filters.to_string())
            .finish();
        format!("/containers/json?{query}")
    }

    /// The service's replicas (one-off `compose run` containers excluded), lowest number
    /// first.
    pub async fn containers(&self, engine: &Engine) -> Result<Vec<ContainerSummary>, RuntimeError> {
        let listed: Vec<ContainerSummary> = engine.get_json(&self.list_path()).await?;
        let mut replicas: Vec<ContainerSummary> = listed
            .into_iter()
            .filter(|c| {
                !c.is_oneoff()
                    && c.labels.get(LABEL_PROJECT) == Some(&self.project)
                    && c.labels.get(LABEL_SERVICE) == Some(&self.service)
            })
            .collect();
        replicas.sort_by_key(|c| (c.number().unwrap_or(u32::MAX), c.name()));
        Ok(replicas)
    }

    /// Like [`Self::containers`], but an empty service is an error naming what was looked for.
    pub async fn existing_containers(
        &self,
        engine: &Engine,
    ) -> Result<Vec<ContainerSummary>, RuntimeError> {
        let containers = self.containers(engine).await?;
        if containers.is_empty() {
            return Err(RuntimeError::Failed(format!(
                "docker host {} has no containers of compose service {} (labels {LABEL_PROJECT}={} and {LABEL_SERVICE}={}); is the project up?",
                engine.host(),
                self.label(),
                self.project,
                self.service
            )));
        }
        Ok(containers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_path_filters_on_both_labels() {
        let svc = ComposeService {
            project: "wrkhrs".into(),
            service: "wrkhrs-rag".into(),
        };
        let path = svc.list_path();
        assert!(path.starts_with("/containers/json?all=1&filters="));
        let query = path.split_once('?').unwrap().1;
        let filters: String = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "filters")
            .unwrap()
            .1
            .into_owned();
        let filters: serde_json::Value = serde_json::from_str(&filters).unwrap();
        assert_eq!(
            filters["label"],
            serde_json::json!([
                "com.docker.compose.project=wrkhrs",
                "com.docker.compose.service=wrkhrs-rag"
            ])
        );
        assert_eq!(svc.container_name(3), "wrkhrs-wrkhrs-rag-3");
    }
}
