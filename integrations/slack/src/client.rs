//! The Slack Web API calls opsbot makes, over slack-morphism's hyper client with a
//! configurable base URL (`https://slack.com/api`, or a local fake in tests — plain HTTP
//! is accepted for that): `chat.postMessage` (roots and thread replies),
//! `chat.postEphemeral`, `chat.update`, `usergroups.users.list`, answers through a
//! request's `response_url` ([`WebApi::respond`]) and image uploads
//! ([`WebApi::upload_file`]: `files.getUploadURLExternal`, the bytes to the URL Slack
//! returns, `files.completeUploadExternal`).
//!
//! A `response_url` is posted to without the token and without slack-morphism's rate
//! control (Slack does not count it against the channel's message budget), as a
//! sensitive URL (slack-morphism's debug log shows a hash of it); it never appears in
//! an error.
//!
//! slack-morphism's rate control (per-method tiers, Slack's special one-message-per-second
//! per channel limit) paces calls when enabled. It does not retry a 429 here: the error
//! comes back with its `Retry-After` as [`ApiError::RateLimited`], so the durable outbox
//! reschedules the message (and blocks the channel) instead of a task holding it in
//! memory.

use std::{sync::Arc, time::Duration};

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::{
    SlackClientApiCallContext, SlackClientHttpConnector,
    errors::SlackClientError,
    prelude::{
        SlackApiChatPostEphemeralRequest, SlackApiChatPostMessageRequest,
        SlackApiChatPostMessageResponse, SlackApiChatUpdateRequest,
        SlackApiConversationsHistoryRequest, SlackApiConversationsListRequest,
        SlackApiConversationsRepliesRequest, SlackApiFilesComplete,
        SlackApiFilesCompleteUploadExternalRequest, SlackApiFilesGetUploadUrlExternalRequest,
        SlackApiFilesUploadViaUrlRequest, SlackApiMethodRateControlConfig,
        SlackApiRateControlConfig, SlackApiRateControlLimit, SlackApiRateControlSpecialLimit,
        SlackApiToken, SlackApiTokenValue, SlackApiUserGroupsUsersListRequest, SlackBlock,
        SlackBlockId, SlackChannelId, SlackClient, SlackClientHyperConnector,
        SlackConversationType, SlackMessageContent, SlackMessageMetadata, SlackResponseUrl,
        SlackTs, SlackUserGroupId, SlackUserId,
    },
};

use crate::destination::{Destination, ResponseUrl};

/// The hyper connector behind the client (HTTPS, or HTTP for local fakes).
pub type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// Slack's public Web API.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// A Web API call that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// HTTP 429 (`Retry-After` when Slack sent one).
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx or another unexpected status.
    #[error("Slack answered HTTP {status}")]
    Http { status: u16 },
    /// `{"ok": false, "error": CODE}`.
    #[error("Slack refused the call: {code}")]
    Api { code: String },
    /// Could not reach Slack or read its answer.
    #[error("cannot reach Slack: {0}")]
    Transport(String),
    /// The client could not be built (TLS roots, base URL).
    #[error("cannot set up the Slack client: {0}")]
    Setup(String),
    /// A `response_url` that no longer takes posts (expired, used up: Slack's 404,
    /// `expired_url`, `used_url`).
    #[error("the response_url no longer takes posts")]
    ResponseUrlGone,
}

/// Slack error codes after which a retry may succeed.
const TEMPORARY_CODES: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

impl ApiError {
    /// Whether trying again later may succeed (429, 5xx, transport trouble, Slack's
    /// internal errors); `channel_not_found`, `invalid_auth`, … never will.
    pub fn is_temporary(&self) -> bool {
        match self {
            ApiError::RateLimited { .. } | ApiError::Transport(_) => true,
            ApiError::Http { status } => *status >= 500 || *status == 408,
            ApiError::Api { code } => TEMPORARY_CODES.contains(&code.as_str()),
            ApiError::Setup(_) | ApiError::ResponseUrlGone => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Http { .. } => "http",
            ApiError::Api { .. } => "api",
            ApiError::Transport(_) => "transport",
            ApiError::Setup(_) => "setup",
            ApiError::ResponseUrlGone => "response_url_gone",
        }
    }
}

