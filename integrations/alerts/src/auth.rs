//! Credentials an alert source must present: a bearer token or basic auth, as
//! Alertmanager's `http_config` (`authorization` / `basic_auth`) and Grafana's contact
//! point settings send them. Compared in constant time.

use base64::Engine as _;
use subtle::ConstantTimeEq;

/// What a source is configured to send.
#[derive(Clone)]
pub enum SourceAuth {
    /// No credentials required (only sensible on a trusted network).
    None,
    /// `Authorization: Bearer TOKEN`
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`
    Basic { username: String, password: String },
}

impl std::fmt::Debug for SourceAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceAuth::None => f.write_str("None"),
            SourceAuth::Bearer(_) => f.write_str("Bearer([redacted])"),
            SourceAuth::Basic { username, .. } => write!(f, "Basic({username}:[redacted])"),
        }
    }
}

/// The request's credentials were missing or wrong. Shown to the sender as a 401; the
/// text never echoes what was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing Authorization header")]
    Missing,
    #[error("the Authorization header uses the wrong scheme (expected {expected})")]
    WrongScheme { expected: &'static str },
    #[error("wrong credentials")]
    Wrong,
}

fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

impl SourceAuth {
    /// Checks the value of the `Authorization` header.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let header = || {
            authorization
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .ok_or(AuthError::Missing)
        };
        match self {
            SourceAuth::None => Ok(()),
            SourceAuth::Bearer(token) => {
                let header = header()?;
                let (scheme, value) = header
                    .split_once(' ')
                    .ok_or(AuthError::WrongScheme { expected: "Bearer" })?;
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(AuthError::WrongScheme { expected: "Bearer" });
                }
                if equal(value.trim().as_bytes(), token.as_bytes()) {
                    Ok(())
                } else {
                    Err(AuthError::Wrong)
                }
            }
            SourceAuth::Basic { username, password } => {
                let header = header()?;
                let (scheme, value) = header
                    .split_once(' ')
                    .ok_or(AuthError::WrongScheme { expected: "Basic" })?;
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(AuthError::WrongScheme { expected: "Basic" });
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(value.trim())
                    .map_err(|_| AuthError::Wrong)?;
                let expected = format!("{username}:{password}");
                if equal(&decoded, expected.as_bytes()) {
                    Ok(())
                } else {
                    Err(AuthError::Wrong)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let auth = SourceAuth::Bearer("s3cret".into());
        assert_eq!(auth.check(Some("Bearer s3cret")), Ok(()));
        assert_eq!(auth.check(Some("bearer s3cret")), Ok(()));
        assert_eq!(auth.check(Some("Bearer s3cre")), Err(AuthError::Wrong));
        assert_eq!(
            auth.check(Some("Basic czNjcmV0")),
            Err(AuthError::WrongScheme { expected: "Bearer" })
        );
        assert_eq!(auth.check(None), Err(AuthError::Missing));
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn basic_auth() {
        let auth = SourceAuth::Basic {
            username: "alertmanager".into(),
            password: "pa:ss".into(),
        };
        let good = base64::engine::general_purpose::STANDARD.encode("alertmanager:pa:ss");
        assert_eq!(auth.check(Some(&format!("Basic {good}"))), Ok(()));
        let bad = base64::engine::general_purpose::STANDARD.encode("alertmanager:nope");
        assert_eq!(
            auth.check(Some(&format!("Basic {bad}"))),
            Err(AuthError::Wrong)
        );
        assert_eq!(auth.check(Some("Basic !!!")), Err(AuthError::Wrong));
        assert_eq!(SourceAuth::None.check(None), Ok(()));
    }
}
