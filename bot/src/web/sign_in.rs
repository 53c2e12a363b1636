//! Sign-in links and sessions, in the store (`web_links`, `web_sessions`: migration
//! 0015), so that any replica honours a link another one issued. Only token hashes are
//! stored ([`super::token`]). A link is consumed by one `UPDATE … RETURNING` that also
//! checks it is unused and unexpired, so opening it twice (or on two replicas at once)
//! signs in once.
//!
//! [`SignIns`] is also the `web` command's [`WebSignIn`]: it issues the link.

use std::time::Duration;

use async_trait::async_trait;
use opsbot_commands::{
    Actor, Platform,
    web_sign_in::{NO_WEB_CONSOLE, SignInLink, WebSignIn},
};
use sqlx::Row;

use super::token;
use crate::store::{Store, StoreError};

/// The settings of sign-in (from `[web]`).
#[derive(Clone, Debug)]
pub struct SignInSettings {
    /// `https://opsbot.example.com`, no trailing `/`; `None`: the console is off.
    pub public_url: Option<String>,
    pub link_lifetime: Duration,
    pub session_lifetime: Duration,
}

impl SignInSettings {
    pub fn from_config(web: &crate::config::WebConfig) -> Self {
        Self {
            public_url: web.serving_url().map(str::to_string),
            link_lifetime: web.link_lifetime.as_duration(),
            session_lifetime: web.session_lifetime.as_duration(),
        }
    }
}

/// A session: who it acts as and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The cookie's value (the store has only its hash).
    pub token: String,
    pub actor: Actor,
    pub expires_at: jiff::Timestamp,
}

impl Session {
    /// The token every form of this session carries.
    pub fn csrf(&self) -> String {
        token::csrf(&self.token)
    }
}

/// Why sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The link is unknown, used already or expired (one answer for all three: which one
    /// is nobody's business but the store's).
    #[error(
        "this sign-in link is not valid: it was used already, has expired or never existed; type `web` in chat for a new one"
    )]
    InvalidLink,
    #[error("{0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sign-in links and sessions.
#[derive(Clone, Debug)]
pub struct SignIns {
    store: Store,
    settings: SignInSettings,
}

fn micros(at: jiff::Timestamp) -> i64 {
    at.as_microsecond()
}