impl From<SlackClientError> for ApiError {
    fn from(error: SlackClientError) -> Self {
        match error {
            SlackClientError::RateLimitError(e) => ApiError::RateLimited {
                retry_after: e.retry_after,
            },
            SlackClientError::HttpError(e) => ApiError::Http {
                status: e.status_code.as_u16(),
            },
            SlackClientError::ApiError(e) => ApiError::Api { code: e.code },
            // Never the body or the request: they may hold the token's effects.
            other => ApiError::Transport(first_line(&other.to_string())),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// A message Slack accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    /// The channel id (`C…`), also when it was addressed by `#name`.
    pub channel: String,
    pub ts: String,
}

/// How to reach the Web API.
#[derive(Clone, Debug)]
pub struct WebApiSettings {
    /// `https://slack.com/api` (no trailing slash needed).
    pub base_url: String,
    /// slack-morphism's rate control (tiers and per-channel limits).
    pub rate_control: bool,
}

impl Default for WebApiSettings {
    fn default() -> Self {
        Self {
            base_url: SLACK_API_URL.into(),
            rate_control: true,
        }
    }
}

/// The bot's Web API client. `Debug` never shows the token.
#[derive(Clone)]
pub struct WebApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
}

impl std::fmt::Debug for WebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApi").finish_non_exhaustive()
    }
}

/// slack-morphism's rate control for one `chat.postMessage` call: Slack's documented
/// special limit, about one message per second *per channel* (bursts are tolerated),
/// keyed by the channel. (The outbox spaces a channel's messages a little wider still.)
fn post_message_rate_control(channel: &str) -> SlackApiMethodRateControlConfig {
    SlackApiMethodRateControlConfig::new().with_special_rate_limit(
        SlackApiRateControlSpecialLimit::new(
            format!("chat.postMessage:{channel}").into(),
            SlackApiRateControlLimit::new(1, Duration::from_secs(1)),
        ),
    )
}

/// The hyper connector for `settings` (rustls with the system roots; plain HTTP allowed
/// for local fakes).
pub fn connector(settings: &WebApiSettings) -> Result<Connector, ApiError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| ApiError::Setup(format!("no TLS root certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let base = settings.base_url.trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err(ApiError::Setup(format!(
            "the API base URL `{base}` must start with https:// or http://"
        )));
    }
    let mut connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(base);
    if settings.rate_control {
        connector = connector.with_rate_control(SlackApiRateControlConfig::new());
    }
    Ok(connector)
}

impl WebApi {
    /// A client for `settings` acting with the bot token `token` (`xoxb-…`).
    pub fn new(settings: &WebApiSettings, token: &str) -> Result<Self, ApiError> {
        Ok(Self {
            client: Arc::new(SlackClient::new(connector(settings)?)),
            token: SlackApiToken::new(SlackApiTokenValue(token.to_string())),
        })
    }

