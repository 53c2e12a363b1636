//! The command pipeline end to end, as a console user drives it, on the example
//! configuration: the README walkthrough, confirmation, the two-person rule, expiry, and
//! the audit trail every step leaves. Each test runs on SQLite and on PostgreSQL.

use std::sync::LazyLock;

use opsbot_commands::Status;
mod support;
use support::{example_config_text, on_both_backends, request_id};

static EXAMPLE: LazyLock<String> = LazyLock::new(example_config_text);

/// The example configuration with short confirmation and approval windows.
static SHORT_WINDOWS: LazyLock<String> = LazyLock::new(|| {
    let text = example_config_text();
    let text = text.replace("expires = \"15m\"", "expires = \"1s\"");
    assert!(
        text.contains("expires = \"1s\""),
        "example config has an approval expiry to shorten"
    );
    let (before, after) = text
        .split_once("\n[confirmation]\n")
        .expect("example has [confirmation]");
    let after = after.replacen("timeout = \"5m\"", "timeout = \"1s\"", 1);
    format!("{before}\n[confirmation]\n{after}")
});

on_both_backends!(newcomer_walkthrough, EXAMPLE, |bot| {
    let help = bot.say("operator", "help").await;
    assert_eq!(help.title, "Commands you can run");
    assert!(
        help.lines.iter().any(|l| l.contains("`restart SERVICE`")),
        "{}",
        help.to_plain_text()
    );

    let whoami = bot.say("operator", "whoami").await;
    let text = whoami.to_plain_text();
    assert!(text.contains("console:operator"), "{text}");
    assert!(text.contains("Role `operator`"), "{text}");

    let services = bot.say("operator", "services --env prod").await;
    let text = services.to_plain_text();
    assert!(text.contains("ai-orchestration"), "{text}");
    assert!(
        text.contains("wrkhrs-gateway") && text.contains("ollama"),
        "{text}"
    );
    assert!(
        !text.contains("ai-orchestration-staging"),
        "staging must be filtered out: {text}"
    );

    let denied = bot.say("operator", "scale ai-orchestration 5").await;
    assert_eq!(denied.status, Status::Danger);
    assert_eq!(denied.title, "Not allowed");
    assert!(
        denied.to_plain_text().contains("roles that would allow it"),
        "{}",
        denied.to_plain_text()
    );
    assert!(bot.runtime.actions().is_empty());

    let typo = bot.say("operator", "restart wrkhrs-gatewy").await;
    assert!(
        typo.to_plain_text()
            .contains("did you mean `wrkhrs-gateway`"),
        "{}",
        typo.to_plain_text()
    );

    let audit = bot.say("operator", "audit").await;
    let text = audit.to_plain_text();
    assert!(audit.title.starts_with("Last 5 audit entries"), "{text}");
    assert!(
        text.contains("`scale ai-orchestration 5` → denied / not_run"),
        "{text}"
    );
    assert!(text.contains("`whoami` → allowed / ok"), "{text}");
    assert!(
        text.contains("`restart wrkhrs-gatewy` → unparsed"),
        "{text}"
    );

    let only_denials = bot.say("operator", "audit --decision denied").await;
    assert_eq!(
        only_denials.lines.len(),
        1,
        "{}",
        only_denials.to_plain_text()
    );

    let report = opsbot::audit::verify(&bot.app.store).await.unwrap();
    assert!(report.problem.is_none(), "{report}");
    assert_eq!(report.checked, 7);
});

on_both_backends!(destructive_commands_wait_for_confirmation, EXAMPLE, |bot| {
    let asked = bot
        .say("operator", "restart ai-orchestration-staging")
        .await;
    assert_eq!(asked.status, Status::Warning, "{}", asked.to_plain_text());
    assert!(
        asked
            .title
            .contains("Confirm `restart ai-orchestration-staging`")
    );
    let id = request_id(&asked);
    assert!(
        bot.runtime.actions().is_empty(),
        "nothing runs before confirmation"
    );

    let stranger = bot.say("lead", &format!("confirm {id}")).await;
    assert_eq!(stranger.title, "Not allowed");
    assert!(bot.runtime.actions().is_empty());

    let done = bot.say("operator", &format!("confirm {id}")).await;
    assert_eq!(done.status, Status::Success, "{}", done.to_plain_text());
    assert_eq!(
        bot.runtime.actions(),
        vec!["restart ai-orchestration-staging"]
    );

    let again = bot.say("operator", &format!("confirm {id}")).await;
    assert!(
        again.title.contains("already done"),
        "{}",
        again.to_plain_text()
    );
    assert_eq!(
        bot.runtime.actions().len(),
        1,
        "a second confirm never runs it twice"
    );

    let asked = bot
        .say("operator", "scale ai-orchestration-staging 2")
        .await;
    let id = request_id(&asked);
    let cancelled = bot.say("operator", &format!("cancel {id}")).await;
    assert!(
        cancelled.title.starts_with("Cancelled"),
        "{}",
        cancelled.to_plain_text()
    );
    let late = bot.say("operator", &format!("confirm {id}")).await;
    assert!(
        late.title.contains("already cancelled"),
        "{}",
        late.to_plain_text()
    );
    assert_eq!(bot.runtime.actions().len(), 1);

    let unknown = bot.say("operator", "confirm ffffff").await;
    assert!(unknown.title.contains("no request `ffffff`"));

    let audit = bot
        .say("operator", "audit --limit 50")
        .await
        .to_plain_text();
    assert!(audit.contains("→ pending / not_run"), "{audit}");
    assert!(audit.contains("`confirm "), "{audit}");
    assert!(audit.contains("→ cancelled / not_run"), "{audit}");
});

