//! The Discord REST calls opsbot makes, over serenity's HTTP layer: its typed routes
//! (`/api/v10/...`), its request building and, in production, its rate limiter (which
//! waits out buckets and retries 429s itself).
//!
//! With a base URL other than `https://discord.com` (a local fake in tests, an HTTP
//! proxy) serenity's `HttpBuilder::proxy` retargets every call, which serenity only
//! honours with its rate limiter disabled: calls are then sent directly, and a 429 comes
//! back as [`RestError::RateLimited`] with Discord's `retry_after` for the caller (the
//! outbox) to wait out. Either way the raw answer is read here, so status, body and
//! `Retry-After` are all seen. serenity's gateway client gets an `Http` of its own with
//! the same settings ([`DiscordRest::gateway_http`]), so its `GET /gateway` (the
//! websocket URL) follows the base URL too.

use std::{fmt, sync::Arc, time::Duration};

use serde_json::Value;
use serenity::{
    builder::{CreateAttachment, CreateCommand},
    http::{Http, HttpBuilder, LightMethod, Multipart, MultipartUpload, Request, Route},
    model::id::{ApplicationId, ChannelId, GuildId, InteractionId, MessageId},
};

use crate::{DISCORD_API, render::MessageBody, rest_error::RestError};

/// How to reach Discord. `Debug` hides the token.
#[derive(Clone)]
pub struct RestConfig {
    /// The bot token (`Bot ` is prefixed when missing).
    pub token: String,
    pub application_id: String,
    /// `https://discord.com` (the default) or a proxy / fake server.
    pub base_url: String,
    /// Timeout of each call.
    pub timeout: Duration,
}

impl fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestConfig")
            .field("token", &"[redacted]")
            .field("application_id", &self.application_id)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Discord's REST API for one application.
#[derive(Clone)]
pub struct DiscordRest {
    http: Arc<Http>,
    client: reqwest::Client,
    application_id: ApplicationId,
    config: Arc<RestConfig>,
}

impl fmt::Debug for DiscordRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordRest")
            .field("application_id", &self.application_id)
            .field("proxy", &self.http.proxy)
            .field("rate_limiter", &self.http.ratelimiter.is_some())
            .finish_non_exhaustive()
    }
}

fn id<T: From<u64>>(text: &str) -> Result<T, RestError> {
    match text.trim().parse::<u64>() {
        Ok(n) if n != 0 => Ok(T::from(n)),
        _ => Err(RestError::BadId(text.to_string())),
    }
}

