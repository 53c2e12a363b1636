//! `deploy/kubernetes/opsbot-rbac.yaml` grants exactly [`REQUIRED_PERMISSIONS`]: no verb
//! the adapter needs is missing, no verb it does not use is granted, and the grant is a
//! namespaced Role (never a ClusterRole) bound by a RoleBinding.

use std::{collections::BTreeSet, path::PathBuf};

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