on_both_backends!(two_person_rule, EXAMPLE, |bot| {
    let asked = bot.say("operator", "restart wrkhrs-rag").await;
    assert!(
        asked.to_plain_text().contains("must approve it"),
        "{}",
        asked.to_plain_text()
    );
    let id = request_id(&asked);

    let confirmed = bot.say("operator", &format!("confirm {id}")).await;
    assert!(
        confirmed.title.starts_with("Approval needed"),
        "{}",
        confirmed.to_plain_text()
    );
    assert_eq!(confirmed.buttons[0].command, format!("approve {id}"));
    assert!(
        bot.runtime.actions().is_empty(),
        "waits for a second person"
    );

    let self_approval = bot.say("operator", &format!("approve {id}")).await;
    assert_eq!(self_approval.title, "Not allowed");
    assert!(
        self_approval
            .to_plain_text()
            .contains("cannot approve your own request")
    );

    let not_an_approver = bot.say("auditor", &format!("approve {id}")).await;
    assert_eq!(not_an_approver.title, "Not allowed");
    assert!(
        not_an_approver
            .to_plain_text()
            .contains("needs role approver or admin"),
        "{}",
        not_an_approver.to_plain_text()
    );
    assert!(bot.runtime.actions().is_empty());

    let approved = bot.say("lead", &format!("approve {id}")).await;
    assert_eq!(
        approved.status,
        Status::Success,
        "{}",
        approved.to_plain_text()
    );
    assert!(
        approved
            .to_plain_text()
            .contains("Approved by lead for operator")
    );
    assert_eq!(bot.runtime.actions(), vec!["restart wrkhrs-rag"]);

    let twice = bot.say("lead", &format!("approve {id}")).await;
    assert!(twice.title.contains("already done"));
    assert_eq!(bot.runtime.actions().len(), 1);

    // The execution is audited as the requester's, with the approver named.
    let audit = bot
        .say("lead", "audit --command restart")
        .await
        .to_plain_text();
    assert!(audit.contains("console:operator in console `restart wrkhrs-rag` → allowed / ok [wrkhrs-rag@prod] approved by console:lead"), "{audit}");

    // Deny: a second request refused by the approver never runs.
    let id = request_id(&bot.say("operator", "restart wrkhrs-gateway").await);
    bot.say("operator", &format!("confirm {id}")).await;
    let refused = bot.say("lead", &format!("deny {id}")).await;
    assert!(
        refused.title.starts_with("Refused"),
        "{}",
        refused.to_plain_text()
    );
    assert_eq!(bot.runtime.actions().len(), 1);
    let audit = bot.say("lead", "audit --decision rejected").await;
    assert_eq!(audit.lines.len(), 1, "{}", audit.to_plain_text());
});

