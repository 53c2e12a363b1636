//! `[systemd]`: how opsbot reaches systemd for `kind = "systemd"` targets: the D-Bus of
//! their manager, and how their journal is read through systemd-journal-gatewayd (the
//! gateway's URL is the target's `journal`; timeout and TLS are set here).

use std::path::PathBuf;

use opsbot_commands::{HumanDuration, catalog::Target};
use serde::Deserialize;

use super::{Config, document::KeyPath, problems::Problems};

/// `[systemd]`
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdConfig {
    /// D-Bus address of targets without a `bus` (`unix:path=/run/dbus/system_bus_socket`);
    /// the standard system bus when absent.
    #[serde(default)]
    pub bus: Option<String>,
    /// How long `restart` waits for systemd's job to finish.
    #[serde(default = "default_job_timeout")]
    pub job_timeout: HumanDuration,
    /// How long reading a unit's journal from its gateway may take.
    #[serde(default = "default_journal_timeout")]
    pub journal_timeout: HumanDuration,
    /// PEM file of the CA that signed the gateways' certificates (their `--cert`), for
    /// `https://` journals; the system's web roots when absent.
    #[serde(default)]
    pub journal_ca: Option<PathBuf>,
    /// PEM client certificate and key opsbot presents to gateways that check clients
    /// (their `--trust`); both or neither.
    #[serde(default)]
    pub journal_client_cert: Option<PathBuf>,
    #[serde(default)]
    pub journal_client_key: Option<PathBuf>,
}

impl Default for SystemdConfig {
    fn default() -> Self {
        Self {
            bus: None,
            job_timeout: default_job_timeout(),
            journal_timeout: default_journal_timeout(),
            journal_ca: None,
            journal_client_cert: None,
            journal_client_key: None,
        }
    }
}

impl SystemdConfig {
    /// The adapter's journal TLS settings.
    pub fn journal_tls(&self) -> opsbot_systemd::JournalTls {
        opsbot_systemd::JournalTls {
            ca_file: self.journal_ca.clone(),
            client_cert_file: self.journal_client_cert.clone(),
            client_key_file: self.journal_client_key.clone(),
        }
    }
}

fn default_job_timeout() -> HumanDuration {
    HumanDuration::from_secs(120)
}

fn default_journal_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

/// `[systemd]` and the `journal` of systemd targets: a gateway URL is `http(s)://HOST…`,
/// the TLS files exist, the client certificate comes with its key.
pub(crate) fn check(config: &Config, problems: &mut Problems) {
    let section = KeyPath::root().key("systemd");
    let systemd = &config.systemd;
    if systemd.journal_timeout.as_duration().is_zero() {
        problems.push(section.key("journal_timeout"), "must be longer than zero");
    }
    for (key, path) in [
        ("journal_ca", &systemd.journal_ca),
        ("journal_client_cert", &systemd.journal_client_cert),
        ("journal_client_key", &systemd.journal_client_key),
    ] {
        if let Some(path) = path
            && !path.is_file()
        {
            problems.push(
                section.key(key),
                format!("{} is not a readable file", path.display()),
            );
        }
    }
    match (&systemd.journal_client_cert, &systemd.journal_client_key) {
        (Some(_), None) => problems.push(
            section.key("journal_client_cert"),
            "needs `journal_client_key` too (the client certificate's key)",
        ),
        (None, Some(_)) => problems.push(
            section.key("journal_client_key"),
            "needs `journal_client_cert` too (the certificate of this key)",
        ),
        _ => {}
    }
    for (index, service) in config.services.iter().enumerate() {
        if let Target::Systemd {
            journal: Some(journal),
            ..
        } = &service.target
            && let Err(reason) = gateway_url(journal)
        {
            problems.push(
                KeyPath::root()
                    .key("services")
                    .index(index)
                    .key("target")
                    .key("journal"),
                format!("`{journal}` is not a systemd-journal-gatewayd URL: {reason}"),
            );
        }
    }
}

/// `http(s)://HOST[:PORT][/prefix]`, without a query (opsbot appends `/entries?…`).
fn gateway_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("it must start with http:// or https:// (the gateway listens on port 19531)")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace");
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("it names no host");
    }
    if url.contains('?') || url.contains('#') {
        return Err("it must not have a query or fragment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let empty: SystemdConfig = toml::from_str("").unwrap();
        assert_eq!(empty, SystemdConfig::default());
        assert_eq!(empty.bus, None);
        assert_eq!(empty.job_timeout, HumanDuration::from_secs(120));
        assert_eq!(empty.journal_timeout, HumanDuration::from_secs(10));
        let set: SystemdConfig =
            toml::from_str("bus = \"unix:path=/run/dbus/system_bus_socket\"\njob_timeout = \"3m\"")
                .unwrap();
        assert_eq!(set.job_timeout, HumanDuration::from_secs(180));
        assert!(toml::from_str::<SystemdConfig>("address = \"x\"").is_err());
    }

    #[test]
    fn gateway_urls() {
        assert!(gateway_url("http://aiops-host:19531").is_ok());
        assert!(gateway_url("https://aiops.example/journal/").is_ok());
        assert!(gateway_url("aiops-host:19531").is_err());
        assert!(gateway_url("http://:19531").is_err());
        assert!(gateway_url("http://h:19531/entries?_SYSTEMD_UNIT=x").is_err());
    }

    fn diagnostics(text: &str) -> Vec<(usize, String, String)> {
        let error = crate::config::parse(text, "t.toml", &|_| None).unwrap_err();
        error
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.key.clone(), d.message.clone()))
            .collect()
    }

    #[test]
    fn check_config_names_the_key_and_line_of_bad_journal_settings() {
        let text = "[systemd]\njournal_client_cert = \"/nonexistent/client.pem\"\n\n\
                    [[services]]\nname = \"ollama\"\nenvironment = \"prod\"\n\
                    target = { kind = \"systemd\", unit = \"ollama.service\", journal = \"aiops:19531\" }\n";
        let found = diagnostics(text);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(
            (found[0].0, found[0].1.as_str()),
            (2, "systemd.journal_client_cert")
        );
        assert!(found.iter().any(|(line, key, message)| *line == 2
            && message.contains("needs `journal_client_key` too")
            && key == "systemd.journal_client_cert"));
        assert!(
            found.iter().any(|(line, key, message)| *line == 7
                && key == "services[0].target.journal"
                && message.starts_with("`aiops:19531` is not a systemd-journal-gatewayd URL")),
            "{found:?}"
        );
    }
}
