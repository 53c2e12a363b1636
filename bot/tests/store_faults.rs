//! The store failing under the real `opsbot serve` binary, and recovering without a
//! restart:
//! * SQLite on a small tmpfs that fills up, then is freed again;
//! * PostgreSQL turned read-only (`default_transaction_read_only` on the database, its
//!   sessions cut as a failover would), then writable again;
//! * PostgreSQL with a table lock held by someone else.
//!
//! Each time, while the store cannot write, every alert POST answers 503 with
//! `Retry-After` (so Alertmanager sends it again) and `/readyz` answers 503; once the
//! store can write, the same opsbot process takes the alerts again and turns ready, with
//! nothing but time passing (no restart, no connection stuck in a failed transaction).
//!
//! The tmpfs needs `mount` (root, as CI runs); without it the test says it was skipped,
//! and under CI it fails instead.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use opsbot::store::scratch;
use opsbot_fakes::free_port;

/// A bound for a hung test, not a measurement.
const WAIT: Duration = Duration::from_secs(120);
/// Pause between attempts while waiting for a state to change.
const PAUSE: Duration = Duration::from_millis(100);

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn config_text(extra: &str) -> String {
    format!(
        r#"
{extra}

[[alerts.sources]]
name = "alertmanager"
kind = "alertmanager"
auth = "none"

[[services]]
name = "svc"
environment = "prod"
"#
    )
}

