//! `kubectl kustomize` of the base and the replicas-postgres overlay: RBAC verbs, the
//! Deployment's probes, security and secret references, Service, budget, ServiceMonitor,
//! and the configuration shipped in the ConfigMap.

use super::{manifests::*, *};

/// (api group, resource, verb)
type Grant = (String, String, String);

/// What opsbot's Kubernetes adapter calls, written once: see
/// integrations/kubernetes/src/permissions.rs (`REQUIRED_PERMISSIONS`) and the calls in
/// restart.rs, rollback.rs, scale.rs, revisions.rs, logs.rs and inspect.rs.
const OPERATOR_GRANTS: &[(&str, &str, &str)] = &[
    ("apps", "deployments", "get"),
    ("apps", "deployments", "patch"),
    ("apps", "deployments", "watch"),
    ("apps", "deployments/scale", "patch"),
    ("apps", "replicasets", "list"),
    ("", "pods", "list"),
    ("", "pods/log", "get"),
    ("", "events", "list"),
];

/// What kube-lease-manager calls on its Lease (get, create, patch: see its state.rs).
const LEASE_GRANTS: &[(&str, &str, &str)] = &[
    ("coordination.k8s.io", "leases", "create"),
    ("coordination.k8s.io", "leases", "get"),
    ("coordination.k8s.io", "leases", "patch"),
];

fn grants(rules: &[PolicyRule]) -> BTreeSet<Grant> {
    let mut set = BTreeSet::new();
    for rule in rules {
        assert!(
            rule.resource_names.is_none() && rule.non_resource_urls.is_none(),
            "unexpected rule {rule:?}"
        );
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    set.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    set
}

fn expected(list: &[(&str, &str, &str)]) -> BTreeSet<Grant> {
    list.iter()
        .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
        .collect()
}

/// The operator ClusterRole grants exactly [`OPERATOR_GRANTS`], only through RoleBindings
/// to the `opsbot` service account, one in every namespace of a Kubernetes target of
/// the shipped configuration.
fn check_operator_rbac(rendered: &Rendered, shipped: &LoadedConfig) {
    let [operator] = rendered.cluster_roles.as_slice() else {
        panic!("one ClusterRole expected (opsbot-operator)");
    };
    assert_eq!(operator.metadata.name.as_deref(), Some("opsbot-operator"));
    assert_eq!(
        grants(operator.rules.as_deref().unwrap_or_default()),
        expected(OPERATOR_GRANTS),
        "the operator ClusterRole must grant exactly what the adapter calls"
    );
    let mut bound_namespaces = BTreeSet::new();
    for binding in &rendered.role_bindings {
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        assert!(
            subjects.iter().all(|s| s.kind == "ServiceAccount"
                && s.name == "opsbot"
                && s.namespace.as_deref() == Some("opsbot")),
            "{:?} binds someone else than opsbot/opsbot",
            binding.metadata.name
        );
        if binding.role_ref.name == "opsbot-operator" {
            assert_eq!(binding.role_ref.kind, "ClusterRole");
            bound_namespaces.insert(binding.metadata.namespace.clone().expect("namespaced"));
        }
    }
    let target_namespaces: BTreeSet<String> = shipped
        .config
        .services
        .iter()
        .filter_map(|service| match &service.target {
            Target::Kubernetes { namespace, .. } => Some(namespace.clone()),
            _ => None,
        })
        .collect();
    assert!(!target_namespaces.is_empty());
    assert_eq!(
        bound_namespaces, target_namespaces,
        "one operator RoleBinding per namespace of a Kubernetes target in opsbot.toml"
    );
}

fn opsbot_container(deployment: &Deployment) -> &Container {
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    pod.containers
        .iter()
        .find(|c| c.name == "opsbot")
        .expect("a container named opsbot")
}

fn env_value<'a>(
    container: &'a Container,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::EnvVar> {
    container.env.iter().flatten().find(|e| e.name == name)
}