on_both_backends!(
    expired_requests_cannot_be_confirmed_or_approved,
    SHORT_WINDOWS,
    |bot| {
        let id = request_id(
            &bot.say("operator", "restart ai-orchestration-staging")
                .await,
        );
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        let late = bot.say("operator", &format!("confirm {id}")).await;
        assert!(
            late.title.contains("has expired"),
            "{}",
            late.to_plain_text()
        );

        let id = request_id(&bot.say("operator", "restart wrkhrs-rag").await);
        let waiting = bot.say("operator", &format!("confirm {id}")).await;
        assert!(
            waiting.title.starts_with("Approval needed"),
            "{}",
            waiting.to_plain_text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        let late = bot.say("lead", &format!("approve {id}")).await;
        assert!(
            late.title.contains("has expired"),
            "{}",
            late.to_plain_text()
        );
        let after = bot.say("lead", &format!("approve {id}")).await;
        assert!(
            after.title.contains("already expired"),
            "{}",
            after.to_plain_text()
        );

        assert!(
            bot.runtime.actions().is_empty(),
            "expired requests never run"
        );
        let audit = bot.say("operator", "audit --decision expired").await;
        assert_eq!(audit.lines.len(), 2, "{}", audit.to_plain_text());
    }
);

on_both_backends!(
    abandoned_requests_are_swept_and_audited_as_expired,
    SHORT_WINDOWS,
    |bot| {
        let id = request_id(
            &bot.say("operator", "restart ai-orchestration-staging")
                .await,
        );
        assert_eq!(
            bot.app.engine.expire_abandoned().await.unwrap(),
            0,
            "not due yet"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        assert_eq!(bot.app.engine.expire_abandoned().await.unwrap(), 1);
        assert_eq!(
            bot.app.engine.expire_abandoned().await.unwrap(),
            0,
            "expired once only"
        );
        let audit = bot
            .say("operator", "audit --decision expired")
            .await
            .to_plain_text();
        assert!(
            audit.contains(&format!("request {id} expired waiting for confirmation")),
            "{audit}"
        );
        let late = bot.say("operator", &format!("confirm {id}")).await;
        assert!(
            late.title.contains("already expired"),
            "{}",
            late.to_plain_text()
        );
        assert!(bot.runtime.actions().is_empty());
    }
);

on_both_backends!(secrets_typed_into_commands_are_redacted, EXAMPLE, |bot| {
    bot.runtime
        .set_logs(vec![opsbot_commands::context::LogChunk {
            source: "rag-1".into(),
            lines: vec![
                "INFO calling with sk-test-1234567890abcdef".into(),
                "WARN sk-test-1234567890abcdef rate limited".into(),
                "ERROR sk-test-1234567890abcdef rejected".into(),
            ],
        }]);
    // Grepping for the key, or a piece of it, matches nothing: the text is redacted first.
    for probe in ["sk-test-1234567890abcdef", "sk-test-9", "sk-test-1"] {
        let logs = bot
            .say("operator", &format!("logs wrkhrs-rag --grep {probe}"))
            .await;
        assert!(
            logs.title.starts_with("No log lines of wrkhrs-rag"),
            "{probe}: {}",
            logs.to_plain_text()
        );
    }
    bot.say(
        "operator",
        "incident note 1 my key is sk-live-abcdefghijklmnop1234",
    )
    .await;
    let audit = bot
        .say("operator", "audit --limit 10")
        .await
        .to_plain_text();
    assert!(
        !audit.contains("1234567890abcdef") && !audit.contains("abcdefghijklmnop1234"),
        "{audit}"
    );
    assert!(
        audit.contains("`logs wrkhrs-rag --grep sk-[redacted]`"),
        "{audit}"
    );
    assert!(
        audit.contains("`incident note 1 my key is sk-[redacted]`"),
        "{audit}"
    );
    let report = opsbot::audit::verify(&bot.app.store).await.unwrap();
    assert!(report.is_ok(), "{report}");
});

/// Runs `script` through the console loop as `operator` and returns what it printed.
async fn console_output(bot: &support::TestBot, script: &str) -> String {
    use tokio::io::AsyncReadExt as _;
    let identity = opsbot::console::ConsoleIdentity {
        user: "operator".into(),
        display_name: "Console operator".into(),
        channel: "console".into(),
        image_dir: std::env::temp_dir(),
    };
    let (writer, mut reader) = tokio::io::duplex(1 << 16);
    let responder = opsbot::console::Responder::new(bot.app.engine.clone(), identity);
    let input = script.as_bytes().to_vec();
    let run = tokio::spawn(async move {
        responder
            .run(std::io::Cursor::new(input), writer, false)
            .await
    });
    let mut printed = String::new();
    reader.read_to_string(&mut printed).await.unwrap();
    run.await.unwrap().unwrap();
    printed
}

// A script piped into the console: its commands are pipelined (the next one does not wait
// for the previous one's audit fsync), yet every reply is printed, in order, and every
// command is recorded; `restart` (it asks for a confirmation) and `audit` wait for the
// records before them, so the audit shows every command of the script.
on_both_backends!(a_console_stream_is_pipelined_in_order, EXAMPLE, |bot| {
    const LINES: usize = 120;
    let mut script = String::new();
    for n in 0..LINES {
        // Unparsable text is audited and answered too; its reply names the line.
        if n % 3 == 2 {
            script.push_str(&format!("frobnicate{n}\n"));
        } else {
            script.push_str("whoami\n");
        }
    }
    script.push_str("restart wrkhrs-rag\naudit --limit 3\n");
    let printed = console_output(bot, &script).await;
    // Every reply, in the order of the script.
    let mut rest = printed.as_str();
    for n in 0..LINES {
        let expected = if n % 3 == 2 {
            format!("frobnicate{n}")
        } else {
            "You are Console operator (console:operator)".to_string()
        };
        let at = rest
            .find(&expected)
            .unwrap_or_else(|| panic!("reply {n} ({expected}) missing or out of order: {printed}"));
        rest = &rest[at + expected.len()..];
    }
    let confirm = rest
        .find("confirm ")
        .expect("restart asks for a confirmation");
    let audit = rest[confirm..]
        .find("`restart wrkhrs-rag`")
        .expect("the audit shows the restart before it");
    assert!(
        rest[confirm + audit..].contains("frobnicate119"),
        "the audit shows the last pipelined command: {printed}"
    );
    // One record per line of the script, in order.
    let entries = opsbot::audit::AuditLog::new(bot.app.store.clone())
        .entries(0, 1000)
        .await
        .unwrap();
    let texts: Vec<&str> = entries.iter().map(|e| e.record.text.as_str()).collect();
    assert_eq!(texts.len(), LINES + 2, "{texts:?}");
    assert_eq!(texts[2], "frobnicate2");
    assert_eq!(texts[LINES], "restart wrkhrs-rag");
});
