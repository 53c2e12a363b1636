//! Single-owner work moves between replicas. Three real `opsbot serve` processes share
//! one PostgreSQL database, with Discord in gateway mode against a fake Discord REST
//! API (`opsbot_fakes::discord`) whose `GET /gateway` hands out a fake gateway websocket
//! (`opsbot_fakes::discord_gateway`). Only the replica that owns the `discord-gateway`
//! role (a PostgreSQL advisory lock) may hold the connection, so:
//!
//! * exactly one replica connects, and a slash command dispatched over the gateway
//!   reaches exactly one connection and is answered once;
//! * after `kill -9` of that replica another one takes the role and connects (the fake
//!   sees a second session) within a generous bound, and a command sent after the move
//!   is answered once, through the real pipeline (RBAC, audit, outbox);
//! * when the owner loses the role without dying (its lock's database session is
//!   terminated), it closes its gateway session at once and the new owner connects;
//! * over the whole run the gateway saw one session per owner: no replica that did not
//!   own the role ever connected.
//!
//! The same for Slack Socket Mode (role `slack-socket-mode`) against a fake Slack Web
//! API and Socket Mode websocket (`opsbot_fakes::slack`, `opsbot_fakes::slack_socket`):
//! one replica holds the websocket, `kill -9` moves it, and an envelope pushed after the
//! move is acknowledged once and answered once.
//!
//! Which replica owns a role is read from its log ("connected to the Discord gateway",
//! "Slack Socket Mode connected"). Needs `OPSBOT_TEST_POSTGRES_URL` (skipped without it,
//! failing under `CI`).

use opsbot_fakes::free_port;
use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use opsbot::store::scratch;
use opsbot_fakes::{
    discord::{FakeDiscord, FakeMessage, Origin},
    discord_gateway::{FakeGateway, GatewayStats},
    slack::FakeSlack,
    slack_socket::FakeSocketMode,
};
use serde_json::{Value, json};

const TOKEN: &str = "MTIwMDAwMDAwMDAwMDAwMDAwMA.replicas.bot-token";
const APPLICATION: &str = "1200000000000000000";
const GUILD: &str = "1100000000000000000";
const CHANNEL: &str = "1000000000000000001";
const USER: &str = "80351110224678912";
const REPLICAS: usize = 3;
/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(90);
/// What the owner of the gateway logs once Discord (the fake) said READY.
const DISCORD_CONNECTED: &str = "connected to the Discord gateway";
/// What the owner of Slack Socket Mode logs once its websocket is open.
const SLACK_CONNECTED: &str = "Slack Socket Mode connected";
const SLACK_BOT_TOKEN: &str = "xoxb-replicas-bot-token";
const SLACK_APP_TOKEN: &str = "xapp-replicas-app-token";
const SLACK_CHANNEL: &str = "C0REPLICAS";
const SLACK_USER: &str = "U0REPLICAS";

fn discord_config(api_url: &str) -> String {
    format!(
        r#"
[leadership]
backend = "postgres"
retry_interval = "200ms"

[outbox]
channel_rate = 0
lease = "2s"
retry_base = "100ms"
poll_interval = "50ms"

[discord]
mode = "gateway"
application_id = "{APPLICATION}"
token = "${{REPLICAS_DISCORD_BOT_TOKEN}}"
api_url = "{api_url}"

[roles.operator]
allow = [{{ commands = ["help", "whoami"] }}]

[[bindings]]
role = "operator"
subjects = ["discord:{USER}"]
"#
    )
}

/// Whether anything answers HTTP on `port` (a POST to `/healthz` is a 405).
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

fn slack_config(api_url: &str) -> String {
    let prefix = format!("{}/response/", api_url.trim_end_matches("/api"));
    format!(
        r#"
[leadership]
backend = "postgres"
retry_interval = "200ms"

[outbox]
channel_rate = 0
lease = "2s"
retry_base = "100ms"
poll_interval = "50ms"

[slack]
mode = "socket"
bot_token = "${{REPLICAS_SLACK_BOT_TOKEN}}"
app_token = "${{REPLICAS_SLACK_APP_TOKEN}}"
api_url = "{api_url}"
response_url_prefix = "{prefix}"
rate_control = false

[roles.operator]
allow = [{{ commands = ["help", "whoami"] }}]

[[bindings]]
role = "operator"
subjects = ["slack:{SLACK_USER}"]
"#
    )
}

/// One `opsbot serve` process, and whether it has logged holding its connection.
struct Replica {
    child: Child,
    connected: Arc<AtomicBool>,
}

