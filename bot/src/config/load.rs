//! Loading `opsbot.toml`: choosing the file, reading it, parsing it into [`Config`]
//! (resolving `${ENV_VAR}` references in any string value, then secrets), validating it, building the service
//! [`Catalog`], and applying overrides. Precedence for overridable settings:
//! command-line flag > environment variable > file > default.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use opsbot_commands::Catalog;
use serde::de::DeserializeOwned;

use super::{
    Config, ConfigError, Diagnostic, document::Document, interpolate, secret::Resolver, validate,
};

/// The file read when neither `-c/--config` nor `OPSBOT_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "opsbot.toml";
/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "OPSBOT_CONFIG";
/// Environment variable overriding `store.url`.
pub const ENV_DATABASE_URL: &str = "OPSBOT_DATABASE_URL";
/// Environment variable overriding `server.listen`.
pub const ENV_LISTEN: &str = "OPSBOT_LISTEN";

/// Values given on the command line; each wins over its environment variable and the file.
/// (The file itself is chosen before loading, by [`config_path`].)
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
}

/// A loaded, validated configuration.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: Config,
    /// The service catalog built from `config.services`.
    pub catalog: Catalog,
    /// The file it was read from.
    pub source: PathBuf,
}

/// The process environment, as a lookup function (`None` for unset or non-UTF-8 values).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The configuration file to read: the flag, else `OPSBOT_CONFIG`, else `opsbot.toml`.
pub fn config_path(flag: Option<PathBuf>, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    flag.or_else(|| env(ENV_CONFIG).filter(|p| !p.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

/// Loads `path` with the process environment. See [`load_with`].
pub fn load(path: &Path, overrides: &Overrides) -> Result<LoadedConfig, ConfigError> {
    load_with(path, overrides, &process_env)
}

/// Reads, parses and validates `path`, then applies `overrides` and the `OPSBOT_*`
/// variables of `env`. A missing file is an error, never an empty configuration.
pub fn load_with(
    path: &Path,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            // The default file, not named by OPSBOT_CONFIG: most likely a first run.
            let implicit = env(ENV_CONFIG).is_none_or(|p| p.is_empty())
                && path == Path::new(DEFAULT_CONFIG_PATH);
            ConfigError::NotFound {
                path: path.to_path_buf(),
                implicit,
            }
        } else {
            ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let origin = path.display().to_string();
    let text = utf8(&bytes, &origin)?;
    let base_dir = path.parent().map(Path::to_path_buf);
    let (mut config, catalog) = parse_checked(text, &origin, env, base_dir)?;
    apply_overrides(&mut config, overrides, env)?;
    Ok(LoadedConfig {
        config,
        catalog,
        source: path.to_path_buf(),
    })
}

/// Parses and validates configuration text. `origin` names the file in messages; `env`
/// resolves `${ENV_VAR}` references (overrides are not applied here; see
/// [`apply_overrides`]).
pub fn parse(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    parse_checked(text, origin, env, None).map(|(config, _)| config)
}

/// Applies `--database-url`/`OPSBOT_DATABASE_URL` and `--listen`/`OPSBOT_LISTEN`.
pub fn apply_overrides(
    config: &mut Config,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let database_url = match &overrides.database_url {
        Some(url) => Some(("--database-url", url.clone())),
        None => env(ENV_DATABASE_URL)
            .filter(|url| !url.is_empty())
            .map(|url| (ENV_DATABASE_URL, url)),
    };
    if let Some((from, url)) = database_url {
        validate::check_store_url(&url).map_err(|message| ConfigError::Override {
            from: from.to_string(),
            message,
        })?;
        config.store.url = url;
    }
    if let Some(listen) = overrides.listen {
        config.server.listen = listen;
    } else if let Some(text) = env(ENV_LISTEN).filter(|t| !t.is_empty()) {
        config.server.listen = text.trim().parse().map_err(|_| ConfigError::Override {
            from: ENV_LISTEN.to_string(),
            message: format!("`{text}` is not an address like `127.0.0.1:8080`"),
        })?;
    }
    Ok(())
}

/// Parse, resolve, validate; the catalog comes out of validation.
fn parse_checked(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
    base_dir: Option<PathBuf>,
) -> Result<(Config, Catalog), ConfigError> {
    let doc = parse_document(text, origin)?;
    let config: Config = deserialize(&doc, origin, env, base_dir)?;
    let catalog = validate::validate(&config, &doc, origin)?;
    Ok((config, catalog))
}

/// Parses the TOML syntax, reporting the first error with its position and key path.
pub(crate) fn parse_document<'a>(text: &'a str, origin: &str) -> Result<Document<'a>, ConfigError> {
    let (doc, errors) = Document::parse(text);
    match errors.first() {
        None => Ok(doc),
        Some(error) => {
            let offset = error.span().map_or(0, |span| span.start);
            let position = doc.position(offset);
            Err(ConfigError::Syntax(Diagnostic {
                origin: origin.to_string(),
                line: position.line,
                column: position.column,
                key: doc
                    .locate_syntax_error(error.span(), error.message())
                    .to_string(),
                message: format!("invalid TOML: {}", error.message()),
            }))
        }
    }
}

/// Deserializes the document into `T`: `${ENV_VAR}` references in every string value are
/// replaced through `env` first, then `Secret`s are resolved.
pub(crate) fn deserialize<T: DeserializeOwned>(
    doc: &Document<'_>,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
    base_dir: Option<PathBuf>,
) -> Result<T, ConfigError> {
    let mut root = doc.root();
    let substituted = interpolate::interpolate(&mut root, doc, origin, env)?;
    let resolver = Resolver::new(substituted, base_dir);
    let deserializer = toml::de::Deserializer::from(root);
    resolver
        .scope(|| T::deserialize(deserializer))
        .map_err(|error| {
            let (path, position) = doc.locate_error(error.span(), error.message());
            ConfigError::Schema(Diagnostic {
                origin: origin.to_string(),
                line: position.line,
                column: position.column,
                key: path.to_string(),
                message: error.message().to_string(),
            })
        })
}

/// The text of a file that must be UTF-8; otherwise a syntax error at the first bad byte.
fn utf8<'a>(bytes: &'a [u8], origin: &str) -> Result<&'a str, ConfigError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        // The valid prefix is UTF-8 by definition.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        let position = super::document::Position::at(prefix, prefix.len());
        ConfigError::Syntax(Diagnostic {
            origin: origin.to_string(),
            line: position.line,
            column: position.column,
            key: String::new(),
            message: "the file is not UTF-8 text".to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, io::Write as _};

    use super::*;
    use crate::config::Secret;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
    }

    /// The one diagnostic of a failed parse.
    fn diagnostic(text: &str) -> Diagnostic {
        let err = parse(text, "t.toml", &no_env).expect_err("the text should be refused");
        let diagnostics = err.diagnostics();
        assert_eq!(diagnostics.len(), 1, "expected one diagnostic, got: {err}");
        diagnostics[0].clone()
    }

    fn assert_at(text: &str, line: usize, key: &str, needle: &str) {
        let d = diagnostic(text);
        assert_eq!((d.line, d.key.as_str()), (line, key), "{d}");
        assert!(d.message.contains(needle), "`{needle}` not in: {d}");
        assert!(d.to_string().starts_with(&format!("t.toml:{line}:")), "{d}");
    }

    #[test]
    fn the_example_configuration_loads_and_validates() {
        let loaded = load_with(&example_path(), &Overrides::default(), &no_env)
            .unwrap_or_else(|e| panic!("{e}"));
        let catalog = &loaded.catalog;
        for name in [
            "ai-orchestration",
            "wrkhrs-gateway",
            "wrkhrs-orchestrator",
            "wrkhrs-rag",
            "wrkhrs-asr",
            "wrkhrs-mcp",
            "wrkhrs-tool-registry",
            "qdrant",
            "mlflow",
            "minio",
            "wrkhrs-postgres",
            "ai_assistant",
            "ollama",
            "alice-backend",
            "alice-voice-gateway",
            "alice-local-ai",
            "alice-openai",
        ] {
            assert!(
                catalog.get(name).is_some(),
                "{name} missing from the example"
            );
        }
        let envs: Vec<&str> = catalog.environments().iter().map(|e| e.as_str()).collect();
        assert_eq!(envs, ["prod", "staging"]);
        let config = &loaded.config;
        assert_eq!(config.console.user, "operator");
        assert_eq!(config.store.url, "sqlite://opsbot.db");
        assert_eq!(
            config.audit.retention.as_duration().as_secs(),
            365 * 24 * 3600
        );
        let operator: crate::rbac::Subject = "console:operator".parse().unwrap();
        let lead: crate::rbac::Subject = "console:lead".parse().unwrap();
        let role_of = |subject: &crate::rbac::Subject| -> Vec<&str> {
            config
                .bindings
                .iter()
                .filter(|b| b.subjects.contains(subject))
                .map(|b| b.role.as_str())
                .collect()
        };
        assert_eq!(role_of(&operator), ["operator"]);
        assert_eq!(role_of(&lead), ["approver"]);
        let budget = catalog.get("alice-openai").unwrap().budget.clone().unwrap();
        assert_eq!(budget.daily, Some(10.into()));
        assert_eq!(budget.weekly, Some(50.into()));
        assert_eq!((budget.warn_percent, budget.critical_percent), (80, 95));
        assert_eq!(loaded.source, example_path());
    }

    #[test]
    fn an_empty_file_is_an_empty_configuration() {
        let config = parse("", "t.toml", &no_env).unwrap();
        assert!(config.services.is_empty());
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn server_limits_have_defaults_and_are_checked() {
        let config = parse("", "t.toml", &no_env).unwrap();
        let server = &config.server;
        assert_eq!(
            (
                server.header_timeout.as_duration().as_secs(),
                server.request_timeout.as_duration().as_secs(),
                server.max_connections,
                server.alert_body_limit,
                server.chat_body_limit,
            ),
            (30, 60, 512, 32 * 1024 * 1024, 1024 * 1024)
        );
        let text = "[server]\nheader_timeout = \"5s\"\nrequest_timeout = \"2m\"\n\
                    max_connections = 100\nalert_body_limit = 67108864\nchat_body_limit = 65536\n";
        let server = parse(text, "t.toml", &no_env).unwrap().server;
        assert_eq!(server.header_timeout.as_duration().as_secs(), 5);
        assert_eq!(server.request_timeout.as_duration().as_secs(), 120);
        assert_eq!(
            (
                server.max_connections,
                server.alert_body_limit,
                server.chat_body_limit
            ),
            (100, 64 * 1024 * 1024, 65536)
        );
        assert_at(
            "[server]\nmax_connections = 0\n",
            2,
            "server.max_connections",
            "at least 1",
        );
        assert_at(
            "[server]\nheader_timeout = \"0s\"\n",
            2,
            "server.header_timeout",
            "longer than zero",
        );
        assert_at(
            "[server]\nalert_body_limit = 10\n",
            2,
            "server.alert_body_limit",
            "at least 1024",
        );
    }

    #[test]
    fn a_grafana_secret_without_a_timestamp_header_is_valid_with_a_warning() {
        let env = |_: &str| Some("s3cret".to_string());
        let source = "[[alerts.sources]]\nname = \"grafana\"\nkind = \"grafana\"\nauth = \"none\"\n\
                      grafana_secret = \"${HMAC}\"\n";
        let config = parse(source, "t.toml", &env).unwrap();
        let warnings = crate::config::alerts::warnings(&config.alerts);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("`grafana`") && warnings[0].contains("replayed"),
            "{warnings:?}"
        );
        let stamped =
            format!("{source}grafana_timestamp_header = \"X-Grafana-Alerting-Timestamp\"\n");
        let config = parse(&stamped, "t.toml", &env).unwrap();
        assert!(crate::config::alerts::warnings(&config.alerts).is_empty());
    }

    #[test]
    fn syntax_errors_name_line_and_key() {
        let text = "[server]\nlisten = 127.0.0.1:80\n";
        let err = parse(text, "t.toml", &no_env).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax(_)));
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.key.as_str()), (2, "server.listen"), "{d}");
        assert!(d.message.starts_with("invalid TOML"), "{d}");
        assert_at("a = 1\na = 2\n", 2, "a", "duplicate key");
        assert_at(
            "[server]\nlisten = \"x\"\n\n[[services]]\nname = \"a\"\nname = \"b\"\n",
            6,
            "services[0].name",
            "duplicate key",
        );
        assert_at("x = 1\n[roles.a\nb = 1\n", 2, "", "unclosed table");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        assert_at(
            "[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n",
            3,
            "server.port",
            "unknown field `port`",
        );
        assert_at("\n\n[sever]\n", 3, "sever", "unknown field `sever`");
        // Inside an internally tagged enum (the target), the key is found all the same.
        let text = "[[services]]\nname = \"a\"\nenvironment = \"prod\"\n\n[[services]]\nname = \"b\"\nenvironment = \"prod\"\n[services.target]\nkind = \"systemd\"\nunit = \"x.service\"\nnamespace = \"n\"\n";
        assert_at(
            text,
            11,
            "services[1].target.namespace",
            "unknown field `namespace`",
        );
    }

    #[test]
    fn type_errors_and_missing_fields_name_the_key() {
        assert_at(
            "[store]\nmax_connections = \"eight\"\n",
            2,
            "store.max_connections",
            "invalid type",
        );
        let text = "[[services]]\nname = \"a\"\nenvironment = \"prod\"\ntarget = { kind = \"kubernetes\", deployment = \"d\" }\n";
        assert_at(
            text,
            4,
            "services[0].target.namespace",
            "missing field `namespace`",
        );
        assert_at(
            "[[bindings]]\nrole = \"x\"\nsubjects = [\"console:a\", \"teams:b\"]\n",
            3,
            "bindings[0].subjects[1]",
            "not a subject",
        );
        assert_at(
            "[[services]]\nname = \"Bad Name\"\nenvironment = \"prod\"\n",
            2,
            "services[0].name",
            "not a valid service name",
        );
        assert_at(
            "[confirmation]\ntimeout = \"soon\"\n",
            2,
            "confirmation.timeout",
            "not a duration",
        );
    }

    const ROLES: &str = "[roles.viewer]\nallow = [{ commands = [\"help\"] }]\n";

    #[test]
    fn role_inheritance_must_name_roles_without_cycles() {
        let text = format!("{ROLES}\n[roles.op]\ninherits = [\"viewer\", \"viewr\"]\n");
        assert_at(
            &text,
            5,
            "roles.op.inherits[1]",
            "unknown role `viewr`; did you mean `viewer`?",
        );
        let text = "[roles.a]\ninherits = [\"b\"]\n\n[roles.b]\ninherits = [\"c\"]\n\n[roles.c]\ninherits = [\"a\"]\n";
        assert_at(
            text,
            8,
            "roles.c.inherits[0]",
            "inheritance cycle: a -> b -> c -> a",
        );
        assert_at(
            "[roles.me]\ninherits = [\"me\"]\n",
            2,
            "roles.me.inherits[0]",
            "cycle: me -> me",
        );
    }

    #[test]
    fn commands_must_be_known_everywhere() {
        let text = format!(
            "{ROLES}[roles.op]\nallow = [\n  {{ commands = [\"help\"] }},\n  {{ commands = [\"restart\", \"restrat\"] }},\n]\n"
        );
        let d = diagnostic(&text);
        assert_eq!(
            (d.line, d.key.as_str()),
            (6, "roles.op.allow[1].commands[1]"),
            "{d}"
        );
        assert!(d.message.contains("did you mean `restart`?"), "{d}");
        assert!(
            d.message
                .contains("known commands: help, whoami, services, audit"),
            "{d}"
        );
        let text =
            "[[channels]]\nplatform = \"slack\"\nchannel = \"#x\"\ncommands = [\"reboot\"]\n";
        assert_at(
            text,
            4,
            "channels[0].commands[0]",
            "unknown command `reboot`",
        );
        let text = format!(
            "{ROLES}\n[[approvals]]\nname = \"p\"\ncommands = [\"*\", \"deploy\"]\napprover_roles = [\"viewer\"]\n"
        );
        assert_at(
            &text,
            6,
            "approvals[0].commands[1]",
            "unknown command `deploy`",
        );
    }

    #[test]
    fn bindings_approvers_platforms_and_globs_are_checked() {
        assert_at(
            "[[bindings]]\nrole = \"ghost\"\nsubjects = [\"console:a\"]\n",
            2,
            "bindings[0].role",
            "unknown role `ghost`",
        );
        let text = format!(
            "{ROLES}\n[[approvals]]\nname = \"p\"\ncommands = [\"restart\"]\napprover_roles = [\"viewer\", \"lead\"]\n"
        );
        assert_at(
            &text,
            7,
            "approvals[0].approver_roles[1]",
            "unknown role `lead`; defined roles: viewer",
        );
        assert_at(
            "[[channels]]\nplatform = \"teams\"\nchannel = \"#x\"\ncommands = [\"help\"]\n",
            2,
            "channels[0].platform",
            "use one of: slack, discord, console",
        );
        let text = "[roles.op]\nallow = [{ commands = [\"help\"], services = [\"wrkhrs-[ab\"] }]\n";
        assert_at(text, 2, "roles.op.allow[0].services[0]", "not a valid glob");
        let text = format!(
            "{ROLES}[[approvals]]\nname = \"p\"\ncommands = [\"restart\"]\nenvironments = [\"prod\", \"{{a,\"]\napprover_roles = [\"viewer\"]\n"
        );
        assert_at(&text, 6, "approvals[0].environments[1]", "not a valid glob");
    }

    const SERVICE: &str = "[[services]]\nname = \"a\"\nenvironment = \"prod\"\n";

    #[test]
    fn services_are_checked() {
        let text = format!(
            "{SERVICE}health = [\n  {{ kind = \"http\", url = \"http://ok/health\" }},\n  {{ kind = \"http\", url = \"localhost:8080/health\" }},\n]\n"
        );
        assert_at(
            &text,
            6,
            "services[0].health[1].url",
            "must start with http:// or https://",
        );
        let text = format!(
            "{SERVICE}\n[services.budget]\ndaily = 10\nwarn_percent = 95\ncritical_percent = 80\n"
        );
        assert_at(
            &text,
            7,
            "services[0].budget.warn_percent",
            "must be below critical_percent",
        );
        let text = format!("{SERVICE}budget = {{ weekly = -5 }}\n");
        assert_at(
            &text,
            4,
            "services[0].budget.weekly",
            "must not be negative",
        );
        let text = format!(
            "{SERVICE}budget = {{ daily = 1, warn_percent = 90, critical_percent = 120 }}\n"
        );
        assert_at(
            &text,
            4,
            "services[0].budget.critical_percent",
            "at most 100",
        );
        let text = format!("{SERVICE}max_replicas = 0\n");
        assert_at(&text, 4, "services[0].max_replicas", "at least 1");
        let text = format!(
            "{SERVICE}\n[services.target]\nkind = \"kubernetes\"\nnamespace = \" \"\ndeployment = \"d\"\n"
        );
        assert_at(
            &text,
            7,
            "services[0].target.namespace",
            "non-empty `namespace`",
        );
        let text = format!(
            "{SERVICE}[[services.health]]\nkind = \"prometheus\"\nname = \"p\"\nurl = \"http://prom:9090\"\nquery = \"up\"\ncomparison = \"below\"\nwarn = 0.1\ncritical = 0.5\n"
        );
        assert_at(
            &text,
            10,
            "services[0].health[0].warn",
            "must be at least critical",
        );
    }

    #[test]
    fn budgets_accept_integers_decimals_and_strings() {
        let text =
            format!("{SERVICE}budget = {{ daily = 12.5, weekly = \"60.25\", monthly = 200 }}\n");
        let config = parse(&text, "t.toml", &no_env).unwrap_or_else(|e| panic!("{e}"));
        let budget = config.services[0].budget.clone().unwrap();
        assert_eq!(budget.daily.unwrap().to_string(), "12.5");
        assert_eq!(budget.weekly.unwrap().to_string(), "60.25");
        assert_eq!(budget.monthly.unwrap().to_string(), "200");
    }

    #[test]
    fn duplicate_services_are_reported_at_the_second_one() {
        let text = format!(
            "{SERVICE}\n[[services]]\nname = \"b\"\naliases = [\"x\"]\nenvironment = \"prod\"\n\n[[services]]\nname = \"a\"\nenvironment = \"staging\"\n"
        );
        assert_at(
            &text,
            11,
            "services[2].name",
            "`a` is used by both `a` and `a`",
        );
        let text = format!(
            "{SERVICE}aliases = [\"gw\"]\n\n[[services]]\nname = \"c\"\nenvironment = \"prod\"\naliases = [\"z\", \"gw\"]\n"
        );
        assert_at(
            &text,
            9,
            "services[1].aliases[1]",
            "`gw` is used by both `a` and `c`",
        );
    }

    #[test]
    fn all_problems_are_reported_in_file_order() {
        let text = "[[bindings]]\nrole = \"ghost\"\nsubjects = []\n\n[[channels]]\nplatform = \"irc\"\nchannel = \"#x\"\ncommands = [\"help\"]\n";
        let err = parse(text, "t.toml", &no_env).unwrap_err();
        let lines: Vec<usize> = err.diagnostics().iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 6], "{err}");
        assert_eq!(err.to_string().lines().count(), 2);
    }

    #[test]
    fn store_url_may_come_from_the_environment() {
        let text = "# db\n[store]\nurl = \"${PG_URL}\"\n";
        let env = env_of(&[("PG_URL", "postgres://opsbot:hunter2@db/opsbot")]);
        let config = parse(text, "t.toml", &env).unwrap();
        assert_eq!(config.store.url, "postgres://opsbot:hunter2@db/opsbot");
        assert!(!format!("{config:?}").contains("hunter2"));
        let d = diagnostic(text);
        assert_eq!((d.line, d.key.as_str()), (3, "store.url"));
        assert!(d.message.contains("`PG_URL` is not set"), "{d}");
        let env = env_of(&[("PG_URL", "mysql://u:hunter2@db/x")]);
        let err = parse(text, "t.toml", &env).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(err.diagnostics()[0].line, 3);
    }

    #[test]
    fn env_references_work_in_every_string_value() {
        let text = "[server]\nlisten = \"${LISTEN}\"\n\n[slack]\nbot_token = \"${BOT}\"\n\
                    signing_secret = \"${SIGN}\"\napi_url = \"http://${SLACK_HOST}/api\"\n\
                    app_name = \"ops $${not a reference}\"\n";
        let env = env_of(&[
            ("LISTEN", "127.0.0.1:9300"),
            ("BOT", "xoxb-1"),
            ("SIGN", "s"),
            ("SLACK_HOST", "127.0.0.1:4000"),
        ]);
        let config = parse(text, "t.toml", &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:9300");
        let slack = config.slack.unwrap();
        assert_eq!(slack.api_url, "http://127.0.0.1:4000/api");
        assert_eq!(slack.app_name, "ops ${not a reference}");
        assert_eq!(slack.bot_token.expose(), "xoxb-1");

        // Unset variables: every one, located, in file order.
        let env = env_of(&[("BOT", "xoxb-1"), ("SIGN", "s")]);
        let err = parse(text, "t.toml", &env).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.key.as_str()))
            .collect();
        assert_eq!(found, [(2, "server.listen"), (7, "slack.api_url")], "{err}");
        assert!(
            err.to_string().contains(
                "t.toml:7:11: slack.api_url: environment variable `SLACK_HOST` is not set"
            ),
            "{err}"
        );

        // A secret stays exactly one reference (or a file), never text around one.
        let env = env_of(&[("BOT", "1"), ("SIGN", "s")]);
        let err = parse(
            "[slack]\nbot_token = \"xoxb-${BOT}\"\nsigning_secret = \"${SIGN}\"\n",
            "t.toml",
            &env,
        )
        .unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.key.as_str()), (2, "slack.bot_token"), "{d}");
        assert!(d.message.contains("not part of a longer text"), "{d}");
        assert!(!err.to_string().contains("xoxb-1"), "{err}");
        let err = parse(
            "[slack]\nbot_token = \"$${BOT}\"\nsigning_secret = \"${SIGN}\"\n",
            "t.toml",
            &env,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("cannot be written literally"),
            "{err}"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tokens {
        #[serde(default)]
        bot: Option<Secret>,
        #[serde(default)]
        signing: Option<Secret>,
    }

    fn tokens(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        base_dir: Option<PathBuf>,
    ) -> Result<Tokens, ConfigError> {
        let doc = parse_document(text, "t.toml")?;
        deserialize(&doc, "t.toml", env, base_dir)
    }

    #[test]
    fn secrets_come_from_env_or_file() {
        let env = env_of(&[("SLACK_BOT_TOKEN", "xoxb-1234")]);
        let got = tokens("bot = \"${SLACK_BOT_TOKEN}\"\n", &env, None).unwrap();
        let bot = got.bot.clone().unwrap();
        assert_eq!(bot.expose(), "xoxb-1234");
        assert_eq!(format!("{bot:?}"), "[redacted]");
        assert!(!format!("{got:?}").contains("xoxb"));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        let text = format!("signing = {{ file = {:?} }}\n", path.display().to_string());
        let got = tokens(&text, &no_env, None).unwrap();
        assert_eq!(got.signing.unwrap().expose(), "s3cr3t");
        // Relative paths are relative to the configuration file's directory.
        let got = tokens(
            "signing = { file = \"signing\" }\n",
            &no_env,
            Some(dir.path().into()),
        )
        .unwrap();
        assert_eq!(got.signing.unwrap().expose(), "s3cr3t");
    }

    #[test]
    fn secret_errors_name_key_and_line_but_never_a_value() {
        let env = env_of(&[("OTHER", "value-that-must-not-leak")]);
        let err = tokens("\n\nbot = \"${SLACK_BOT_TOKEN}\"\n", &env, None).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.key.as_str()), (3, "bot"), "{d}");
        assert!(d.message.contains("`SLACK_BOT_TOKEN` is not set"), "{d}");
        assert!(!err.to_string().contains("value-that-must-not-leak"));

        let err = tokens("\nbot = \"xoxb-literal-token\"\n", &no_env, None).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.key.as_str()), (2, "bot"), "{d}");
        assert!(
            d.message.contains("${ENV_VAR}") && d.message.contains("{ file ="),
            "{d}"
        );
        assert!(!err.to_string().contains("xoxb"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let text = format!(
            "signing = {{ file = {:?} }}\n",
            missing.display().to_string()
        );
        let err = tokens(&text, &no_env, None).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.key.as_str()), (1, "signing"), "{d}");
        assert!(d.message.contains("cannot read secret file"), "{d}");

        let err = tokens("signing = { path = \"/x\" }\n", &no_env, None).unwrap_err();
        assert!(err.to_string().contains("unknown key `path`"), "{err}");
        let err = tokens("bot = \"${not valid}\"\n", &no_env, None).unwrap_err();
        assert!(
            err.to_string().contains("environment variable name"),
            "{err}"
        );
    }

    #[test]
    fn overrides_follow_flag_env_file_default() {
        let default = parse("", "t.toml", &no_env).unwrap();
        let from_file = parse(
            "[server]\nlisten = \"0.0.0.0:9000\"\n[store]\nurl = \"sqlite://file.db\"\n",
            "t.toml",
            &no_env,
        )
        .unwrap();
        let env = env_of(&[
            (ENV_LISTEN, "127.0.0.1:9100"),
            (ENV_DATABASE_URL, "postgres://env@db/opsbot"),
        ]);
        let flags = Overrides {
            database_url: Some("sqlite://flag.db".into()),
            listen: Some("127.0.0.1:9200".parse().unwrap()),
        };

        let mut config = default.clone();
        apply_overrides(&mut config, &Overrides::default(), &no_env).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.store.url, "sqlite://opsbot.db");

        let mut config = from_file.clone();
        apply_overrides(&mut config, &Overrides::default(), &no_env).unwrap();
        assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.store.url, "sqlite://file.db");

        let mut config = from_file.clone();
        apply_overrides(&mut config, &Overrides::default(), &env).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(config.store.url, "postgres://env@db/opsbot");

        let mut config = from_file;
        apply_overrides(&mut config, &flags, &env).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:9200");
        assert_eq!(config.store.url, "sqlite://flag.db");

        let bad = env_of(&[
            (ENV_LISTEN, "everywhere"),
            (ENV_DATABASE_URL, "mysql://u:pw@h/d"),
        ]);
        let err = apply_overrides(&mut default.clone(), &Overrides::default(), &bad).unwrap_err();
        assert!(
            err.to_string().starts_with("OPSBOT_DATABASE_URL: "),
            "{err}"
        );
        assert!(!err.to_string().contains("pw@"), "{err}");
        let bad = env_of(&[(ENV_LISTEN, "everywhere")]);
        let err = apply_overrides(&mut default.clone(), &Overrides::default(), &bad).unwrap_err();
        assert!(
            err.to_string().contains("OPSBOT_LISTEN: `everywhere`"),
            "{err}"
        );
    }

    #[test]
    fn config_path_follows_flag_env_default() {
        let env = env_of(&[(ENV_CONFIG, "/etc/opsbot/opsbot.toml")]);
        assert_eq!(
            config_path(Some("a.toml".into()), &env),
            PathBuf::from("a.toml")
        );
        assert_eq!(
            config_path(None, &env),
            PathBuf::from("/etc/opsbot/opsbot.toml")
        );
        assert_eq!(
            config_path(None, &no_env),
            PathBuf::from(DEFAULT_CONFIG_PATH)
        );
    }

    #[test]
    fn load_applies_overrides_and_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opsbot.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:7000\"\n").unwrap();
        let env = env_of(&[(ENV_LISTEN, "127.0.0.1:7001")]);
        let loaded = load_with(&path, &Overrides::default(), &env).unwrap();
        assert_eq!(loaded.config.server.listen.to_string(), "127.0.0.1:7001");
        assert!(loaded.catalog.is_empty());

        let err = load_with(
            Path::new(DEFAULT_CONFIG_PATH),
            &Overrides::default(),
            &no_env,
        )
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::NotFound { implicit: true, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("-c deploy/examples/opsbot.toml"),
            "{err}"
        );

        let err = load_with(
            Path::new(DEFAULT_CONFIG_PATH),
            &Overrides::default(),
            &env_of(&[(ENV_CONFIG, DEFAULT_CONFIG_PATH)]),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::NotFound {
                    implicit: false,
                    ..
                }
            ),
            "{err}"
        );
        let missing = dir.path().join("missing.toml");
        let err = load_with(&missing, &Overrides::default(), &no_env).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::NotFound {
                    implicit: false,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("missing.toml: configuration file not found"),
            "{err}"
        );

        let err = load_with(dir.path(), &Overrides::default(), &no_env).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }

    #[test]
    fn non_utf8_files_are_located() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"[server]\nlisten = \"\xff\xfe\"\n")
            .unwrap();
        let err = load_with(file.path(), &Overrides::default(), &no_env).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!((d.line, d.column), (2, 11), "{d}");
        assert!(d.message.contains("not UTF-8"));
    }

    #[test]
    fn garbage_never_panics() {
        let mut inputs: Vec<String> = [
            "",
            "\0\0\0",
            "=",
            "[",
            "[[",
            "]]",
            "[services]\n[[services]]",
            "services = 3",
            "services = [1, 2]",
            "services = [{}]",
            "roles = []",
            "roles.a = 3",
            "roles.a.allow = [{ commands = 3 }]",
            "[[approvals]]\n",
            "a = \"\\u{0}\"",
            "x = 1e999999",
            "x = 99999999999999999999999",
            "store = { url = \"${\" }",
            "store = { url = \"${}\" }",
            "[console]\nuser = \"\"",
            "\u{feff}[server]",
            "\r\n\r\n[server]\r\nlisten = 1",
            "é = \"ü\"\n\u{1F600} = 1",
            "[[services]]\nname = \"a\"\nenvironment = \"prod\"\nbudget = { daily = \"abc\" }",
            "[[services]]\nname = \"a\"\nenvironment = \"prod\"\nhealth = [{ kind = \"http\" }]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        inputs.push("a = ".to_string() + &"[".repeat(10_000));
        inputs.push("a = ".to_string() + &"{ b = ".repeat(5_000));
        inputs.push("a.".repeat(5_000) + "b = 1");
        inputs.push((0u8..=127).map(char::from).collect());
        inputs.push(
            std::fs::read_to_string(example_path())
                .unwrap()
                .chars()
                .rev()
                .collect(),
        );
        let example = std::fs::read_to_string(example_path()).unwrap();
        for cut in (0..example.len()).step_by(97) {
            if example.is_char_boundary(cut) {
                inputs.push(example[..cut].to_string());
            }
        }
        for input in &inputs {
            if let Err(err) = parse(input, "t.toml", &no_env) {
                let text = err.to_string();
                assert!(text.starts_with("t.toml:"), "{text}");
            }
        }
    }
}
