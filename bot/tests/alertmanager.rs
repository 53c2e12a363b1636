//! opsbot behind the real Alertmanager (Debian package `prometheus-alertmanager`): alerts
//! posted to Alertmanager's API reach `opsbot serve` through a `webhook_configs` receiver,
//! open one incident for the catalog service with its root message and thread replies in
//! the outbox, and resolving them in Alertmanager resolves the incident and edits the
//! root. The fingerprint Alertmanager sends must equal our own `label_fingerprint`, the
//! fallback for payloads of older Alertmanagers that send none.
//!
//! Under CI (`CI` set and not `false`/`0`) a missing Alertmanager fails the test; elsewhere
//! the test says so on stderr and passes without running.

use opsbot_fakes::free_port;
use std::{
    collections::BTreeMap,
    fs::File,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sqlx::Row as _;

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const SERVICE: &str = "wrkhrs-gateway";
const ALERTNAME: &str = "WrkHrsGatewayDown";
/// How long any one thing may take to happen.
const WAIT: Duration = Duration::from_secs(30);

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The Alertmanager binary, or `None` (after saying so) when it is not installed outside
/// CI. Under CI a missing binary is a failure.
fn alertmanager_binary() -> Option<PathBuf> {
    let path = PathBuf::from(ALERTMANAGER);
    if path.is_file() {
        return Some(path);
    }
    let how = "install it with `apt-get install prometheus-alertmanager` (Debian package; \
               `.ci/run` does this)";
    assert!(
        !ci(),
        "{ALERTMANAGER} is not installed and CI is set: {how}"
    );
    eprintln!("SKIPPED: {ALERTMANAGER} is not installed, the Alertmanager test did not run; {how}");
    None
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
}

/// One HTTP/1.1 request; the status and body of the answer, `None` when nothing answers.
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A started process, killed (and reaped) when dropped, also when the test panics.
/// Its stdout and stderr go to `LOG`, shown by [`Process::log`] in failure messages.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, mut command: Command, dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name, child, log }
    }

    /// The process' output so far (its last 6,000 characters).
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail = text.char_indices().rev().nth(6_000).map_or(0, |(i, _)| i);
        format!("--- {} output ---\n{}", self.name, &text[tail..])
    }

    /// Panics (with the log) if the process has exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited early ({status}):\n{}", self.name, self.log());
        }
    }

    /// Waits until `GET path` answers 200.
    fn wait_ready(&mut self, port: u16, path: &str) {
        let started = Instant::now();
        loop {
            if http(port, "GET", path, None).is_some_and(|(status, _)| status == 200) {
                return;
            }
            self.assert_running();
            assert!(
                started.elapsed() < WAIT,
                "{} did not answer 200 on {path} within {WAIT:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn labels(instance: &str) -> BTreeMap<String, String> {
    [
        ("alertname", ALERTNAME),
        ("job", SERVICE),
        ("service", SERVICE),
        ("severity", "critical"),
        ("instance", instance),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `POST /api/v2/alerts` of Alertmanager: the alerts of `instances`, ending at `ends_at`
/// (in the future: firing; now: resolved).
fn post_alerts(
    port: u16,
    instances: &[&str],
    starts_at: jiff::Timestamp,
    ends_at: jiff::Timestamp,
) {
    let alerts: Vec<serde_json::Value> = instances
        .iter()
        .map(|instance| {
            serde_json::json!({
                "labels": labels(instance),
                "annotations": { "summary": format!("gateway {instance} is down") },
                "startsAt": starts_at.to_string(),
                "endsAt": ends_at.to_string(),
                "generatorURL": "http://prometheus.invalid/graph",
            })
        })
        .collect();
    let body = serde_json::Value::Array(alerts).to_string();
    let answer = http(port, "POST", "/api/v2/alerts", Some(&body));
    assert!(
        answer.as_ref().is_some_and(|(status, _)| *status == 200),
        "Alertmanager refused the alerts: {answer:?}"
    );
}

struct IncidentRow {
    id: i64,
    status: String,
    group_key: String,
}

struct AlertRow {
    fingerprint: String,
    status: String,
    labels: BTreeMap<String, String>,
    starts_at_us: Option<i64>,
    ends_at_us: Option<i64>,
    generator_url: Option<String>,
}

struct OutboxRow {
    platform: String,
    operation: String,
    reply: serde_json::Value,
}

/// Read-only queries on the store opsbot serves from.
struct Store {
    runtime: tokio::runtime::Runtime,
    store: opsbot::store::Store,
}

impl Store {
    fn open(url: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = runtime
            .block_on(opsbot::store::Store::connect(url, 1))
            .unwrap();
        Self { runtime, store }
    }

    fn incidents(&self) -> Vec<IncidentRow> {
        self.runtime.block_on(async {
            sqlx::query(
                "SELECT id, status, group_key FROM incidents WHERE service = $1 ORDER BY id",
            )
            .bind(SERVICE)
            .fetch_all(self.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| IncidentRow {
                id: row.get(0),
                status: row.get(1),
                group_key: row.get(2),
            })
            .collect()
        })
    }

    fn alerts(&self, incident: i64) -> Vec<AlertRow> {
        self.runtime.block_on(async {
            sqlx::query(
                "SELECT fingerprint, status, labels, starts_at_us, ends_at_us, generator_url \
                 FROM incident_alerts \
                 WHERE incident_id = $1 ORDER BY fingerprint",
            )
            .bind(incident)
            .fetch_all(self.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| AlertRow {
                fingerprint: row.get(0),
                status: row.get(1),
                labels: serde_json::from_str(&row.get::<String, _>(2)).unwrap(),
                starts_at_us: row.get(3),
                ends_at_us: row.get(4),
                generator_url: row.get(5),
            })
            .collect()
        })
    }

    fn outbox(&self, incident: i64) -> Vec<OutboxRow> {
        self.runtime.block_on(async {
            sqlx::query(
                "SELECT platform, operation, reply FROM outbox WHERE thread_key = $1 ORDER BY id",
            )
            .bind(format!("incident:{incident}"))
            .fetch_all(self.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| OutboxRow {
                platform: row.get(0),
                operation: row.get(1),
                reply: serde_json::from_str(&row.get::<String, _>(2)).unwrap(),
            })
            .collect()
        })
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.runtime.block_on(self.store.close());
    }
}

/// Everything the test looks at, for failure messages.
fn describe(store: &Store, processes: &[&Process]) -> String {
    let mut out = String::new();
    for incident in store.incidents() {
        out.push_str(&format!(
            "incident #{} {} key {}\n",
            incident.id, incident.status, incident.group_key
        ));
        for alert in store.alerts(incident.id) {
            out.push_str(&format!(
                "  alert {} {} {:?}\n",
                alert.fingerprint, alert.status, alert.labels
            ));
        }
        for message in store.outbox(incident.id) {
            out.push_str(&format!(
                "  outbox {} {} {}\n",
                message.platform, message.operation, message.reply
            ));
        }
    }
    for process in processes {
        out.push_str(&process.log());
        out.push('\n');
    }
    out
}

/// Polls `check` until it gives a value, for at most [`WAIT`].
fn wait_for<T>(
    what: &str,
    store: &Store,
    processes: &mut [&mut Process],
    mut check: impl FnMut(&Store) -> Option<T>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check(store) {
            return value;
        }
        for process in processes.iter_mut() {
            process.assert_running();
        }
        if started.elapsed() > WAIT {
            let shown: Vec<&Process> = processes.iter().map(|p| &**p).collect();
            panic!(
                "timed out after {WAIT:?} waiting for {what}\n{}",
                describe(store, &shown)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The incident of the service (there must be exactly one).
fn the_incident(store: &Store) -> Option<IncidentRow> {
    let mut incidents = store.incidents();
    assert!(incidents.len() <= 1, "more than one incident was opened");
    incidents.pop()
}

fn has_field(reply: &serde_json::Value, name: &str, starts_with: &str) -> bool {
    reply["fields"].as_array().is_some_and(|fields| {
        fields.iter().any(|f| {
            f["name"] == name
                && f["value"]
                    .as_str()
                    .is_some_and(|v| v.starts_with(starts_with))
        })
    })
}

fn lines_contain(reply: &serde_json::Value, text: &str) -> bool {
    reply["lines"].as_array().is_some_and(|lines| {
        lines
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains(text)))
    })
}

#[test]
fn alertmanager_alerts_open_and_resolve_an_incident() {
    let Some(alertmanager) = alertmanager_binary() else {
        return;
    };
    // Declared first, dropped last: the processes (declared later) die before their
    // files go.
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("opsbot.db").display());
    let opsbot_port = free_port();
    let am_port = free_port();

    let mut opsbot_command = Command::new(env!("CARGO_BIN_EXE_opsbot"));
    opsbot_command
        .env_remove("OPSBOT_CONFIG")
        .env_remove("OPSBOT_DATABASE_URL")
        .env_remove("OPSBOT_LISTEN")
        .args(["serve", "-c"])
        .arg(example())
        .args(["--listen", &format!("127.0.0.1:{opsbot_port}")])
        .args(["--database-url", &database_url]);
    let mut opsbot = Process::spawn("opsbot", opsbot_command, dir.path());
    opsbot.wait_ready(opsbot_port, "/readyz");

    // The example's alertmanager source takes `auth = "none"`: no http_config needed.
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: opsbot\n  group_by: ['alertname', 'service']\n  \
             group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: opsbot\n    webhook_configs:\n      - url: \
             http://127.0.0.1:{opsbot_port}/alerts/alertmanager\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("am-data")).unwrap();
    let mut am_command = Command::new(alertmanager);
    am_command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("am-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=debug");
    let mut am = Process::spawn("alertmanager", am_command, dir.path());
    am.wait_ready(am_port, "/-/ready");

    let store = Store::open(&database_url);
    // Whole seconds, so the times opsbot stores (microseconds) compare exactly.
    let now = || jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let starts_at = now();
    let later = starts_at + jiff::SignedDuration::from_hours(1);

    // The first alert opens the incident with its root message.
    post_alerts(am_port, &["gw-1:8080"], starts_at, later);
    let incident = wait_for(
        "the incident of the first alert",
        &store,
        &mut [&mut opsbot, &mut am],
        |s| the_incident(s).filter(|i| s.outbox(i.id).iter().any(|m| m.operation == "post_root")),
    );
    assert_eq!(incident.status, "open");
    // Alertmanager's groupKey (the route's matchers, then the group_by labels) keys the
    // incident, behind the source and before the service.
    let group_key = format!(r#"{{}}:{{alertname="{ALERTNAME}", service="{SERVICE}"}}"#);
    assert_eq!(
        incident.group_key,
        format!("alertmanager:{group_key}|{SERVICE}")
    );

    // The second alert joins it: both firing, the root edited, a thread reply.
    post_alerts(am_port, &["gw-1:8080", "gw-2:8080"], starts_at, later);
    let id = incident.id;
    let alerts = wait_for(
        "both alerts firing in one incident",
        &store,
        &mut [&mut opsbot, &mut am],
        |s| {
            let alerts = s.alerts(id);
            let firing = alerts.iter().filter(|a| a.status == "firing").count();
            let replied = s
                .outbox(id)
                .iter()
                .any(|m| m.operation == "reply" && lines_contain(&m.reply, "Firing"));
            (firing == 2 && replied).then_some(alerts)
        },
    );
    assert_eq!(
        the_incident(&store).unwrap().id,
        id,
        "one incident for the group"
    );
    let outbox = store.outbox(id);
    for platform in ["slack", "console"] {
        assert!(
            outbox
                .iter()
                .any(|m| m.platform == platform && m.operation == "post_root"),
            "no {platform} root\n{}",
            describe(&store, &[&opsbot, &am])
        );
    }
    assert!(
        outbox
            .iter()
            .any(|m| m.operation == "edit_root" && has_field(&m.reply, "Alerts", "2 firing of 2")),
        "no root edit listing both alerts\n{}",
        describe(&store, &[&opsbot, &am])
    );

    // Alertmanager's fingerprint of each alert is our label fingerprint of its labels.
    for alert in &alerts {
        let instance = alert.labels["instance"].as_str();
        assert_eq!(alert.labels, labels(instance), "labels as sent");
        assert_eq!(
            alert.fingerprint,
            opsbot_alerts::label_fingerprint(&alert.labels),
            "Alertmanager's fingerprint of {:?}",
            alert.labels
        );
    }
    assert_ne!(alerts[0].fingerprint, alerts[1].fingerprint);
    // A firing alert's endsAt arrives as Go's zero time (not the endsAt we posted): unset.
    for alert in &alerts {
        assert_eq!(alert.starts_at_us, Some(starts_at.as_microsecond()));
        assert_eq!(alert.ends_at_us, None, "{:?}", alert.labels);
        assert_eq!(
            alert.generator_url.as_deref(),
            Some("http://prometheus.invalid/graph")
        );
    }

    // Resolving both in Alertmanager resolves the incident and edits the root.
    let ended_at = now();
    post_alerts(am_port, &["gw-1:8080", "gw-2:8080"], starts_at, ended_at);
    wait_for(
        "the incident resolved",
        &store,
        &mut [&mut opsbot, &mut am],
        |s| {
            let resolved = the_incident(s).is_some_and(|i| i.status == "resolved");
            let edited = s.outbox(id).iter().any(|m| {
                m.operation == "edit_root" && has_field(&m.reply, "Status", "resolved after")
            });
            (resolved && edited).then_some(())
        },
    );
    let alerts = store.alerts(id);
    assert!(
        alerts
            .iter()
            .all(|a| a.status == "resolved" && a.ends_at_us == Some(ended_at.as_microsecond())),
        "{}",
        describe(&store, &[&opsbot, &am])
    );
    assert!(
        store
            .outbox(id)
            .iter()
            .any(|m| m.operation == "reply"
                && m.reply["title"] == format!("Incident #{id} is resolved")),
        "no thread reply saying it is resolved\n{}",
        describe(&store, &[&opsbot, &am])
    );
    drop(store);
    drop(am);
    drop(opsbot);
}
