//! What every kube client of opsbot gets before it is built: a refusal to send
//! credentials over plain HTTP, and a `User-Agent` naming opsbot.
//!
//! kubectl (client-go's `clientcmd`) applies a context's user — token, basic auth, exec
//! or auth-provider plugin — only when the connection is TLS: against an `http://`
//! server it sends no `Authorization` at all. kube-rs sends it anyway. opsbot refuses
//! such a context with an error naming it and the reason, rather than either leaking the
//! token in clear text or silently dropping it (which would only fail later as 401/403).
//! A context without credentials may still use `http://` (a local `kubectl proxy`).
//!
//! The `User-Agent` (`opsbot/VERSION`, like kubectl's `kubectl/v1.32.4 …`) lets a
//! cluster's audit log tell opsbot's requests apart; kube-rs sends none by default.

use kube::Config;

/// The `User-Agent` of opsbot's Kubernetes requests.
pub const USER_AGENT: &str = concat!("opsbot/", env!("CARGO_PKG_VERSION"));

/// Refuses credentials over plain HTTP and adds opsbot's `User-Agent`. `context` names the
/// kubeconfig context in the error (`None`: the current or in-cluster one).
pub fn prepare(config: &mut Config, context: Option<&str>) -> Result<(), String> {
    if config.cluster_url.scheme_str() == Some("http")
        && let Some(kind) = credentials(config)
    {
        let context = match context {
            Some(name) => format!("context {name:?}"),
            None => "the current context".to_string(),
        };
        let server = config.cluster_url.to_string();
        return Err(format!(
            "{context} would send its {kind} to {} over plain http://, unencrypted; \
             opsbot refuses (kubectl does not send it either): use the server's https:// \
             URL, or remove the credentials from the context",
            server.trim_end_matches('/')
        ));
    }
    let name = "user-agent"
        .parse()
        .map_err(|e| format!("user-agent header: {e}"))?;
    let value = USER_AGENT
        .parse()
        .map_err(|e| format!("user-agent header: {e}"))?;
    config.headers.push((name, value));
    Ok(())
}

/// The kind of credentials the context's user would send with each request, if any.
fn credentials(config: &Config) -> Option<&'static str> {
    let auth = &config.auth_info;
    if auth.token.is_some() || auth.token_file.is_some() {
        Some("bearer token")
    } else if auth.username.is_some() || auth.password.is_some() {
        Some("username and password")
    } else if auth.exec.is_some() {
        Some("exec plugin's token")
    } else if auth.auth_provider.is_some() {
        Some("auth-provider token")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, token: bool) -> Config {
        let mut config = Config::new(url.parse().unwrap());
        if token {
            config.auth_info.token = Some("secret-token".to_string().into());
        }
        config
    }

    #[test]
    fn credentials_over_plain_http_are_refused_naming_the_context() {
        let mut plain = config("http://10.0.0.1:8080", true);
        let error = prepare(&mut plain, Some("prod")).unwrap_err();
        assert!(
            error.starts_with(
                "context \"prod\" would send its bearer token to http://10.0.0.1:8080 over plain http://"
            ),
            "{error}"
        );
        assert!(!error.contains("secret-token"), "{error}");
        let mut basic = config("http://10.0.0.1:8080", false);
        basic.auth_info.username = Some("admin".into());
        let error = prepare(&mut basic, None).unwrap_err();
        assert!(
            error.starts_with("the current context would send its username and password"),
            "{error}"
        );
    }

    #[test]
    fn tls_or_no_credentials_pass_with_a_user_agent() {
        for (url, token) in [
            ("https://10.0.0.1:6443", true),
            ("http://127.0.0.1:8001", false),
        ] {
            let mut config = config(url, token);
            prepare(&mut config, None).unwrap();
            let (name, value) = config.headers.last().unwrap();
            assert_eq!(name.as_str(), "user-agent");
            assert_eq!(value.to_str().unwrap(), USER_AGENT);
        }
        assert!(USER_AGENT.starts_with("opsbot/0."), "{USER_AGENT}");
    }
}
