//! The session cookie: setting it when a link is consumed (HttpOnly, SameSite=Strict,
//! Path=/ui, Secure behind https, expiring with the session), clearing it, and reading it
//! back into the signed-in identity ([`SignedIn`], an extractor every page takes).

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, header, request::Parts},
};

use super::{WebConsole, access::Access, error::WebError, sign_in::Session};

/// The cookie's name.
const COOKIE: &str = "opsbot_session";

/// The `Set-Cookie` value that carries `session` (expiring when it does).
pub fn set_cookie(session: &Session, secure: bool, now: jiff::Timestamp) -> HeaderValue {
    let max_age = session
        .expires_at
        .as_second()
        .saturating_sub(now.as_second())
        .max(0);
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        session.token
    ))
    .expect("a hex token is a valid header value")
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("a static header value")
}

/// The session token the request's cookie carries, if any.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The signed-in identity of a request, and what it may do; a request without an
/// unexpired session is refused with 401.
pub struct SignedIn {
    pub session: Session,
    pub access: Access,
}

impl FromRequestParts<WebConsole> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &WebConsole,
    ) -> Result<Self, Self::Rejection> {
        let token = token(&parts.headers).ok_or(WebError::SignedOut)?;
        let session = console
            .sign_ins()
            .session(token, jiff::Timestamp::now())
            .await?
            .ok_or(WebError::SignedOut)?;
        let access = Access::of(&session, console.engine().policy());
        Ok(SignedIn { session, access })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsbot_commands::{Actor, Platform};

    fn session(expires: i64) -> Session {
        Session {
            token: "ab".repeat(32),
            actor: Actor::new(Platform::Slack, "U1", "Ann"),
            expires_at: jiff::Timestamp::from_second(expires).unwrap(),
        }
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_https() {
        let now = jiff::Timestamp::from_second(1000).unwrap();
        let cookie = set_cookie(&session(1600), true, now);
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.starts_with(&format!("opsbot_session={}", "ab".repeat(32))),
            "{cookie}"
        );
        for part in [
            "Path=/ui",
            "Max-Age=600",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
        ] {
            assert!(cookie.contains(part), "{cookie} lacks {part}");
        }
        let plain = set_cookie(&session(1600), false, now);
        assert!(!plain.to_str().unwrap().contains("Secure"));
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn the_token_is_read_from_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(token(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("x=y; opsbot_session=cafe"),
        );
        assert_eq!(token(&headers), Some("cafe"));
    }
}