impl Replica {
    /// Starts replica `index`; `connected` is the log line saying it holds the
    /// single-owner connection.
    fn start(index: usize, config: &Path, database_url: &str, connected: &'static str) -> Replica {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .args(["serve", "-c"])
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
            .arg(database_url)
            .env("REPLICAS_DISCORD_BOT_TOKEN", TOKEN)
            .env("REPLICAS_SLACK_BOT_TOKEN", SLACK_BOT_TOKEN)
            .env("REPLICAS_SLACK_APP_TOKEN", SLACK_APP_TOKEN)
            .env("RUST_LOG", "warn,opsbot::discord=info,opsbot::slack=info")
            .env("NO_COLOR", "1")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start opsbot");
        let marker = connected;
        let connected = Arc::new(AtomicBool::new(false));
        let stderr = child.stderr.take().expect("piped stderr");
        {
            let connected = connected.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains(marker) {
                        connected.store(true, Ordering::SeqCst);
                    }
                    eprintln!("[replica {index}] {line}");
                }
            });
        }
        let mut replica = Replica { child, connected };
        let deadline = std::time::Instant::now() + WAIT;
        while !answers_http(port) {
            if let Ok(Some(status)) = replica.child.try_wait() {
                panic!("replica {index} exited at start: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "replica {index} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        replica
    }

    fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every replica, killed when the test ends (passing or not).
struct Replicas(Vec<Option<Replica>>);

impl Replicas {
    /// Starts [`REPLICAS`] processes on `database_url`.
    async fn start(config: &Path, database_url: &str, connected: &'static str) -> Replicas {
        let config = config.to_path_buf();
        let database_url = database_url.to_string();
        let started = tokio::task::spawn_blocking(move || {
            (0..REPLICAS)
                .map(|i| Some(Replica::start(i, &config, &database_url, connected)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        Replicas(started)
    }

    /// The live replicas that logged a gateway connection.
    fn connected(&self) -> Vec<usize> {
        (0..self.0.len())
            .filter(|i| self.0[*i].as_ref().is_some_and(Replica::connected))
            .collect()
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for replica in self.0.iter_mut().flatten() {
            replica.kill();
        }
    }
}

/// Polls `condition` until it holds; `Err` after [`WAIT`].
async fn eventually(mut condition: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        if tokio::time::Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// A `/whoami` slash command by the operator, as the gateway delivers it.
fn whoami(n: u64) -> (String, Value) {
    let id = (1_300_000_000_000_000_000u64 + n).to_string();
    let token = format!("aW50ZXJhY3Rpb24tdG9rZW4-replicas-{n}");
    let source = opsbot_fakes::discord_request::InteractionSource {
        application_id: APPLICATION,
        guild_id: GUILD,
        channel_id: CHANNEL,
        channel_name: "ops",
        user_id: USER,
        username: "dave",
        roles: &[],
        thread_id: None,
    };
    let body = opsbot_fakes::discord_request::interaction(
        2,
        &id,
        &token,
        &source,
        json!({ "id": "1250000000000000000", "name": "whoami", "type": 1, "options": [] }),
    );
    (token, body)
}

/// Dispatches `/whoami` number `n` over the gateway (to exactly one connection) and
/// waits for its result; checks it was deferred once and answered once (`whoami`
/// answers only its requester: an ephemeral follow-up, the deferred original deleted).
async fn whoami_answered_once(discord: &FakeDiscord, gateway: &FakeGateway, n: u64) {
    let (token, body) = whoami(n);
    assert_eq!(
        gateway.interaction_create(body),
        1,
        "exactly one connection receives interaction {n}: {:?}",
        gateway.stats()
    );
    let answered = |messages: &[FakeMessage]| {
        messages.iter().any(|m| {
            m.origin != Origin::Original(token.clone()) && m.content().contains("operator")
        })
    };
    let what = format!("the answer to interaction {n}");
    eventually(|| answered(&discord.interaction_messages(&token)))
        .await
        .unwrap_or_else(|()| {
            panic!(
                "timed out waiting for {what}: {:#?}; calls {:?}",
                discord.interaction_messages(&token),
                discord.calls()
            )
        });
    assert_eq!(discord.answer(&token), Some(json!({"type": 5})), "deferred");
    let messages = discord.interaction_messages(&token);
    let followups = messages
        .iter()
        .filter(|m| matches!(m.origin, Origin::Followup(_)))
        .count();
    let edited = messages.iter().filter(|m| !m.edits.is_empty()).count();
    assert_eq!((followups, edited), (1, 0), "answered once: {messages:#?}");
}

fn gateway_stats_are(gateway: &FakeGateway, identified: usize, live: usize) -> bool {
    let GatewayStats {
        identified: i,
        live: l,
        ..
    } = gateway.stats();
    (i, l) == (identified, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_discord_gateway_moves_to_another_replica_when_its_owner_is_killed() {
    let Some(base) = scratch::postgres_url_or_skip("discord_gateway_moves_between_replicas") else {
        return;
    };
    let (store, database) = scratch::scratch_postgres(&base).await.unwrap();
    store.close().await;
    let discord = FakeDiscord::start(TOKEN, APPLICATION).await;
    discord.add_channel(CHANNEL);
    let gateway = FakeGateway::start(TOKEN, APPLICATION).await;
    discord.set_gateway_url(&gateway.url());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, discord_config(&discord.url())).unwrap();
    let mut replicas = Replicas::start(&config, database.url(), DISCORD_CONNECTED).await;

    // One replica owns the role and holds the one gateway session.
    eventually(|| gateway_stats_are(&gateway, 1, 1) && replicas.connected().len() == 1)
        .await
        .unwrap_or_else(|()| panic!("no gateway connection: {:?}", gateway.stats()));
    let owner = replicas.connected()[0];
    whoami_answered_once(&discord, &gateway, 1).await;

    // kill -9 the owner: its session ends, another replica takes the role and connects.
    replicas.0[owner].take().unwrap().kill();
    eventually(|| gateway_stats_are(&gateway, 2, 1) && replicas.connected().len() == 1)
        .await
        .unwrap_or_else(|()| panic!("no replica took over: {:?}", gateway.stats()));
    let successor = replicas.connected()[0];
    assert_ne!(successor, owner);
    whoami_answered_once(&discord, &gateway, 2).await;

    // The owner loses its lock without dying (its database session is terminated): it
    // must close its gateway session at once, and a replica (maybe the same one, once
    // it locks again) connects anew. Two live sessions would never come back to one.
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(database.url())
        .await
        .unwrap();
    // An advisory lock on one bigint key shows its low 32 bits as `objid`.
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
         AND granted AND objsubid = 1 \
         AND objid::bigint = (hashtext($1)::bigint & 4294967295) \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(opsbot::leadership::postgres::lock_key(
        opsbot::discord::GATEWAY_ROLE,
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(terminated, [true], "the gateway role's lock, held once");
    eventually(|| gateway_stats_are(&gateway, 3, 1))
        .await
        .unwrap_or_else(|()| panic!("no clean hand-over: {:?}", gateway.stats()));
    whoami_answered_once(&discord, &gateway, 3).await;

    // Every command went through RBAC and the audit log, once.
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT decision FROM audit_log WHERE command = 'whoami' AND actor_id = $1 ORDER BY seq",
    )
    .bind(USER)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, ["allowed", "allowed", "allowed"]);

    // Never a session from a replica that did not own the role.
    let stats = gateway.stats();
    assert_eq!((stats.identified, stats.live), (3, 1), "{stats:?}");
    assert!(stats.refused.is_empty(), "{stats:?}");
    assert_eq!(
        discord
            .calls()
            .iter()
            .filter(|c| *c == "POST callback")
            .count(),
        3,
        "{:?}",
        discord.calls()
    );
    drop(replicas);
    drop(conn);
    database.drop_database().await.unwrap();
}

/// A `/whoami` slash command envelope (Socket Mode `slash_commands`) by the operator.
fn slack_whoami(slack: &FakeSlack, n: u64) -> Value {
    json!({
        "token": "t", "team_id": "T0001", "team_domain": "example",
        "channel_id": SLACK_CHANNEL, "channel_name": "ops",
        "user_id": SLACK_USER, "user_name": "erin",
        "command": "/whoami", "text": "", "api_app_id": "A0OPSBOT",
        "response_url": slack.response_url(SLACK_CHANNEL, SLACK_USER),
        "trigger_id": format!("991.47445629121.replicas{n}"),
    })
}

/// Pushes `/whoami` envelope `n` and waits until it is acknowledged once and its answer
/// (naming the operator role) was posted once.
async fn slack_whoami_answered_once(slack: &FakeSlack, socket: &FakeSocketMode, n: u64) {
    let envelope = format!("env-replicas-{n}");
    let answers_before = slack
        .messages()
        .iter()
        .filter(|m| m.content().contains("operator"))
        .count();
    socket.push(&envelope, "slash_commands", slack_whoami(slack, n));
    let acks = || {
        socket
            .acks()
            .iter()
            .filter(|a| a["envelope_id"] == envelope.as_str())
            .count()
    };
    let answers = || {
        slack
            .messages()
            .iter()
            .filter(|m| m.content().contains("operator"))
            .count()
            - answers_before
    };
    eventually(|| acks() >= 1 && answers() >= 1)
        .await
        .unwrap_or_else(|()| {
            panic!(
                "envelope {n}: {} acks, {} answers; messages {:#?}",
                acks(),
                answers(),
                slack.messages()
            )
        });
    assert_eq!((acks(), answers()), (1, 1), "envelope {n} answered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_socket_mode_moves_to_another_replica_when_its_owner_is_killed() {
    let Some(base) = scratch::postgres_url_or_skip("slack_socket_mode_moves_between_replicas")
    else {
        return;
    };
    let (store, database) = scratch::scratch_postgres(&base).await.unwrap();
    store.close().await;
    let slack = FakeSlack::start(SLACK_BOT_TOKEN, SLACK_APP_TOKEN).await;
    let socket = FakeSocketMode::start().await;
    slack.set_socket_url(&socket.url());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, slack_config(&slack.api_url())).unwrap();
    let mut replicas = Replicas::start(&config, database.url(), SLACK_CONNECTED).await;

    eventually(|| socket.connections() == 1 && replicas.connected().len() == 1)
        .await
        .unwrap_or_else(|()| panic!("no Socket Mode connection: {}", socket.connections()));
    let owner = replicas.connected()[0];
    slack_whoami_answered_once(&slack, &socket, 1).await;

    replicas.0[owner].take().unwrap().kill();
    eventually(|| socket.connections() == 1 && replicas.connected().len() == 1)
        .await
        .unwrap_or_else(|()| panic!("no replica took over: {}", socket.connections()));
    assert_ne!(replicas.connected()[0], owner);
    slack_whoami_answered_once(&slack, &socket, 2).await;
    // One `apps.connections.open` per owner: the others never connected.
    assert_eq!(slack.calls("apps.connections.open"), 2);
    assert_eq!(socket.connections(), 1);

    drop(replicas);
    database.drop_database().await.unwrap();
}

/// Posts queued by [`replicas_share_each_channels_pace`]: as many as there are claims
/// the three replicas can make on one channel at once (two lanes each), and more.
const PACED_POSTS: usize = 8;

/// A post for [`SLACK_CHANNEL`] queued straight into the shared outbox, alternating
/// between the lanes so every replica's both lanes compete for the channel.
fn paced_post(n: usize) -> opsbot::outbox::OutboxMessage {
    use opsbot::outbox::{Lane, Operation, OutboxMessage};
    OutboxMessage {
        platform: opsbot_commands::Platform::Slack,
        channel: SLACK_CHANNEL.to_string(),
        thread_key: None,
        operation: Operation::Post,
        lane: if n.is_multiple_of(2) {
            Lane::Alerts
        } else {
            Lane::Interactive
        },
        reply: opsbot_commands::Reply::info(format!("paced post {n}")),
        dedupe_key: format!("paced:{n}"),
    }
}

/// Three replicas on one PostgreSQL pace a channel once between them: the fake Slack
/// refuses (429) every call on a channel within a second of the last one, and a `Retry-
/// After` one replica draws keeps all of them away (the fake refuses calls while it
/// runs). The rate is set a little under Slack's one a second, as a margin for the time
/// between a replica's slot and its call reaching the fake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_each_channels_pace() {
    let Some(base) = scratch::postgres_url_or_skip("replicas_share_each_channels_pace") else {
        return;
    };
    let (store, database) = scratch::scratch_postgres(&base).await.unwrap();
    let slack = FakeSlack::start(SLACK_BOT_TOKEN, SLACK_APP_TOKEN).await;
    let socket = FakeSocketMode::start().await;
    slack.set_socket_url(&socket.url());
    slack.limit_channel_rate();
    // The first call on the channel draws a 429 with `Retry-After: 3`.
    slack.hold_channel(SLACK_CHANNEL, 3);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    let paced = slack_config(&slack.api_url())
        .replace("channel_rate = 0", "channel_rate = 0.8")
        .replace("lease = \"2s\"", "lease = \"20s\"");
    std::fs::write(&config, paced).unwrap();
    let replicas = Replicas::start(&config, database.url(), SLACK_CONNECTED).await;

    for n in 0..PACED_POSTS {
        let mut conn = store.pool().acquire().await.unwrap();
        opsbot::outbox::Outbox::enqueue(&mut conn, &paced_post(n))
            .await
            .unwrap();
    }
    let posted = || {
        slack
            .messages_in(SLACK_CHANNEL)
            .iter()
            .filter(|m| m.content().contains("paced post"))
            .count()
    };
    eventually(|| posted() >= PACED_POSTS)
        .await
        .unwrap_or_else(|()| panic!("{} of {PACED_POSTS} posted", posted()));
    let calls = slack.channel_calls()[SLACK_CHANNEL];
    assert_eq!(
        (calls.taken, calls.refused),
        (PACED_POSTS, 1),
        "every post taken at the first try after the one 429 the fake was told to answer"
    );
    for n in 0..PACED_POSTS {
        let title = format!("paced post {n}");
        let copies = slack
            .messages_in(SLACK_CHANNEL)
            .iter()
            .filter(|m| m.content().contains(&title))
            .count();
        assert_eq!(copies, 1, "post {n} posted once");
    }

    drop(replicas);
    store.close().await;
    database.drop_database().await.unwrap();
}
