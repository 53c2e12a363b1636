//! `logs` of a unit through systemd-journal-gatewayd: against the fake gateway of
//! `opsbot-fakes` (written from the man page), and against the real
//! `systemd-journal-gatewayd` serving a journal file written by `systemd-journal-remote`,
//! started with its socket handed over by `systemd-socket-activate`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command},
    time::Duration,
};

use opsbot_commands::{
    Service,
    catalog::Target,
    context::{LogQuery, Runtime, RuntimeError},
};
use opsbot_fakes::journal_gateway::FakeJournalGateway;
use opsbot_systemd::{JournalTls, SystemdRuntime, SystemdSettings};

fn with_journal(url: &str) -> Service {
    let mut service = crate::service("ollama.service");
    service.target = Target::Systemd {
        unit: "ollama.service".into(),
        bus: None,
        journal: Some(url.to_string()),
    };
    service
}

fn query(tail: u32, since: Option<u64>, grep: Option<&str>) -> LogQuery {
    LogQuery {
        since: since.map(Duration::from_secs),
        tail,
        grep: grep.map(str::to_string),
    }
}

fn runtime() -> SystemdRuntime {
    SystemdRuntime::new(SystemdSettings::default())
}

/// The messages of lines `TIME ident[pid]: message`.
fn messages(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|line| line.split_once("]: ").map_or(line.as_str(), |(_, m)| m))
        .collect()
}

#[tokio::test]
async fn logs_read_the_units_last_entries_from_the_gateway() {
    let gateway = FakeJournalGateway::start().await;
    gateway.log("ollama.service", "ollama", 300, "starting ollama 0.5.1");
    gateway.log("sshd.service", "sshd", 200, "Accepted publickey for root");
    gateway.log("ollama.service", "ollama", 120, "loaded model llama3");
    gateway.log("ollama.service", "ollama", 60, "ERROR model qwen not found");
    gateway.log("ollama.service", "ollama", 5, "GET /api/version 200");
    let service = with_journal(&format!("{}/", gateway.url));

    let chunks = runtime()
        .logs(&service, &query(2, None, None))
        .await
        .unwrap();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].source, "journal/ollama.service");
    assert_eq!(
        messages(&chunks[0].lines),
        ["ERROR model qwen not found", "GET /api/version 200"]
    );
    assert!(
        chunks[0].lines[0].contains("Z ollama[4242]: "),
        "{:?}",
        chunks[0].lines
    );
    let request = gateway.requests().pop().unwrap();
    assert_eq!(request.target, "/entries?_SYSTEMD_UNIT=ollama.service");
    assert_eq!(request.accept.as_deref(), Some("application/json"));
    assert_eq!(request.range.as_deref(), Some("entries=:-2:3"));

    // More than there are: all of the unit's, none of another unit's.
    let all = runtime()
        .logs(&service, &query(100, None, None))
        .await
        .unwrap();
    assert_eq!(
        messages(&all[0].lines),
        [
            "starting ollama 0.5.1",
            "loaded model llama3",
            "ERROR model qwen not found",
            "GET /api/version 200"
        ]
    );
    // Exactly as many as there are.
    let four = runtime()
        .logs(&service, &query(4, None, None))
        .await
        .unwrap();
    assert_eq!(four[0].lines, all[0].lines);
    let one = runtime()
        .logs(&service, &query(1, None, None))
        .await
        .unwrap();
    assert_eq!(messages(&one[0].lines), ["GET /api/version 200"]);
}

#[tokio::test]
async fn since_and_grep_filter_the_tail() {
    let gateway = FakeJournalGateway::start().await;
    gateway.log("ollama.service", "ollama", 7200, "ERROR out of memory");
    gateway.log(
        "ollama.service",
        "ollama",
        600,
        "ERROR model qwen not found",
    );
    gateway.log("ollama.service", "ollama", 300, "INFO model loaded");
    let service = with_journal(&gateway.url);
    let chunks = runtime()
        .logs(&service, &query(100, Some(3600), Some("ERROR")))
        .await
        .unwrap();
    assert_eq!(messages(&chunks[0].lines), ["ERROR model qwen not found"]);
    let chunks = runtime()
        .logs(&service, &query(100, Some(3600), None))
        .await
        .unwrap();
    assert_eq!(chunks[0].lines.len(), 2);
}

#[tokio::test]
async fn a_gateway_that_is_down_or_refuses_says_so() {
    let port = opsbot_fakes::free_port();
    let service = with_journal(&format!("http://127.0.0.1:{port}"));
    let error = runtime()
        .logs(&service, &query(10, None, None))
        .await
        .unwrap_err();
    let RuntimeError::Unreachable { what, reason } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        what,
        &format!("systemd-journal-gatewayd at http://127.0.0.1:{port}")
    );
    assert!(
        reason.ends_with("read `journalctl -u ollama.service` on its host meanwhile"),
        "{reason}"
    );

    // Not a gateway's answer (a proxy's 404): a failure naming the status.
    let gateway = FakeJournalGateway::start().await;
    let service = with_journal(&format!("{}/not-here", gateway.url));
    let error = runtime()
        .logs(&service, &query(10, None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Failed(m) if m.contains("answered 404 Not Found to the journal of ollama.service")),
        "{error:?}"
    );
}