/// `opsbot serve` on `port` with `database_url`; returns once it answers HTTP.
fn start(config: &Path, database_url: &str, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["serve", "-c"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url"])
        .arg(database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start opsbot");
    let deadline = Instant::now() + WAIT;
    while request(port, "GET", "/healthz", "").is_none() {
        assert!(Instant::now() < deadline, "opsbot did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// An HTTP answer: status, headers (lower-case names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request; `None` when the connection failed.
fn request(port: u16, method: &str, path: &str, body: &str) -> Option<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

fn post_alerts(port: u16, body: &str) -> Answer {
    request(port, "POST", "/alerts/alertmanager", body).expect("opsbot answers")
}

fn readyz(port: u16) -> Answer {
    request(port, "GET", "/readyz", "").expect("opsbot answers")
}

/// An Alertmanager notification of `alerts` firing alerts with `padding` bytes of
/// annotation each; `tag` makes the fingerprints unique.
fn notification(tag: &str, alerts: usize, padding: usize) -> String {
    let pad = "x".repeat(padding);
    let alerts: Vec<String> = (0..alerts)
        .map(|i| {
            format!(
                r#"{{"status":"firing","labels":{{"alertname":"Fault","service":"svc","instance":"{tag}-{i}"}},"annotations":{{"summary":"fault {i}","detail":"{pad}"}},"startsAt":"2026-12-07T03:00:00Z","fingerprint":"{tag}-{i}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"Fault\"}}","status":"firing","receiver":"opsbot","groupLabels":{{"alertname":"Fault"}},"commonLabels":{{}},"commonAnnotations":{{}},"alerts":[{}]}}"#,
        alerts.join(",")
    )
}

/// Asserts the answer is the store-unavailable 503 (Retry-After, a reason).
fn assert_unavailable(answer: &Answer) {
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("5"), "{answer:?}");
    assert!(
        answer.body.contains("the store is unavailable"),
        "{answer:?}"
    );
}

/// Sends `body` until opsbot takes it (as Alertmanager retries a 503), asserting every
/// refusal on the way is a 503 with Retry-After, never a 500; then `/readyz` is 200.
fn deliver_after_recovery(port: u16, body: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = post_alerts(port, body);
        if answer.status == 200 {
            break;
        }
        assert_unavailable(&answer);
        assert!(
            Instant::now() < deadline,
            "opsbot never took alerts again: {answer:?}"
        );
        std::thread::sleep(PAUSE);
    }
    let ready = readyz(port);
    assert_eq!(ready.status, 200, "{ready:?}");
}

/// A tmpfs of `size` mounted on `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` when `mount` is not allowed here (not root, no capability).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::inherit())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the file system is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    for chunk in [64 * 1024, 4096, 512, 1] {
        let bytes = vec![0xa5u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
    let _ = file.sync_all();
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_full_disk_answers_503_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&data, "8m") else {
        assert!(
            !under_ci(),
            "the disk-full test needs `mount -t tmpfs` (run as root) under CI"
        );
        eprintln!("skipped the disk-full test: cannot mount a tmpfs here (not root?)");
        return;
    };
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, config_text("")).unwrap();
    let database_url = format!("sqlite://{}", data.join("opsbot.db").display());
    let port = free_port();
    let _opsbot = Stop(start(&config, &database_url, port));

    let first = post_alerts(port, &notification("before", 3, 100));
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(readyz(port).status, 200);

    fill(&data.join("filler"));
    // Alerts keep coming until the store has no room left for them.
    let mut refused = None;
    for round in 0..500 {
        let answer = post_alerts(port, &notification(&format!("full{round}"), 20, 2000));
        if answer.status != 200 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a full disk refused nothing");
    assert_unavailable(&refused);
    // Still full: still refused the same way, and not ready.
    assert_unavailable(&post_alerts(port, &notification("full-again", 20, 2000)));
    let ready = readyz(port);
    assert_eq!(ready.status, 503, "{ready:?}");
    let metrics = request(port, "GET", "/metrics", "").unwrap().body;
    assert!(
        metrics.contains(
            r#"opsbot_alert_requests_total{source="alertmanager",outcome="unavailable"}"#
        ),
        "{metrics}"
    );

    std::fs::remove_file(data.join("filler")).unwrap();
    deliver_after_recovery(port, &notification("after", 20, 2000));
    // And again: the writer's connection is healthy, not merely lucky once.
    let again = post_alerts(port, &notification("after-again", 3, 100));
    assert_eq!(again.status, 200, "{again:?}");
}

/// Runs `sql` on the PostgreSQL server of the tests (its `test` database).
async fn admin(base_url: &str, sql: &str) {
    use sqlx::{Connection as _, Executor as _};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(base_url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
        .await
        .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_postgres_answers_503_and_recovers_without_a_restart() {
    let Some(base_url) =
        scratch::postgres_url_or_skip("a_read_only_postgres_answers_503_and_recovers")
    else {
        return;
    };
    let (store, scratch_db) = scratch::scratch_postgres(&base_url).await.unwrap();
    store.close().await;
    let name = scratch_db.name().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(&config, config_text("")).unwrap();
    let port = free_port();
    let url = scratch_db.url().to_string();
    let opsbot = tokio::task::spawn_blocking(move || Stop(start(&config, &url, port)))
        .await
        .unwrap();
    let send = |body: String| tokio::task::spawn_blocking(move || post_alerts(port, &body));

    let first = send(notification("before", 3, 10)).await.unwrap();
    assert_eq!(first.status, 200, "{first:?}");

    // The database turns read-only; its sessions are cut, as a failover would.
    admin(
        &base_url,
        &format!("ALTER DATABASE {name} SET default_transaction_read_only = on"),
    )
    .await;
    admin(
        &base_url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    )
    .await;
    let refused = send(notification("read-only", 3, 10)).await.unwrap();
    assert_unavailable(&refused);
    // Every later one too (a fresh session is read-only as well), and not ready.
    let refused = send(notification("read-only-again", 3, 10)).await.unwrap();
    assert_unavailable(&refused);
    assert!(refused.body.contains("read-only"), "{refused:?}");
    let ready = tokio::task::spawn_blocking(move || readyz(port))
        .await
        .unwrap();
    assert_eq!(ready.status, 503, "{ready:?}");

    // Writable again for new sessions only: opsbot must replace its read-only ones itself.
    admin(
        &base_url,
        &format!("ALTER DATABASE {name} RESET default_transaction_read_only"),
    )
    .await;
    tokio::task::spawn_blocking(move || {
        deliver_after_recovery(port, &notification("after", 3, 10))
    })
    .await
    .unwrap();
    drop(opsbot);
    scratch_db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_on_postgres_answers_503_instead_of_waiting() {
    use sqlx::{Connection as _, Executor as _};
    let Some(base_url) = scratch::postgres_url_or_skip("a_lock_held_on_postgres_answers_503")
    else {
        return;
    };
    let (store, scratch_db) = scratch::scratch_postgres(&base_url).await.unwrap();
    store.close().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsbot.toml");
    std::fs::write(
        &config,
        config_text("[store]\nstatement_timeout = \"500ms\"\nwrite_timeout = \"3s\""),
    )
    .unwrap();
    let port = free_port();
    let url = scratch_db.url().to_string();
    let opsbot = tokio::task::spawn_blocking(move || Stop(start(&config, &url, port)))
        .await
        .unwrap();
    let send = |body: String| tokio::task::spawn_blocking(move || post_alerts(port, &body));
    let first = send(notification("before", 3, 10)).await.unwrap();
    assert_eq!(first.status, 200, "{first:?}");

    // Someone else holds the incidents table.
    let mut holder = sqlx::AnyConnection::connect(scratch_db.url())
        .await
        .unwrap();
    holder.execute("BEGIN").await.unwrap();
    holder
        .execute("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let refused = send(notification("locked", 3, 10)).await.unwrap();
    assert_unavailable(&refused);
    holder.execute("ROLLBACK").await.unwrap();
    holder.close().await.unwrap();

    tokio::task::spawn_blocking(move || {
        deliver_after_recovery(port, &notification("after", 3, 10))
    })
    .await
    .unwrap();
    drop(opsbot);
    scratch_db.drop_database().await.unwrap();
}