    /// The slack-morphism client (Socket Mode runs on it).
    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        self.client.clone()
    }

    /// Posts `content` to `destination`: `chat.postMessage` (in the thread when it has
    /// one), or `chat.postEphemeral` for one user. Returns the message `ts` and the
    /// channel id Slack posted it in (`#name` destinations resolve to an id; an ephemeral
    /// message has no `ts` Slack can edit: it is empty).
    pub async fn post(
        &self,
        destination: &Destination,
        content: SlackMessageContent,
    ) -> Result<Posted, ApiError> {
        let session = self.client.open_session(&self.token);
        let channel = SlackChannelId(destination.channel.clone());
        let thread = destination.thread_ts.clone().map(SlackTs);
        match &destination.only_user {
            Some(user) => {
                let mut request = SlackApiChatPostEphemeralRequest::new(
                    channel,
                    SlackUserId(user.clone()),
                    content,
                );
                request.thread_ts = thread;
                session.chat_post_ephemeral(&request).await?;
                Ok(Posted {
                    channel: destination.channel.clone(),
                    ts: String::new(),
                })
            }
            None => {
                let mut request = SlackApiChatPostMessageRequest::new(channel, content);
                request.thread_ts = thread;
                // Not `session.chat_post_message`: its rate control keys Slack's
                // one-message-per-second limit by method, i.e. one message per second
                // in the whole workspace. Slack's limit is per channel.
                let rate_control = post_message_rate_control(&destination.channel);
                let response: SlackApiChatPostMessageResponse = session
                    .http_session_api
                    .http_post("chat.postMessage", &request, Some(&rate_control))
                    .await?;
                Ok(Posted {
                    channel: response.channel.0,
                    ts: response.ts.0,
                })
            }
        }
    }

    /// Looks back over the newest 200 messages of `channel` (of the thread of
    /// `thread_ts` when given: `conversations.replies`, else `conversations.history`)
    /// for one whose [`OUTBOX_TAG_EVENT`] metadata holds a tag starting with `prefix`.
    /// Returns its `ts` and the whole tag.
    pub async fn find_tagged(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        prefix: &str,
    ) -> Result<Option<(String, String)>, ApiError> {
        let session = self.client.open_session(&self.token);
        let channel = SlackChannelId(channel.to_string());
        let messages = match thread_ts {
            Some(ts) => {
                let request = SlackApiConversationsRepliesRequest {
                    channel,
                    ts: SlackTs(ts.to_string()),
                    cursor: None,
                    latest: None,
                    limit: Some(200),
                    oldest: None,
                    inclusive: None,
                };
                session.conversations_replies(&request).await?.messages
            }
            None => {
                let request = SlackApiConversationsHistoryRequest {
                    channel: Some(channel),
                    cursor: None,
                    latest: None,
                    limit: Some(200),
                    oldest: None,
                    inclusive: None,
                    include_all_metadata: Some(true),
                };
                session.conversations_history(&request).await?.messages
            }
        };
        Ok(messages.into_iter().find_map(|message| {
            let tag = match message.content.metadata {
                Some(metadata) if metadata.event_type == OUTBOX_TAG_EVENT => {
                    metadata.event_payload?.remove(OUTBOX_TAG_KEY)?
                }
                // A file share carries its tag as its first block's id.
                _ => first_block_id(message.content.blocks.as_deref()?)?,
            };
            tag.starts_with(prefix)
                .then_some((message.origin.ts.0, tag))
        }))
    }

    /// Every channel the bot can see, as `(#name, id)` (`conversations.list`, public and
    /// private, not archived, page by page): `chat.update` and `conversations.history`
    /// take only ids.
    pub async fn channel_ids(&self) -> Result<Vec<(String, String)>, ApiError> {
        let session = self.client.open_session(&self.token);
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let request = SlackApiConversationsListRequest {
                cursor,
                limit: Some(200),
                exclude_archived: Some(true),
                types: Some(vec![
                    SlackConversationType::Public,
                    SlackConversationType::Private,
                ]),
            };
            let page = session.conversations_list(&request).await?;
            out.extend(
                page.channels
                    .into_iter()
                    .filter_map(|channel| Some((format!("#{}", channel.name?), channel.id.0))),
            );
            cursor = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.0.is_empty());
            if cursor.is_none() {
                return Ok(out);
            }
        }
    }

    /// Replaces message `ts` in `channel` (`chat.update`).
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        content: SlackMessageContent,
    ) -> Result<(), ApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            content,
            SlackTs(ts.to_string()),
        );
        session.chat_update(&request).await?;
        Ok(())
    }

    /// Answers a slash command or button press through its `response_url`: `in_channel`
    /// for everyone, or `ephemeral` for the person who typed or pressed (who alone
    /// sees it), in the thread of `thread_ts` when given, never replacing the message
    /// pressed. [`ApiError::ResponseUrlGone`] when Slack no longer takes posts there.
    pub async fn respond(
        &self,
        response: &ResponseUrl,
        ephemeral: bool,
        thread_ts: Option<&str>,
        content: SlackMessageContent,
    ) -> Result<(), ApiError> {
        let url = SlackResponseUrl(
            response
                .url
                .parse()
                .map_err(|_| ApiError::ResponseUrlGone)?,
        );
        let body = ResponseMessage {
            content,
            response_type: if ephemeral { "ephemeral" } else { "in_channel" },
            replace_original: false,
            thread_ts,
        };
        let span = tracing::debug_span!("slack_response_url");
        let context = SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &span,
            is_sensitive_url: true,
        };
        let answer: Result<serde_json::Value, _> = self
            .client
            .http_api
            .connector
            .http_post_uri(url.0, &body, context)
            .await;
        match answer.map_err(ApiError::from) {
            Ok(_) => Ok(()),
            Err(ApiError::Http { status: 404 | 410 }) => Err(ApiError::ResponseUrlGone),
            Err(ApiError::Api { code }) if RESPONSE_URL_GONE_CODES.contains(&code.as_str()) => {
                Err(ApiError::ResponseUrlGone)
            }
            Err(other) => Err(other),
        }
    }

    /// Uploads `file` and shares it in `channel` (in the thread of
    /// `thread_ts` when given) with `blocks` as the message: `files.getUploadURLExternal`,
    /// the bytes to the upload URL Slack returned, `files.completeUploadExternal`. One
    /// message appears, and only at the last call, so a failure before it leaves no
    /// half-posted reply (at most an unshared file). Returns the file's id.
    pub async fn upload_file(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        file: &FileUpload<'_>,
        blocks: Vec<SlackBlock>,
    ) -> Result<String, ApiError> {
        let session = self.client.open_session(&self.token);
        let target = session
            .get_upload_url_external(&SlackApiFilesGetUploadUrlExternalRequest::new(
                file.name.to_string(),
                file.bytes.len(),
            ))
            .await?;
        session
            .files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
                target.upload_url,
                file.bytes.to_vec(),
                file.media_type.to_string(),
            ))
            .await?;
        let mut complete = SlackApiFilesComplete::new(target.file_id.clone());
        complete.title = Some(file.title.to_string());
        let mut request = SlackApiFilesCompleteUploadExternalRequest::new(vec![complete]);
        request.channel_id = Some(SlackChannelId(channel.to_string()));
        request.thread_ts = thread_ts.map(|ts| SlackTs(ts.to_string()));
        request.blocks = (!blocks.is_empty()).then_some(blocks);
        session.files_complete_upload_external(&request).await?;
        Ok(target.file_id.0)
    }

    /// The members of user group `group` (`usergroups.users.list`).
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, ApiError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUserGroupsUsersListRequest::new(SlackUserGroupId(group.to_string()));
        let response = session.usergroups_users_list(&request).await?;
        Ok(response.users.into_iter().map(|u| u.0).collect())
    }
}

