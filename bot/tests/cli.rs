//! The `opsbot` binary as an operator runs it: check-config, the console, the audit
//! subcommands (including tamper detection), and `serve` with its HTTP endpoints and
//! graceful shutdown on SIGTERM.

use opsbot_fakes::free_port;
use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

fn opsbot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opsbot"));
    command
        .env_remove("OPSBOT_CONFIG")
        .env_remove("OPSBOT_DATABASE_URL")
        .env_remove("OPSBOT_LISTEN");
    command
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/opsbot.toml")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_console(dir: &Path, user: &str, script: &str) -> Output {
    let mut child = opsbot()
        .args(["console", "-c"])
        .arg(example())
        .args(["--as", user, "--database-url"])
        .arg(format!("sqlite://{}", dir.join("opsbot.db").display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start opsbot console");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    child
        .wait_with_output()
        .expect("console exits at end of input")
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("opsbot.db").display())
}

#[test]
fn check_config_accepts_the_example_and_summarizes_it() {
    let out = opsbot()
        .arg("check-config")
        .arg("-c")
        .arg(example())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ai-orchestration"), "{stdout}");
    assert!(stdout.contains("prod"), "{stdout}");
    assert!(stdout.contains("operator"), "{stdout}");
}

#[test]
fn check_config_names_the_file_line_and_key_of_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = \"127.0.0.1:8080\"\n\n[[services]]\nname = \"api\"\nenvironment = \"prod\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    let out = opsbot()
        .arg("check-config")
        .arg("-c")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml:7"), "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_default_config_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsbot()
        .current_dir(dir.path())
        .arg("check-config")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("deploy/examples/opsbot.toml"), "{stderr}");
}

#[test]
fn console_session_then_audit_verify_export_and_tamper_detection() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_console(
        dir.path(),
        "operator",
        "whoami\nservices --env prod\nscale ai-orchestration 5\naudit --decision denied\n",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("You are Console operator (console:operator)"),
        "{stdout}"
    );
    assert!(stdout.contains("Not allowed"), "{stdout}");
    assert!(
        stdout.contains("`scale ai-orchestration 5` → denied"),
        "{stdout}"
    );

    let verify = |dir: &Path| {
        opsbot()
            .args(["audit", "verify", "-c"])
            .arg(example())
            .args(["--database-url", &database_url(dir)])
            .output()
            .unwrap()
    };
    let out = verify(dir.path());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let export = opsbot()
        .args([
            "audit", "export", "--format", "jsonl", "--since", "1h", "-c",
        ])
        .arg(example())
        .args(["--database-url", &database_url(dir.path())])
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", text(&export.stderr));
    let lines: Vec<serde_json::Value> = text(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2]["decision"], "denied");
    assert!(lines[2]["hash"].as_str().is_some_and(|h| h.len() == 64));

    // Edit the denial into an allowance behind opsbot's back: verify must name it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = opsbot::store::Store::connect(&database_url(dir.path()), 1)
            .await
            .unwrap();
        sqlx::query("UPDATE audit_log SET decision = 'allowed' WHERE seq = 3")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
    });
    let out = verify(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains('3') && stdout.to_lowercase().contains("edit"),
        "{stdout}"
    );
}

#[test]
fn two_console_users_share_one_store_for_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_console(dir.path(), "operator", "restart wrkhrs-rag\n");
    let stdout = text(&out.stdout);
    let id = stdout
        .split("confirm ")
        .nth(1)
        .and_then(|rest| rest.get(..6))
        .unwrap_or_else(|| panic!("no request id in {stdout}"))
        .to_string();
    let out = run_console(dir.path(), "operator", &format!("confirm {id}\n"));
    assert!(
        text(&out.stdout).contains("Approval needed"),
        "{}",
        text(&out.stdout)
    );
    let out = run_console(dir.path(), "lead", &format!("approve {id}\n"));
    let stdout = text(&out.stdout);
    // No compose adapter is configured in this build: the approved restart fails clearly.
    assert!(
        stdout.contains("Approved by lead for Console operator")
            || stdout.contains("no docker compose adapter"),
        "{stdout}"
    );
    let out = run_console(dir.path(), "lead", "audit --command restart\n");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("approved by console:lead"), "{stdout}");
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
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

#[test]
fn serve_answers_health_readiness_metrics_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = opsbot()
        .args(["serve", "--log-format", "json", "-c"])
        .arg(example())
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &database_url(dir.path()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let healthz = loop {
        if let Some(answer) = http_get(port, "/healthz") {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "opsbot did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(healthz.0, 200);
    let (status, body) = http_get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("opsbot_audit_writes_total"), "{body}");
    assert!(body.contains("# EOF"), "{body}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "opsbot did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let first = stderr.lines().next().unwrap_or_default();
    let line: serde_json::Value =
        serde_json::from_str(first).unwrap_or_else(|e| panic!("not JSON ({e}): {first}"));
    assert_eq!(line["message"], "opsbot is serving", "{first}");
    assert!(stderr.contains("shutting down"), "{stderr}");
}