impl DiscordRest {
    pub fn new(config: &RestConfig) -> Result<Self, RestError> {
        let application_id: ApplicationId = id(&config.application_id)?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| RestError::transport(&e))?;
        Ok(Self {
            http: Arc::new(http_for(config, client.clone(), application_id)),
            client,
            application_id,
            config: Arc::new(config.clone()),
        })
    }

    /// serenity's HTTP client for this configuration.
    pub fn serenity_http(&self) -> Arc<Http> {
        self.http.clone()
    }

    /// A new serenity HTTP client with the same token, base URL and rate-limiter choice,
    /// for serenity's gateway client (which takes ownership of one). Its `GET /gateway`,
    /// which hands out the websocket URL, goes to the same base URL as every other call.
    pub fn gateway_http(&self) -> Http {
        http_for(&self.config, self.client.clone(), self.application_id)
    }

    pub fn application_id(&self) -> ApplicationId {
        self.application_id
    }

    async fn send(&self, request: Request<'_>) -> Result<Vec<u8>, RestError> {
        // Client errors quote the URL, and with it an interaction's token: redacted.
        let transport = |e: &dyn fmt::Display| RestError::transport(e);
        let response = match &self.http.ratelimiter {
            Some(limiter) => limiter.perform(request).await.map_err(|e| transport(&e))?,
            None => {
                let built = request
                    .build(&self.client, self.http.token(), self.http.proxy.as_deref())
                    .map_err(|e| transport(&e))?
                    .build()
                    .map_err(|e| transport(&e))?;
                self.client
                    .execute(built)
                    .await
                    .map_err(|e| transport(&e))?
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.bytes().await.map_err(|e| transport(&e))?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(RestError::from_response(
                status,
                retry_after.as_deref(),
                &body,
            ))
        }
    }

    fn with_body<'a>(request: Request<'a>, body: &MessageBody) -> Result<Request<'a>, RestError> {
        let json = serde_json::to_vec(&body.json).map_err(|e| RestError::Decode(e.to_string()))?;
        if body.files.is_empty() {
            return Ok(request.body(Some(json)));
        }
        let files = body
            .files
            .iter()
            .map(|(name, bytes)| CreateAttachment::bytes(bytes.clone(), name.clone()))
            .collect();
        Ok(request.multipart(Some(Multipart {
            upload: MultipartUpload::Attachments(files),
            fields: Vec::new(),
            payload_json: Some(String::from_utf8_lossy(&json).into_owned()),
        })))
    }

    fn message_id(body: &[u8]) -> Result<String, RestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RestError::Decode(e.to_string()))?;
        match &value["id"] {
            Value::String(id) => Ok(id.clone()),
            Value::Number(id) => Ok(id.to_string()),
            _ => Err(RestError::Decode("the answer has no `id`".into())),
        }
    }

    /// `POST /channels/{channel}/messages`: the new message's id.
    pub async fn create_message(
        &self,
        channel: &str,
        body: &MessageBody,
    ) -> Result<String, RestError> {
        let channel_id: ChannelId = id(channel)?;
        let route = Route::ChannelMessages { channel_id };
        let request = Self::with_body(Request::new(route, LightMethod::Post), body)?;
        Self::message_id(&self.send(request).await?)
    }

    /// `PATCH /channels/{channel}/messages/{message}`
    pub async fn edit_message(
        &self,
        channel: &str,
        message: &str,
        body: &MessageBody,
    ) -> Result<(), RestError> {
        let route = Route::ChannelMessage {
            channel_id: id(channel)?,
            message_id: id(message)?,
        };
        let request = Self::with_body(Request::new(route, LightMethod::Patch), body)?;
        self.send(request).await.map(drop)
    }

    /// `POST /channels/{channel}/messages/{message}/threads`: a public thread started
    /// from the message; its id is the message's id.
    pub async fn start_thread(
        &self,
        channel: &str,
        message: &str,
        name: &str,
    ) -> Result<String, RestError> {
        let route = Route::ChannelMessageThreads {
            channel_id: id(channel)?,
            message_id: id::<MessageId>(message)?,
        };
        let name: String = name.chars().take(100).collect();
        let name = if name.trim().is_empty() {
            "thread".to_string()
        } else {
            name
        };
        let body = serde_json::json!({ "name": name, "auto_archive_duration": 1440 });
        let request =
            Request::new(route, LightMethod::Post).body(Some(body.to_string().into_bytes()));
        Self::message_id(&self.send(request).await?)
    }

    /// `POST /interactions/{id}/{token}/callback` (gateway mode; over HTTP the response
    /// is the answer's body).
    pub async fn interaction_response(
        &self,
        interaction_id: &str,
        token: &str,
        response: &Value,
    ) -> Result<(), RestError> {
        let route = Route::InteractionResponse {
            interaction_id: id::<InteractionId>(interaction_id)?,
            token,
        };
        let request =
            Request::new(route, LightMethod::Post).body(Some(response.to_string().into_bytes()));
        self.send(request).await.map(drop)
    }

    /// `PATCH /webhooks/{application}/{token}/messages/@original`
    pub async fn edit_original(
        &self,
        token: &str,
        body: &MessageBody,
    ) -> Result<String, RestError> {
        let route = Route::WebhookOriginalInteractionResponse {
            application_id: self.application_id,
            token,
        };
        let request = Self::with_body(Request::new(route, LightMethod::Patch), body)?;
        Self::message_id(&self.send(request).await?)
    }

    /// `DELETE /webhooks/{application}/{token}/messages/@original`
    pub async fn delete_original(&self, token: &str) -> Result<(), RestError> {
        let route = Route::WebhookOriginalInteractionResponse {
            application_id: self.application_id,
            token,
        };
        self.send(Request::new(route, LightMethod::Delete))
            .await
            .map(drop)
    }

    /// `POST /webhooks/{application}/{token}`: a follow-up message.
    pub async fn create_followup(
        &self,
        token: &str,
        body: &MessageBody,
    ) -> Result<String, RestError> {
        let route = Route::WebhookFollowupMessages {
            application_id: self.application_id,
            token,
        };
        let request = Self::with_body(Request::new(route, LightMethod::Post), body)?;
        Self::message_id(&self.send(request).await?)
    }

    /// `PUT /applications/{id}/commands` (or the guild's): replaces every command; the
    /// number Discord now has.
    pub async fn overwrite_commands(
        &self,
        guild: Option<&str>,
        commands: &[CreateCommand],
    ) -> Result<usize, RestError> {
        let route = match guild {
            Some(guild) => Route::GuildCommands {
                application_id: self.application_id,
                guild_id: id::<GuildId>(guild)?,
            },
            None => Route::Commands {
                application_id: self.application_id,
            },
        };
        let body = serde_json::to_vec(commands).map_err(|e| RestError::Decode(e.to_string()))?;
        let answer = self
            .send(Request::new(route, LightMethod::Put).body(Some(body)))
            .await?;
        let registered: Vec<Value> =
            serde_json::from_slice(&answer).map_err(|e| RestError::Decode(e.to_string()))?;
        Ok(registered.len())
    }
}

