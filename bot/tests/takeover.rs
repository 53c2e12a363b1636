//! No double posts after a takeover. An `opsbot serve` process is killed with `kill -9`
//! while its chat calls are in flight (the fake platform took them, the process has not
//! recorded them), and another process on the same store takes over once the leases
//! lapse. For every kind of call the outbox makes, the platform (a fake) must end up
//! with each message exactly once:
//!
//! * Slack: an `in_channel` answer through a `response_url` and a chart shared as an
//!   uploaded file (both recognised by their outbox tag in the channel's history), next
//!   to a plain `chat.postMessage`;
//! * Discord: a channel post (recognised by its `nonce`, which the fake enforces as
//!   Discord does).
//!
//! On SQLite the second process is the first one restarted; on PostgreSQL
//! (`OPSBOT_TEST_POSTGRES_URL`) the same scenario runs with two replicas, the second
//! started when the first is killed.

use opsbot_fakes::free_port;
use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use opsbot::{
    outbox::{Lane, Operation, Outbox, OutboxMessage},
    store::{Store, scratch},
};
use opsbot_commands::{Platform, Reply, reply::Attachment};
use opsbot_fakes::{discord::FakeDiscord, slack::FakeSlack};

const SLACK_TOKEN: &str = "xoxb-takeover-token";
/// One channel per kind of call, so that every call is in flight at once.
const ANSWER_CHANNEL: &str = "C0TAKEOVERA";
const CHART_CHANNEL: &str = "C0TAKEOVERB";
const POST_CHANNEL: &str = "C0TAKEOVERC";
const SLACK_USER: &str = "U0TAKEOVER";
const DISCORD_TOKEN: &str = "MTIwMDAwMDAwMDAwMDAwMDAwMA.takeover.bot-token";
const DISCORD_APPLICATION: &str = "1200000000000000000";
const DISCORD_CHANNEL: &str = "1000000000000000077";
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(90);
/// How long the fakes hold a call before answering: long enough to kill the process
/// while it waits, shorter than its call timeout (a quarter of the 8 s lease), so the
/// kill, not a timeout, is what interrupts the call.
const IN_FLIGHT: Duration = Duration::from_millis(1500);

fn config_text(slack_api: &str, discord_api: &str) -> String {
    format!(
        r#"
[outbox]
channel_rate = 0
lease = "8s"
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "http"
bot_token = "${{TAKEOVER_SLACK_BOT_TOKEN}}"
signing_secret = "${{TAKEOVER_SLACK_SIGNING_SECRET}}"
api_url = "{slack_api}"
rate_control = false

[discord]
mode = "http"
application_id = "{DISCORD_APPLICATION}"
token = "${{TAKEOVER_DISCORD_BOT_TOKEN}}"
public_key = "{public_key}"
api_url = "{discord_api}"
"#,
        public_key = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c",
    )
}

/// POSTs to `/healthz`: any HTTP answer means the process is up.
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(WAIT));
    let request = "POST /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1")
}

fn start(config: &Path, database_url: &str) -> Child {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "-c"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
        .arg(database_url)
        .env("TAKEOVER_SLACK_BOT_TOKEN", SLACK_TOKEN)
        .env("TAKEOVER_SLACK_SIGNING_SECRET", "takeover-signing-secret")
        .env("TAKEOVER_DISCORD_BOT_TOKEN", DISCORD_TOKEN)
        .env("RUST_LOG", "warn,opsbot::outbox=info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start opsbot");
    let deadline = Instant::now() + WAIT;
    while !answers_http(port) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("opsbot exited at start: {status}");
        }
        assert!(Instant::now() < deadline, "opsbot did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn post(platform: Platform, channel: String, title: &str, image: bool) -> OutboxMessage {
    let mut reply = Reply::info(title);
    if image {
        reply.attachment = Some(Attachment::png(
            "cost by day",
            vec![0x89, b'P', b'N', b'G', 1, 2, 3],
        ));
    }
    OutboxMessage {
        platform,
        channel,
        thread_key: None,
        operation: Operation::Post,
        lane: Lane::Interactive,
        reply,
        dedupe_key: format!("takeover:{title}"),
    }
}