/// A file to share ([`WebApi::upload_file`]).
#[derive(Clone, Copy, Debug)]
pub struct FileUpload<'a> {
    /// The file name, with its extension (`cost.png`, `incident-42-timeline.md`).
    pub name: &'a str,
    pub title: &'a str,
    /// `image/png`, `text/markdown`.
    pub media_type: &'a str,
    pub bytes: &'a [u8],
}

/// The errors Slack answers a `response_url` with once it stopped taking posts.
const RESPONSE_URL_GONE_CODES: &[&str] = &["expired_url", "used_url", "invalid_url"];

/// A message posted to a `response_url`.
#[derive(serde::Serialize)]
struct ResponseMessage<'a> {
    #[serde(flatten)]
    content: SlackMessageContent,
    response_type: &'static str,
    replace_original: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_ts: Option<&'a str>,
}

/// The metadata `event_type` of opsbot's posts that carry an outbox tag.
pub const OUTBOX_TAG_EVENT: &str = "opsbot_outbox";
/// The `event_payload` key of the tag.
const OUTBOX_TAG_KEY: &str = "tag";

/// Keeps the outbox's `tag` on a message as Slack message metadata, so that
/// [`WebApi::find_tagged`] can find the post again after a crash. For `chat.postMessage`
/// and for answers through a `response_url` (which take `metadata` too).
pub fn with_outbox_tag(mut content: SlackMessageContent, tag: &str) -> SlackMessageContent {
    content.metadata = Some(SlackMessageMetadata {
        event_type: OUTBOX_TAG_EVENT.to_string(),
        event_payload: Some(std::collections::HashMap::from([(
            OUTBOX_TAG_KEY.to_string(),
            tag.to_string(),
        )])),
    });
    content
}

/// Keeps the outbox's `tag` on the message of a file share as the `block_id` of its
/// first block (`files.completeUploadExternal` takes no metadata; a `block_id` is not
/// shown, is kept in the history, and Slack wants it unique per message, which a tag
/// is), so that [`WebApi::find_tagged`] can find the share again after a crash.
pub fn with_outbox_block_tag(mut blocks: Vec<SlackBlock>, tag: &str) -> Vec<SlackBlock> {
    if let Some(SlackBlock::Section(section)) = blocks.first_mut() {
        section.block_id = Some(SlackBlockId(tag.to_string()));
    }
    blocks
}

fn first_block_id(blocks: &[SlackBlock]) -> Option<String> {
    match blocks.first()? {
        SlackBlock::Section(section) => section.block_id.as_ref().map(|id| id.0.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_permanent_errors() {
        assert!(ApiError::RateLimited { retry_after: None }.is_temporary());
        assert!(ApiError::Http { status: 503 }.is_temporary());
        assert!(!ApiError::Http { status: 404 }.is_temporary());
        assert!(
            ApiError::Api {
                code: "internal_error".into()
            }
            .is_temporary()
        );
        assert!(
            !ApiError::Api {
                code: "channel_not_found".into()
            }
            .is_temporary()
        );
        assert!(
            !ApiError::Api {
                code: "invalid_auth".into()
            }
            .is_temporary()
        );
        assert_eq!(
            ApiError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
            .retry_after(),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn base_urls_are_checked() {
        let bad = WebApiSettings {
            base_url: "slack.com/api".into(),
            rate_control: false,
        };
        assert!(matches!(
            WebApi::new(&bad, "xoxb-1"),
            Err(ApiError::Setup(_))
        ));
        let client = WebApi::new(&WebApiSettings::default(), "xoxb-secret").unwrap();
        assert!(!format!("{client:?}").contains("xoxb-secret"));
    }
}