/// Probes on /readyz and /healthz at the named port, non-root, no privilege escalation,
/// resources, listening on every interface, secrets only by reference, the generated
/// ConfigMap mounted.
fn check_deployment(rendered: &Rendered) -> &Deployment {
    let [deployment] = rendered.deployments.as_slice() else {
        panic!("one Deployment expected");
    };
    let spec = deployment.spec.as_ref().unwrap();
    let pod = spec.template.spec.as_ref().unwrap();
    let container = opsbot_container(deployment);

    let port = container
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some("http"))
        .expect("a port named http");
    let listen = env_value(container, "OPSBOT_LISTEN")
        .and_then(|e| e.value.as_deref())
        .expect("OPSBOT_LISTEN set");
    assert_eq!(
        listen,
        format!("0.0.0.0:{}", port.container_port),
        "opsbot must listen on every interface, on the container port"
    );
    let probe_path = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("an HTTP probe");
        assert_eq!(get.port, IntOrString::String("http".into()));
        get.path.clone().unwrap_or_default()
    };
    assert_eq!(probe_path(&container.readiness_probe), "/readyz");
    assert_eq!(probe_path(&container.liveness_probe), "/healthz");
    assert_eq!(probe_path(&container.startup_probe), "/healthz");

    let pod_security = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert!(pod_security.run_as_user.is_some_and(|uid| uid != 0));
    let security = container
        .security_context
        .as_ref()
        .expect("securityContext");
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    let resources = container.resources.as_ref().expect("resources");
    assert!(
        resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key("memory"))
    );
    assert!(
        resources
            .limits
            .as_ref()
            .is_some_and(|l| l.contains_key("memory"))
    );
    assert_eq!(pod.service_account_name.as_deref(), Some("opsbot"));

    // Secrets by reference only: no literal value for anything named like a secret.
    for env in container.env.iter().flatten() {
        let secretish = ["TOKEN", "SECRET", "PASSWORD", "KEY", "DATABASE_URL"]
            .iter()
            .any(|word| env.name.contains(word));
        assert!(
            !secretish || (env.value.is_none() && env.value_from.is_some()),
            "{} must come from a Secret",
            env.name
        );
    }
    assert!(
        container.env_from.iter().flatten().any(|source| source
            .secret_ref
            .as_ref()
            .is_some_and(|s| s.name == "opsbot-secrets")),
        "the Secret opsbot-secrets provides the ${{NAME}} references"
    );

    // The config volume is the generated ConfigMap, mounted where `serve` reads it.
    let args = container.args.clone().unwrap_or_default();
    let config_arg = args
        .iter()
        .position(|a| a == "--config" || a == "-c")
        .and_then(|i| args.get(i + 1))
        .expect("serve --config FILE");
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| config_arg.starts_with(&format!("{}/", m.mount_path)))
        .expect("the config file's directory is mounted");
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .expect("the mounted volume exists");
    let config_map = volume.config_map.as_ref().expect("a ConfigMap volume");
    assert!(
        rendered
            .config_maps
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some(config_map.name.as_str())),
        "the Deployment mounts ConfigMap {} which is not rendered",
        config_map.name
    );
    for mount in container.volume_mounts.iter().flatten() {
        assert!(
            pod.volumes.iter().flatten().any(|v| v.name == mount.name),
            "volume {} mounted but not defined",
            mount.name
        );
    }
    deployment
}