/// serenity's `Http`: rate limited against Discord, or retargeted (limiter off).
fn http_for(config: &RestConfig, client: reqwest::Client, application_id: ApplicationId) -> Http {
    let builder = HttpBuilder::new(&config.token)
        .client(client)
        .application_id(application_id);
    let base = config.base_url.trim_end_matches('/');
    if base.is_empty() || base == DISCORD_API {
        builder.build()
    } else {
        builder.proxy(base).ratelimiter_disabled(true).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str) -> RestConfig {
        RestConfig {
            token: "MTIz.very-secret".into(),
            application_id: "1200000000000000000".into(),
            base_url: base_url.into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_rate_limiter_stays_on_against_discord_and_off_behind_a_proxy() {
        let production = DiscordRest::new(&config(DISCORD_API)).unwrap();
        assert!(production.serenity_http().ratelimiter.is_some());
        assert_eq!(production.serenity_http().proxy, None);
        assert!(production.gateway_http().ratelimiter.is_some());
        let proxied = DiscordRest::new(&config("http://127.0.0.1:9/")).unwrap();
        assert!(proxied.serenity_http().ratelimiter.is_none());
        let gateway = proxied.gateway_http();
        assert!(gateway.ratelimiter.is_none());
        assert_eq!(gateway.proxy.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(gateway.token(), "Bot MTIz.very-secret");
        assert_eq!(
            proxied.serenity_http().proxy.as_deref(),
            Some("http://127.0.0.1:9")
        );
        for shown in [
            format!("{production:?}"),
            format!("{:?}", config(DISCORD_API)),
        ] {
            assert!(!shown.contains("very-secret"), "{shown}");
        }
    }

    #[tokio::test]
    async fn a_failed_call_never_carries_the_interaction_token() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let rest = DiscordRest::new(&config(&format!("http://127.0.0.1:{port}"))).unwrap();
        let token = "aW50ZXJhY3Rpb246MTIzNDU2.interaction-token";
        let body = MessageBody {
            json: serde_json::json!({"content": "x"}),
            files: vec![],
            only_actor: false,
        };
        let error = rest.edit_original(token, &body).await.unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, RestError::Transport(_)), "{text}");
        assert!(!text.contains(token), "{text}");
        let error = rest.create_followup(token, &body).await.unwrap_err();
        assert!(!error.to_string().contains(token), "{error}");
        let error = rest
            .interaction_response("1300000000000000000", token, &serde_json::json!({}))
            .await
            .unwrap_err();
        assert!(!error.to_string().contains(token), "{error}");
    }

    #[test]
    fn ids_must_be_snowflakes() {
        assert_eq!(
            DiscordRest::new(&RestConfig {
                application_id: "opsbot".into(),
                ..config(DISCORD_API)
            })
            .unwrap_err(),
            RestError::BadId("opsbot".into())
        );
        assert!(id::<ChannelId>("0").is_err());
        assert_eq!(id::<ChannelId>("42").unwrap(), ChannelId::new(42));
    }
}