fn later(now: jiff::Timestamp, span: Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(span)
        .ok()
        .and_then(|span| now.checked_add(span).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

impl SignIns {
    pub fn new(store: Store, settings: SignInSettings) -> Self {
        Self { store, settings }
    }

    pub fn settings(&self) -> &SignInSettings {
        &self.settings
    }

    /// Issues a link for `actor`, valid for the link lifetime from `now`; returns the
    /// token (the link is `PUBLIC_URL/ui/signin/TOKEN`).
    pub async fn issue(&self, actor: &Actor, now: jiff::Timestamp) -> Result<String, SignInError> {
        let token = token::fresh().map_err(SignInError::Random)?;
        let result = sqlx::query(
            "INSERT INTO web_links (token_hash, platform, actor_id, actor_name, actor_groups, \
             created_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token::hash(&token))
        .bind(actor.platform.as_str())
        .bind(actor.id.as_str())
        .bind(actor.display_name.as_str())
        .bind(actor.groups.join("\n"))
        .bind(micros(now))
        .bind(micros(later(now, self.settings.link_lifetime)))
        .execute(self.store.pool())
        .await
        .map(|_| ())
        .map_err(StoreError::from);
        self.store.observe(&result);
        result?;
        Ok(token)
    }

    /// Consumes the link `link_token` (once) and starts a session as its actor.
    pub async fn consume(
        &self,
        link_token: &str,
        now: jiff::Timestamp,
    ) -> Result<Session, SignInError> {
        if !token::well_formed(link_token) {
            return Err(SignInError::InvalidLink);
        }
        // One transaction: the link is used up only if the session it starts is stored.
        let mut tx = self.store.pool().begin().await.map_err(StoreError::from)?;
        let row = sqlx::query(
            "UPDATE web_links SET used_at_us = $1 \
             WHERE token_hash = $2 AND used_at_us IS NULL AND expires_at_us > $3 \
             RETURNING platform, actor_id, actor_name, actor_groups",
        )
        .bind(micros(now))
        .bind(token::hash(link_token))
        .bind(micros(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(SignInError::InvalidLink);
        };
        let actor = actor_of(&row)?;
        let session = Session {
            token: token::fresh().map_err(SignInError::Random)?,
            actor,
            expires_at: later(now, self.settings.session_lifetime),
        };
        let a = &session.actor;
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, platform, actor_id, actor_name, \
             actor_groups, created_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token::hash(&session.token))
        .bind(a.platform.as_str())
        .bind(a.id.as_str())
        .bind(a.display_name.as_str())
        .bind(a.groups.join("\n"))
        .bind(micros(now))
        .bind(micros(session.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(session)
    }

    /// The unexpired session whose cookie is `session_token`.
    pub async fn session(
        &self,
        session_token: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        if !token::well_formed(session_token) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT platform, actor_id, actor_name, actor_groups, expires_at_us \
             FROM web_sessions WHERE token_hash = $1 AND expires_at_us > $2",
        )
        .bind(token::hash(session_token))
        .bind(micros(now))
        .fetch_optional(self.store.read_pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires: i64 = row.try_get("expires_at_us")?;
        Ok(Some(Session {
            token: session_token.to_string(),
            actor: actor_of(&row)?,
            expires_at: crate::store::time::from_micros(expires, "web_sessions")?,
        }))
    }

    /// Ends a session (sign out).
    pub async fn end(&self, session_token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token::hash(session_token))
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Removes links and sessions that expired before `now`; how many.
    pub async fn prune(&self, now: jiff::Timestamp) -> Result<u64, StoreError> {
        let links = sqlx::query("DELETE FROM web_links WHERE expires_at_us <= $1")
            .bind(micros(now))
            .execute(self.store.pool())
            .await?;
        let sessions = sqlx::query("DELETE FROM web_sessions WHERE expires_at_us <= $1")
            .bind(micros(now))
            .execute(self.store.pool())
            .await?;
        Ok(links.rows_affected() + sessions.rows_affected())
    }
}

fn actor_of(row: &sqlx::any::AnyRow) -> Result<Actor, StoreError> {
    let platform: String = row.try_get("platform")?;
    let platform = Platform::parse(&platform)
        .ok_or_else(|| StoreError::corrupt("web_sessions", format!("platform `{platform}`")))?;
    let groups: String = row.try_get("actor_groups")?;
    Ok(Actor::new(
        platform,
        row.try_get::<String, _>("actor_id")?,
        row.try_get::<String, _>("actor_name")?,
    )
    .with_groups(
        groups
            .lines()
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

#[async_trait]
impl WebSignIn for SignIns {
    async fn link(&self, actor: &Actor) -> Result<SignInLink, String> {
        let Some(base) = &self.settings.public_url else {
            return Err(NO_WEB_CONSOLE.to_string());
        };
        let token = self
            .issue(actor, jiff::Timestamp::now())
            .await
            .map_err(|e| format!("could not issue a sign-in link: {e}"))?;
        Ok(SignInLink {
            url: format!("{base}/ui/signin/{token}"),
            valid_for: self.settings.link_lifetime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::scratch::backend_tests;

    fn settings() -> SignInSettings {
        SignInSettings {
            public_url: Some("https://ops.example".into()),
            link_lifetime: Duration::from_secs(300),
            session_lifetime: Duration::from_secs(3600),
        }
    }

    fn ann() -> Actor {
        Actor::new(Platform::Slack, "U1", "Ann").with_groups(vec!["S1".into(), "S2".into()])
    }

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    backend_tests! {
        async fn a_link_signs_in_once_as_its_actor(db) {
            let sign_ins = SignIns::new(db.store.clone(), settings());
            let link = sign_ins.issue(&ann(), at(0)).await.unwrap();
            let session = sign_ins.consume(&link, at(10)).await.unwrap();
            assert_eq!(session.actor, ann());
            assert_eq!(session.expires_at, at(3610));
            // Used: refused, on this replica or any other.
            let again = SignIns::new(db.store.clone(), settings());
            assert!(matches!(again.consume(&link, at(11)).await, Err(SignInError::InvalidLink)));
            // The session is found by its token, until it expires.
            let found = again.session(&session.token, at(20)).await.unwrap().unwrap();
            assert_eq!(found.actor, ann());
            assert_eq!(again.session(&session.token, at(3610)).await.unwrap(), None);
            assert_eq!(again.session(&link, at(20)).await.unwrap(), None);
            sign_ins.end(&session.token).await.unwrap();
            assert_eq!(sign_ins.session(&session.token, at(30)).await.unwrap(), None);
        }

        async fn expired_forged_and_malformed_links_are_refused(db) {
            let sign_ins = SignIns::new(db.store.clone(), settings());
            let link = sign_ins.issue(&ann(), at(0)).await.unwrap();
            assert!(matches!(sign_ins.consume(&link, at(300)).await, Err(SignInError::InvalidLink)));
            let forged = token::fresh().unwrap();
            assert!(matches!(sign_ins.consume(&forged, at(1)).await, Err(SignInError::InvalidLink)));
            assert!(matches!(sign_ins.consume("' OR 1=1 --", at(1)).await, Err(SignInError::InvalidLink)));
            // Only hashes are stored.
            let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM web_links WHERE token_hash = $1")
                .bind(link.as_str())
                .fetch_one(db.store.pool())
                .await
                .unwrap();
            assert_eq!(stored, 0);
            assert_eq!(sign_ins.prune(at(301)).await.unwrap(), 1);
        }

        async fn the_command_gets_a_link_under_the_public_url(db) {
            let sign_ins = SignIns::new(db.store.clone(), settings());
            let link = sign_ins.link(&ann()).await.unwrap();
            let token = link.url.strip_prefix("https://ops.example/ui/signin/").unwrap();
            assert!(token::well_formed(token), "{}", link.url);
            assert_eq!(link.valid_for, Duration::from_secs(300));
            let off = SignIns::new(db.store.clone(), SignInSettings { public_url: None, ..settings() });
            assert_eq!(off.link(&ann()).await.unwrap_err(), NO_WEB_CONSOLE);
        }
    }
}