/// The Service selects the pods and targets the http port; the budget selects the pods;
/// the ServiceMonitor scrapes /metrics through the Service's port.
fn check_service_and_friends(rendered: &Rendered, deployment: &Deployment) {
    let pod_labels = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .expect("pod labels");
    let selects = |selector: &BTreeMap<String, String>| {
        !selector.is_empty() && selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
    };
    let [service] = rendered.services.as_slice() else {
        panic!("one Service expected");
    };
    let spec = service.spec.as_ref().unwrap();
    assert!(selects(spec.selector.as_ref().expect("selector")));
    let port = spec
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some("http"))
        .expect("Service port http");
    assert_eq!(port.target_port, Some(IntOrString::String("http".into())));

    let [budget] = rendered.budgets.as_slice() else {
        panic!("one PodDisruptionBudget expected");
    };
    let budget_spec = budget.spec.as_ref().unwrap();
    assert!(selects(
        budget_spec
            .selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .expect("matchLabels")
    ));

    let [monitor] = rendered.service_monitors.as_slice() else {
        panic!("one ServiceMonitor expected");
    };
    let allowed: BTreeSet<&str> = ["apiVersion", "kind", "metadata", "spec"].into();
    let keys: BTreeSet<&str> = monitor
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, allowed, "ServiceMonitor top-level keys");
    assert_eq!(monitor["metadata"]["namespace"], "opsbot");
    assert!(monitor["metadata"]["name"].is_string());
    let service_labels = service.metadata.labels.clone().unwrap_or_default();
    let match_labels: BTreeMap<String, String> =
        serde_json::from_value(monitor["spec"]["selector"]["matchLabels"].clone())
            .expect("ServiceMonitor spec.selector.matchLabels");
    assert!(
        !match_labels.is_empty()
            && match_labels
                .iter()
                .all(|(k, v)| service_labels.get(k) == Some(v)),
        "the ServiceMonitor selects the Service"
    );
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Endpoint {
        port: String,
        path: String,
        interval: String,
    }
    let endpoints: Vec<Endpoint> =
        serde_json::from_value(monitor["spec"]["endpoints"].clone()).expect("endpoints");
    assert!(!endpoints.is_empty());
    for endpoint in endpoints {
        assert_eq!(endpoint.port, "http");
        assert_eq!(endpoint.path, "/metrics");
        assert!(endpoint.interval.ends_with('s'));
    }
}

/// The `opsbot.toml` of the rendered ConfigMap, loaded as `opsbot check-config` loads it.
fn shipped_config(rendered: &Rendered) -> LoadedConfig {
    let [config_map] = rendered.config_maps.as_slice() else {
        panic!("one ConfigMap expected");
    };
    let text = config_map
        .data
        .as_ref()
        .and_then(|d| d.get("opsbot.toml"))
        .expect("opsbot.toml in the ConfigMap");
    load_config_text(text, "configmap-opsbot.toml")
}

#[test]
fn kubernetes_base_renders_into_valid_typed_manifests() {
    if !tool_available(
        "kubectl",
        "kubernetes_base_renders_into_valid_typed_manifests",
    ) {
        return;
    }
    // `kubectl kustomize deploy/kubernetes` renders the base.
    let top = kustomize("kubernetes");
    assert_eq!(top, kustomize("kubernetes/base"));
    let rendered = parse_rendered(&top);
    let shipped = shipped_config(&rendered);

    assert_eq!(rendered.namespaces.len(), 1);
    assert_eq!(rendered.service_accounts.len(), 1);
    check_operator_rbac(&rendered, &shipped);
    assert!(rendered.roles.is_empty(), "the base needs no Lease Role");
    let deployment = check_deployment(&rendered);
    check_service_and_friends(&rendered, deployment);

    // One replica on SQLite, on the claimed volume, replaced (not rolled) on update.
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        Some("Recreate")
    );
    assert!(shipped.config.store.url.starts_with("sqlite:"));
    let [claim] = rendered.claims.as_slice() else {
        panic!("one PersistentVolumeClaim expected");
    };
    let pod = spec.template.spec.as_ref().unwrap();
    assert!(pod.volumes.iter().flatten().any(|v| {
        v.persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str())
            == claim.metadata.name.as_deref()
    }));
    let data_dir = shipped.config.store.url.trim_start_matches("sqlite://");
    assert!(
        opsbot_container(deployment)
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| data_dir.starts_with(&format!("{}/", m.mount_path))),
        "the SQLite file {data_dir} lies on a mounted volume"
    );
}