#[tokio::test]
async fn tls_files_are_checked_when_the_journal_is_first_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ca.pem");
    let rt = SystemdRuntime::new(SystemdSettings {
        journal_tls: JournalTls {
            ca_file: Some(missing.clone()),
            ..JournalTls::default()
        },
        ..SystemdSettings::default()
    });
    let error = rt
        .logs(&with_journal("https://aiops:19531"), &query(10, None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Failed(m) if m.starts_with(&format!("[systemd] journal_ca {}: ", missing.display()))),
        "{error:?}"
    );
    let half = SystemdRuntime::new(SystemdSettings {
        journal_tls: JournalTls {
            client_cert_file: Some(missing),
            ..JournalTls::default()
        },
        ..SystemdSettings::default()
    });
    let error = half
        .logs(&with_journal("https://aiops:19531"), &query(10, None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Failed(m) if m.contains("journal_client_cert and journal_client_key go together")),
        "{error:?}"
    );
}

const GATEWAYD: &str = "/lib/systemd/systemd-journal-gatewayd";
const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";
const SOCKET_ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

/// The real gatewayd, serving one journal file on a local port; killed when dropped.
struct RealGateway {
    child: Child,
    url: String,
}

impl Drop for RealGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `entries` (unit, message) in the Journal Export Format and turns them into a
/// journal file with `systemd-journal-remote`.
fn journal_file(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
    let now = jiff::Timestamp::now().as_microsecond();
    let mut export = String::new();
    for (i, (unit, message)) in entries.iter().enumerate() {
        let i = i as i64;
        let at = now - (entries.len() as i64 - i) * 1_000_000;
        export.push_str(&format!(
            "__CURSOR=s=opsbot;i={i}\n__REALTIME_TIMESTAMP={at}\n__MONOTONIC_TIMESTAMP={}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT={unit}\n\
             SYSLOG_IDENTIFIER={}\n_PID=42\n_HOSTNAME=aiops\nMESSAGE={message}\n\n",
            (i + 1) * 1000,
            unit.trim_end_matches(".service"),
        ));
    }
    let export_path = dir.join("entries.export");
    std::fs::write(&export_path, export).unwrap();
    let journal = dir.join("remote.journal");
    let status = Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", journal.display()))
        .arg(&export_path)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    journal
}

async fn real_gateway(journal: &Path) -> RealGateway {
    let port = opsbot_fakes::free_port();
    let child = Command::new(SOCKET_ACTIVATE)
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .arg(GATEWAYD)
        .arg(format!("--file={}", journal.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let gateway = RealGateway {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Listening once `systemd-socket-activate` has bound the socket.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return gateway;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("systemd-socket-activate did not listen on {port}");
}

/// Whether the real binaries are here; under CI their absence fails the test.
fn real_binaries_or_skip(test: &str) -> bool {
    let present = [GATEWAYD, JOURNAL_REMOTE, SOCKET_ACTIVATE]
        .iter()
        .all(|p| Path::new(p).exists());
    if !present {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "{test}: install systemd-journal-remote (gatewayd) under CI"
        );
        eprintln!("skipped {test}: systemd-journal-gatewayd is not installed");
    }
    present
}

#[tokio::test]
async fn logs_read_the_real_systemd_journal_gatewayd() {
    if !real_binaries_or_skip("logs_read_the_real_systemd_journal_gatewayd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_file(
        dir.path(),
        &[
            ("ollama.service", "starting ollama"),
            ("sshd.service", "Accepted publickey"),
            ("ollama.service", "loaded model llama3"),
            ("ollama.service", "ERROR model qwen not found"),
            ("ollama.service", "GET /api/version 200"),
            ("sshd.service", "session closed"),
        ],
    );
    let gateway = real_gateway(&journal).await;
    let service = with_journal(&gateway.url);
    let rt = runtime();
    let read = |tail, grep: Option<&'static str>| {
        let (rt, service) = (&rt, &service);
        async move {
            let chunks = rt.logs(service, &query(tail, None, grep)).await.unwrap();
            chunks[0].lines.clone()
        }
    };
    assert_eq!(
        messages(&read(2, None).await),
        ["ERROR model qwen not found", "GET /api/version 200"]
    );
    assert_eq!(messages(&read(1, None).await), ["GET /api/version 200"]);
    assert_eq!(
        messages(&read(4, None).await),
        [
            "starting ollama",
            "loaded model llama3",
            "ERROR model qwen not found",
            "GET /api/version 200"
        ]
    );
    assert_eq!(messages(&read(50, None).await).len(), 4);
    assert_eq!(
        messages(&read(50, Some("ERROR")).await),
        ["ERROR model qwen not found"]
    );
    let line = &read(1, None).await[0];
    assert!(
        line.contains("Z ollama[42]: GET /api/version 200"),
        "{line}"
    );
}
