//! `deploy/kubernetes/opsbot-rbac.yaml` grants exactly [`REQUIRED_PERMISSIONS`]: no verb
//! the adapter needs is missing, no verb it does not use is granted, and the grant is a
//! namespaced Role (never a ClusterRole) bound by a RoleBinding. And the list is what the
//! adapter does: every operation run against the fake API server uses only listed verbs,
//! and every listed verb is used by one of them (the watch of a followed rollout too).

use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use opsbot_kubernetes::REQUIRED_PERMISSIONS;
use serde::Deserialize;

#[derive(Deserialize)]
struct Document {
    kind: String,
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(rename = "roleRef")]
    role_ref: Option<RoleRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
}

#[derive(Deserialize)]
struct RoleRef {
    kind: String,
    name: String,
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes/opsbot-rbac.yaml")
}

#[test]
fn the_role_grants_exactly_what_the_adapter_uses() {
    let text = std::fs::read_to_string(manifest()).unwrap();
    let documents: Vec<Document> = serde_saphyr::from_multiple(&text).unwrap();
    let role = documents.iter().find(|d| d.kind == "Role").expect("a Role");
    let binding = documents
        .iter()
        .find(|d| d.kind == "RoleBinding")
        .expect("a RoleBinding");
    let role_ref = binding.role_ref.as_ref().unwrap();
    assert_eq!(
        (role_ref.kind.as_str(), role_ref.name.as_str()),
        ("Role", "opsbot-operator")
    );
    assert!(documents.iter().all(|d| d.kind != "ClusterRole"));

    let granted: BTreeSet<(String, String, String)> = role
        .rules
        .iter()
        .flat_map(|rule| {
            rule.api_groups.iter().flat_map(move |group| {
                rule.resources.iter().flat_map(move |resource| {
                    rule.verbs
                        .iter()
                        .map(move |verb| (group.clone(), resource.clone(), verb.clone()))
                })
            })
        })
        .collect();
    let needed: BTreeSet<(String, String, String)> = REQUIRED_PERMISSIONS
        .iter()
        .flat_map(|p| {
            p.verbs.iter().map(move |verb| {
                (
                    p.api_group.to_string(),
                    p.resource.to_string(),
                    verb.to_string(),
                )
            })
        })
        .collect();
    assert_eq!(granted, needed);
    assert!(
        granted
            .iter()
            .all(|(_, resource, verb)| verb != "*" && resource != "*")
    );
}

/// `(group, resource, verb)` of a request the fake logged (`METHOD path?query …`).
fn rule_of(request: &str) -> (String, String, String) {
    let mut words = request.split(' ');
    let method = words.next().unwrap();
    let target = words.next().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", "v1", "namespaces", _, rest @ ..] => ("", rest),
        ["apis", "apps", "v1", "namespaces", _, rest @ ..] => ("apps", rest),
        _ => panic!("not a namespaced resource request: {request}"),
    };
    let (resource, named) = match rest {
        [resource] => (resource.to_string(), false),
        [resource, _name] => (resource.to_string(), true),
        [resource, _name, sub] => (format!("{resource}/{sub}"), true),
        _ => panic!("{request}"),
    };
    let verb = match (method, named) {
        ("PATCH", _) => "patch",
        ("GET", true) => "get",
        ("GET", false) if query.split('&').any(|p| p == "watch=true") => "watch",
        ("GET", false) => "list",
        _ => panic!("{request}"),
    };
    (group.to_string(), resource, verb.to_string())
}

#[tokio::test]
async fn the_adapter_uses_exactly_the_listed_verbs() {
    use opsbot_commands::{
        Service,
        catalog::Target,
        context::{LogQuery, NoProgress, Runtime},
    };
    use opsbot_fakes::kubernetes::{FakeApiServer, RolloutMode};
    use opsbot_kubernetes::{KubernetesRuntime, KubernetesSettings};

    let server = FakeApiServer::start().await;
    server.seed_deployment("prod", "api", 2, &["api:1", "api:2"]);
    server.set_mode(RolloutMode::Steps {
        delay: Duration::from_millis(20),
    });
    let runtime = KubernetesRuntime::new(KubernetesSettings {
        kubeconfig: Some(server.kubeconfig().to_path_buf()),
        request_timeout: Duration::from_secs(5),
        rollout_timeout: Duration::from_secs(20),
        retry_interval: Duration::from_secs(3600),
    });
    let service = Service::new("api".parse().unwrap(), "prod".parse().unwrap()).with_target(
        Target::Kubernetes {
            context: None,
            namespace: "prod".into(),
            deployment: "api".into(),
            container: None,
        },
    );
    server.clear_requests();
    assert!(
        runtime
            .restart(&service, &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    assert!(
        runtime
            .scale(&service, 3, &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    assert!(
        runtime
            .rollback(&service, None, &NoProgress)
            .await
            .unwrap()
            .succeeded
    );
    runtime.history(&service).await.unwrap();
    runtime.inspect(&service).await.unwrap();
    let query = LogQuery {
        since: None,
        tail: 5,
        grep: None,
    };
    runtime.logs(&service, &query).await.unwrap();

    let used: BTreeSet<(String, String, String)> =
        server.requests().iter().map(|r| rule_of(r)).collect();
    let listed: BTreeSet<(String, String, String)> = REQUIRED_PERMISSIONS
        .iter()
        .flat_map(|p| {
            p.verbs.iter().map(move |verb| {
                (
                    p.api_group.to_string(),
                    p.resource.to_string(),
                    verb.to_string(),
                )
            })
        })
        .collect();
    assert_eq!(used, listed);
}