async fn pending(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state <> 'delivered'")
        .fetch_one(store.read_pool())
        .await
        .unwrap()
}

/// Queues one post of every kind, starts a process that makes the calls, kills it while
/// the fakes hold them, starts another, and checks each post arrived exactly once.
async fn killed_mid_call_then_taken_over(store: Store, database_url: &str) {
    let slack = FakeSlack::start(SLACK_TOKEN, "xapp-unused").await;
    let discord = FakeDiscord::start(DISCORD_TOKEN, DISCORD_APPLICATION).await;
    discord.add_channel(DISCORD_CHANNEL);
    slack.set_answer_delay(IN_FLIGHT);
    discord.set_answer_delay(IN_FLIGHT);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, config_text(&slack.api_url(), &discord.url())).unwrap();

    let response_url = slack.response_url(ANSWER_CHANNEL, SLACK_USER);
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let through_response = opsbot_slack::Destination::channel(ANSWER_CHANNEL)
        .through(Some(opsbot_slack::destination::ResponseUrl::new(
            response_url.as_str(),
            now,
        )))
        .to_string();
    let posts = [
        post(
            Platform::Slack,
            through_response,
            "answer via response_url",
            false,
        ),
        post(Platform::Slack, CHART_CHANNEL.into(), "chart upload", true),
        post(Platform::Slack, POST_CHANNEL.into(), "plain post", false),
        post(
            Platform::Discord,
            DISCORD_CHANNEL.into(),
            "discord post",
            false,
        ),
    ];
    let mut conn = store.pool().acquire().await.unwrap();
    for message in &posts {
        assert!(Outbox::enqueue(&mut conn, message).await.unwrap());
    }
    drop(conn);

    let mut first = start(&config, database_url);
    // Every call taken by a fake, none answered yet: kill -9.
    let taken = |slack: &FakeSlack, discord: &FakeDiscord| {
        slack.calls("response_url")
            + slack.calls("files.completeUploadExternal")
            + slack.calls("chat.postMessage")
            + discord
                .calls()
                .iter()
                .filter(|c| c.as_str() == "POST messages")
                .count()
    };
    eventually("every call in flight", async || {
        taken(&slack, &discord) >= posts.len()
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(
        pending(&store).await,
        posts.len() as i64,
        "the fakes took every post, the kill left each unrecorded"
    );

    let mut second = start(&config, database_url);
    eventually("the outbox to drain", async || pending(&store).await == 0).await;
    second.kill().unwrap();
    second.wait().unwrap();

    for (channel, title) in [
        (ANSWER_CHANNEL, "answer via response_url"),
        (CHART_CHANNEL, "chart upload"),
        (POST_CHANNEL, "plain post"),
    ] {
        let messages = slack.messages_in(channel);
        let copies = messages
            .iter()
            .filter(|m| m.content().contains(title))
            .count();
        assert_eq!(copies, 1, "{title:?} posted once: {messages:#?}");
    }
    assert_eq!(
        slack.duplicate_posts(),
        0,
        "the fake saw a post repeated: {:#?}",
        slack.messages()
    );
    let shared = slack.files().iter().filter(|f| f.channel.is_some()).count();
    assert_eq!(shared, 1, "the chart shared once");
    let copies = discord
        .messages_in(DISCORD_CHANNEL)
        .iter()
        .filter(|m| m.content().contains("discord post"))
        .count();
    assert_eq!(copies, 1, "the Discord post created once");
    // The second process looked the Slack posts up before posting anything again.
    assert!(slack.calls("conversations.history") >= 3);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_after_kill_9_posts_nothing_twice() {
    let (store, dir) = scratch::scratch_sqlite().await;
    let url = scratch::scratch_sqlite_url(&dir);
    killed_mid_call_then_taken_over(store, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replica_taking_over_after_kill_9_posts_nothing_twice() {
    let Some(base) = scratch::postgres_url_or_skip("postgres_replica_taking_over") else {
        return;
    };
    let (store, database) = scratch::scratch_postgres(&base).await.unwrap();
    let url = database.url().to_string();
    killed_mid_call_then_taken_over(store, &url).await;
    database.drop_database().await.unwrap();
}
