//! The compose stack and Alertmanager's webhook to opsbot.

use super::*;

#[derive(Deserialize)]
struct Compose {
    services: BTreeMap<String, Value>,
    #[serde(default)]
    secrets: BTreeMap<String, Value>,
}

#[test]
fn compose_stack_wires_opsbot_postgres_prometheus_and_alertmanager() {
    let compose_dir = deploy_dir().join("compose");
    let compose: Compose = read_yaml(&compose_dir.join("docker-compose.yml"));
    for name in ["opsbot", "postgres", "prometheus", "alertmanager"] {
        assert!(compose.services.contains_key(name), "service {name}");
    }
    let opsbot = &compose.services["opsbot"];
    assert_eq!(opsbot["environment"]["OPSBOT_LISTEN"], "0.0.0.0:8080");
    let database_url = opsbot["environment"]["OPSBOT_DATABASE_URL"]
        .as_str()
        .unwrap();
    assert!(database_url.starts_with("postgres://") && database_url.contains("@postgres:5432/"));
    assert_eq!(
        opsbot["depends_on"]["postgres"]["condition"], "service_healthy",
        "opsbot starts once PostgreSQL is ready"
    );

    // Every bind-mounted file of the stack exists in the repository.
    for (name, service) in &compose.services {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(
                    compose_dir.join(source).exists(),
                    "{name} mounts {source}, which does not exist"
                );
            }
        }
    }
    assert_eq!(opsbot["build"]["dockerfile"], "deploy/Dockerfile");
    assert!(
        compose_dir
            .join(opsbot["build"]["context"].as_str().unwrap())
            .join("deploy/Dockerfile")
            .exists()
    );

    // The configuration mounted into opsbot passes check-config and accepts Alertmanager
    // with the bearer token the compose secret carries.
    let config_text = std::fs::read_to_string(compose_dir.join("opsbot.toml")).unwrap();
    let loaded = load_config_text(&config_text, "compose-opsbot.toml");
    let source = loaded
        .config
        .alerts
        .sources
        .iter()
        .find(|s| s.name == "alertmanager")
        .expect("an alertmanager source");
    assert!(
        matches!(source.auth, config::alerts::SourceAuthConfig::Bearer(ref token)
            if *token.source() == config::SecretSource::Env("OPSBOT_ALERTMANAGER_TOKEN".into())),
        "the alertmanager source takes the bearer token OPSBOT_ALERTMANAGER_TOKEN"
    );

    // Alertmanager posts to opsbot's Alertmanager endpoint with that token.
    let alertmanager: AlertmanagerConfig =
        read_yaml(&deploy_dir().join("alertmanager/alertmanager.yml"));
    let webhooks: Vec<&Webhook> = alertmanager
        .receivers
        .iter()
        .flat_map(|r| r.webhook_configs.iter())
        .collect();
    assert!(!webhooks.is_empty());
    for webhook in webhooks {
        assert_eq!(webhook.url, "http://opsbot:8080/alerts/alertmanager");
        let authorization = &webhook.http_config.authorization;
        assert_eq!(authorization.type_, "Bearer");
        let secret = authorization
            .credentials_file
            .strip_prefix("/run/secrets/")
            .expect("the token comes from a compose secret");
        assert!(
            compose.services["alertmanager"]["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == secret),
            "the alertmanager service mounts the secret {secret}"
        );
        assert_eq!(
            compose.secrets[secret]["environment"], "OPSBOT_ALERTMANAGER_TOKEN",
            "the secret holds the token opsbot checks"
        );
    }
}

/// amtool (Debian's prometheus-alertmanager, installed by .ci/run) checks the whole file.
#[test]
fn alertmanager_config_passes_amtool() {
    if !tool_available("amtool", "alertmanager_config_passes_amtool") {
        return;
    }
    run_check(
        "amtool",
        &[
            Path::new("check-config"),
            &deploy_dir().join("alertmanager/alertmanager.yml"),
        ],
    );
}

#[derive(Deserialize)]
struct AlertmanagerConfig {
    receivers: Vec<Receiver>,
}

#[derive(Deserialize)]
struct Receiver {
    #[serde(default)]
    webhook_configs: Vec<Webhook>,
}

#[derive(Deserialize)]
struct Webhook {
    url: String,
    http_config: HttpConfig,
}

#[derive(Deserialize)]
struct HttpConfig {
    authorization: Authorization,
}

#[derive(Deserialize)]
struct Authorization {
    #[serde(rename = "type")]
    type_: String,
    credentials_file: String,
}