#[test]
fn kubernetes_replicas_overlay_runs_three_on_postgres_with_a_lease() {
    if !tool_available(
        "kubectl",
        "kubernetes_replicas_overlay_runs_three_on_postgres_with_a_lease",
    ) {
        return;
    }
    let rendered = parse_rendered(&kustomize("kubernetes/overlays/replicas-postgres"));
    let shipped = shipped_config(&rendered);
    check_operator_rbac(&rendered, &shipped);
    let deployment = check_deployment(&rendered);
    check_service_and_friends(&rendered, deployment);

    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(
        spec.strategy.as_ref().and_then(|s| s.type_.as_deref()),
        Some("RollingUpdate")
    );
    let url = env_value(opsbot_container(deployment), "OPSBOT_DATABASE_URL")
        .and_then(|e| e.value_from.as_ref())
        .and_then(|from| from.secret_key_ref.as_ref())
        .expect("OPSBOT_DATABASE_URL from a Secret");
    assert_eq!(
        (url.name.as_str(), url.key.as_str()),
        ("opsbot-postgres", "url")
    );
    assert!(rendered.claims.is_empty(), "no SQLite volume on PostgreSQL");
    let pod = spec.template.spec.as_ref().unwrap();
    assert!(
        pod.volumes
            .iter()
            .flatten()
            .all(|v| v.persistent_volume_claim.is_none())
    );
    assert_eq!(
        rendered.budgets[0].spec.as_ref().unwrap().min_available,
        Some(IntOrString::Int(2))
    );
    assert_eq!(
        rendered.budgets[0].spec.as_ref().unwrap().max_unavailable,
        None
    );
    assert_eq!(
        shipped.config.leadership.backend,
        config::LeadershipBackend::Auto,
        "auto picks the Lease in the cluster"
    );

    // Leadership: exactly the Lease verbs, in opsbot's namespace, for opsbot.
    let [lease_role] = rendered.roles.as_slice() else {
        panic!("one Role expected (leadership)");
    };
    assert_eq!(lease_role.metadata.namespace.as_deref(), Some("opsbot"));
    assert_eq!(
        grants(lease_role.rules.as_deref().unwrap_or_default()),
        expected(LEASE_GRANTS)
    );
    let binding = rendered
        .role_bindings
        .iter()
        .find(|b| {
            b.role_ref.kind == "Role"
                && b.role_ref.name == lease_role.metadata.name.clone().unwrap()
        })
        .expect("a RoleBinding for the Lease Role");
    assert_eq!(binding.metadata.namespace.as_deref(), Some("opsbot"));
}

/// The plain Role for opsbot outside the cluster grants the same as the ClusterRole.
#[test]
fn standalone_rbac_manifest_matches_the_operator_grants() {
    let documents: Vec<Value> = read_yaml_multi(&deploy_dir().join("kubernetes/opsbot-rbac.yaml"));
    let rendered = parse_rendered(&documents);
    let [role] = rendered.roles.as_slice() else {
        panic!("one Role expected");
    };
    assert_eq!(
        grants(role.rules.as_deref().unwrap_or_default()),
        expected(OPERATOR_GRANTS)
    );
}

fn read_yaml_multi(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple(&text).unwrap()
}

#[test]
fn round_trip_catches_a_misspelt_field() {
    // The check the typed tests rely on: k8s-openapi ignores unknown fields, the round
    // trip does not.
    let good: Value = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}]}
    });
    let _: Service = typed(&good);
    let mut typo = good.clone();
    typo["spec"]["ports"][0]["targetPrt"] = Value::from("http");
    let result = std::panic::catch_unwind(|| typed::<Service>(&typo));
    let message = result
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("the typo fails");
    assert!(message.contains(".spec.ports[0].targetPrt"), "{message}");
}
