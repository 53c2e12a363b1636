//! The web console over HTTP (issue 16), on SQLite and PostgreSQL: signing in with a link
//! the console `web` command issued (once: a reused, forged or malformed link is refused),
//! the session cookie's attributes, the incidents and incident pages, acknowledging from
//! the page through the engine (audited as platform `web`), CSRF refusals, the pages each
//! role may see, the services pages (last health and cost results from the audit, budgets,
//! rollout history, revisions known good), `[web] enabled = false`, and 503 while the
//! store is down.
//! `web_browser.rs` drives the same console in a real Chromium.

mod web_support;

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use opsbot_commands::context::Revision;
use opsbot_fakes::RecordingRuntime;
use web_support::{
    Backend, GUEST, LEAD, RESPONDER, VIEWER, WebBot, config_text, services_config_text,
};

const PUBLIC_URL: &str = "http://opsbot.test";

/// The path and token of a sign-in link.
fn token_of(link: &str) -> String {
    link.strip_prefix(&format!("{PUBLIC_URL}/ui/signin/"))
        .unwrap_or_else(|| panic!("{link} is not under the public URL"))
        .to_string()
}

fn form_post(path: &str, cookie: Option<&str>, body: String) -> Request<Body> {
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(body)).unwrap()
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

/// The session's CSRF token, from a page's forms.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("the page has a form")
        + 19;
    page[at..at + 64].to_string()
}

/// Signs `user` in through a fresh link; the `name=value` cookie to send back.
async fn sign_in(bot: &WebBot, user: &str) -> String {
    let link = bot.link(user).await;
    let token = token_of(&link);
    // Opening the link only shows a button: a link preview cannot use it up.
    let (status, _, page) = bot
        .send(
            Request::get(format!("/ui/signin/{token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Sign in"), "{page}");
    let (status, headers, body) = bot
        .send(form_post("/ui/signin", None, format!("token={token}")))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers[header::LOCATION], "/ui/");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=43200"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    // http:// public URL: not Secure (a browser would drop it on plain HTTP).
    assert!(!cookie.contains("Secure"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

async fn each_backend(test: &str, body: impl AsyncFn(WebBot)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(bot) = WebBot::start(backend, &config_text(PUBLIC_URL, ""), test).await else {
            continue;
        };
        body(bot).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_signs_in_lists_opens_and_acknowledges_an_incident_audited_as_web() {
    each_backend("web_acknowledge", async |bot: WebBot| {
        bot.alert("GatewayDown").await;
        let cookie = sign_in(&bot, LEAD).await;

        let (status, headers, _) = bot.send(get("/ui/", &cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/ui/incidents");
        let (status, headers, list) = bot.send(get("/ui/incidents", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert!(
            list.contains("GatewayDown") && list.contains("href=\"/ui/incidents/1\""),
            "{list}"
        );
        assert!(
            list.contains("href=\"/ui/audit\""),
            "a lead sees the audit page: {list}"
        );
        let (_, _, filtered) = bot
            .send(get("/ui/incidents?status=resolved", &cookie))
            .await;
        assert!(!filtered.contains("GatewayDown"), "{filtered}");
        let (status, _, bad) = bot
            .send(get("/ui/incidents?since=yesterday", &cookie))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(bad.contains("`yesterday`"), "{bad}");

        let (status, _, page) = bot.send(get("/ui/incidents/1", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("id=\"action-ack\"")
                && page.contains("data-events=\"/ui/incidents/1/events\""),
            "{page}"
        );
        let csrf = csrf_of(&page);
        let (status, _, acked) = bot
            .send(form_post(
                "/ui/incidents/1/ack",
                Some(&cookie),
                format!("csrf={csrf}"),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{acked}");
        assert!(acked.contains("id=\"result\""), "{acked}");
        assert!(acked.contains("id=\"acknowledged-by\""), "{acked}");
        assert_eq!(bot.incident_status(1).await, "acknowledged");

        let audited = bot.audited("incident").await;
        let entry = audited
            .iter()
            .find(|e| e.text == "incident ack 1")
            .expect("the ack is audited");
        assert_eq!(entry.platform, "web");
        assert_eq!(entry.actor_id, "console:lead");
        assert_eq!(entry.channel, "web");
        assert_eq!(
            (entry.decision.as_str(), entry.status.as_str()),
            ("allowed", "ok")
        );
        // The incident page and the audit search show it.
        assert!(acked.contains("incident ack 1"), "{acked}");
        let (status, _, audit) = bot
            .send(get(
                "/ui/audit?command=incident&decision=allowed&since=1h",
                &cookie,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        assert!(audit.contains("incident ack 1"), "{audit}");
        let (status, _, verified) = bot.send(get("/ui/audit/verify", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(verified.contains("audit chain OK"), "{verified}");
        let (status, headers, export) = bot.send(get("/ui/audit/export.jsonl", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        let lines: Vec<serde_json::Value> = export
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l["text"] == "incident ack 1" && l["platform"] == "web"),
            "{export}"
        );

        // A note, then signing out ends the session.
        let (status, _, noted) = bot
            .send(form_post(
                "/ui/incidents/1/note",
                Some(&cookie),
                format!("csrf={csrf}&text=rolled+back"),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{noted}");
        assert!(noted.contains("rolled back"), "{noted}");

        // The page's timeline is the incident's record: the alert, the acknowledgement
        // as an audited command (with its audit entry), the note; and its postmortem draft
        // downloads as Markdown.
        let (_, _, page) = bot.send(get("/ui/incidents/1", &cookie)).await;
        let timeline = &page[page.find("id=\"timeline\"").expect("a timeline")..];
        assert!(timeline.contains("GatewayDown"), "{timeline}");
        assert!(
            timeline.contains("incident ack 1") && timeline.contains("(audit #"),
            "{timeline}"
        );
        assert!(timeline.contains("rolled back"), "{timeline}");
        assert!(
            page.contains("href=\"/ui/incidents/1/postmortem.md\""),
            "{page}"
        );
        let (status, headers, draft) = bot
            .send(get("/ui/incidents/1/postmortem.md", &cookie))
            .await;
        assert_eq!(status, StatusCode::OK, "{draft}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/markdown")
        );
        assert!(
            headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("incident-1-postmortem.md")
        );
        assert!(
            draft.starts_with('#') && draft.contains("GatewayDown"),
            "{draft}"
        );
        let (status, _, _) = bot.send(get("/ui/incidents/1/other.md", &cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = bot
            .send(form_post(
                "/ui/signout",
                Some(&cookie),
                format!("csrf={csrf}"),
            ))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = bot.send(get("/ui/incidents", &cookie)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        bot.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_forged_and_malformed_links_are_refused() {
    each_backend("web_links", async |bot: WebBot| {
        let link = bot.link(LEAD).await;
        let token = token_of(&link);
        let (status, _, _) = bot
            .send(form_post("/ui/signin", None, format!("token={token}")))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, headers, page) = bot
            .send(form_post("/ui/signin", None, format!("token={token}")))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a reused link: {page}");
        assert!(headers.get(header::SET_COOKIE).is_none());
        assert!(page.contains("not valid"), "{page}");
        let forged = "ab".repeat(32);
        let (status, _, _) = bot
            .send(form_post("/ui/signin", None, format!("token={forged}")))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a forged link");
        let (status, _, page) = bot
            .send(
                Request::get("/ui/signin/not-a-token")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        // No session at all, or a made-up one.
        let (status, _, page) = bot
            .send(Request::get("/ui/incidents").body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("type `web` in chat"), "{page}");
        let (status, _, _) = bot
            .send(get("/ui/incidents", &format!("opsbot_session={forged}")))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        bot.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_sessions_csrf_token_is_refused_and_runs_nothing() {
    each_backend("web_csrf", async |bot: WebBot| {
        bot.alert("GatewayDown").await;
        let cookie = sign_in(&bot, LEAD).await;
        let other = sign_in(&bot, RESPONDER).await;
        let (_, _, other_page) = bot.send(get("/ui/incidents/1", &other)).await;
        let others_csrf = csrf_of(&other_page);
        for body in [
            String::new(),
            "csrf=".to_string(),
            format!("csrf={others_csrf}"),
        ] {
            let (status, _, page) = bot
                .send(form_post(
                    "/ui/incidents/1/ack",
                    Some(&cookie),
                    body.clone(),
                ))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}: {page}");
            assert!(page.contains("CSRF"), "{page}");
        }
        assert_eq!(bot.incident_status(1).await, "open");
        assert!(
            bot.audited("incident").await.is_empty(),
            "nothing ran, nothing audited"
        );
        bot.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_identity_sees_and_does_only_what_its_roles_allow() {
    each_backend("web_rbac", async |bot: WebBot| {
        bot.alert("GatewayDown").await;
        // `incident` without `audit`: incidents yes, audit no (not even on the incident page).
        let responder = sign_in(&bot, RESPONDER).await;
        let (status, _, page) = bot.send(get("/ui/incidents/1", &responder)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !page.contains("href=\"/ui/audit\"") && !page.contains("<h2>Audit</h2>"),
            "{page}"
        );
        for path in ["/ui/audit", "/ui/audit/verify", "/ui/audit/export.jsonl"] {
            let (status, _, page) = bot.send(get(path, &responder)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
            assert!(page.contains("no role that allows `audit`"), "{page}");
        }
        // `incident` without `runbook`: statistics yes, runbook runs no.
        assert!(!page.contains("href=\"/ui/runbooks\""), "{page}");
        let (status, _, _) = bot.send(get("/ui/stats", &responder)).await;
        assert_eq!(status, StatusCode::OK);
        for path in ["/ui/runbooks", "/ui/runbooks/1"] {
            let (status, _, page) = bot.send(get(path, &responder)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
            assert!(page.contains("no role that allows `runbook`"), "{page}");
        }
        // No role at all: no page; an action is denied by the engine, and audited.
        let guest = sign_in(&bot, GUEST).await;
        let (status, _, home) = bot.send(get("/ui/", &guest)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(home.contains("no page"), "{home}");
        for path in ["/ui/incidents", "/ui/stats", "/ui/stats/chart.png"] {
            let (status, _, _) = bot.send(get(path, &guest)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
        let csrf = csrf_of(&home);
        let (status, _, _) = bot
            .send(form_post(
                "/ui/incidents/1/ack",
                Some(&guest),
                format!("csrf={csrf}"),
            ))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(bot.incident_status(1).await, "open");
        let denied = bot.audited("incident").await;
        assert_eq!(denied.len(), 1, "{denied:?}");
        assert_eq!(
            (denied[0].decision.as_str(), denied[0].actor_id.as_str()),
            ("denied", "console:guest")
        );
        bot.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_reads_incident_statistics_with_their_chart_and_the_runbook_runs() {
    each_backend("web_stats_runs", async |bot: WebBot| {
        bot.alert("GatewayDown").await;
        bot.alert("GatewayLatency").await;
        let cookie = sign_in(&bot, LEAD).await;

        let (status, _, page) = bot.send(get("/ui/stats", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("<strong id=\"count\">2</strong> incidents"),
            "{page}"
        );
        assert!(page.contains("<td>gateway</td><td>2</td>"), "{page}");
        assert!(
            page.contains("GatewayDown") && page.contains("GatewayLatency"),
            "{page}"
        );
        assert!(page.contains("src=\"/ui/stats/chart.png?\""), "{page}");
        let (status, headers, png) = bot.send(get("/ui/stats/chart.png", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "image/png");
        assert!(png.starts_with("\u{FFFD}PNG"), "not a PNG");
        // Another service's statistics: none of these incidents, and no chart.
        let (status, _, page) = bot.send(get("/ui/stats?service=ollama", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("<strong id=\"count\">0</strong> incidents"),
            "{page}"
        );
        assert!(!page.contains("chart.png"), "{page}");
        let (status, _, _) = bot
            .send(get("/ui/stats/chart.png?service=ollama", &cookie))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, page) = bot.send(get("/ui/stats?since=yesterday", &cookie)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("`yesterday`"), "{page}");

        let (status, _, page) = bot.send(get("/ui/runbooks", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("No runbook has run yet."), "{page}");
        let run = bot.insert_runbook_run("restart-gateway").await;
        let (status, _, page) = bot.send(get("/ui/runbooks", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains(&format!("href=\"/ui/runbooks/{run}\"")),
            "{page}"
        );
        assert!(
            page.contains("restart-gateway") && page.contains("service=gateway"),
            "{page}"
        );
        let (status, _, page) = bot.send(get(&format!("/ui/runbooks/{run}"), &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for part in [
            "Run 1 of restart-gateway",
            "restart gateway",
            "health gateway",
            "(rollback)",
            "pending",
        ] {
            assert!(page.contains(part), "{part}: {page}");
        }
        let (status, _, page) = bot.send(get("/ui/runbooks/99", &cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("no runbook run 99"), "{page}");
        bot.stop().await;
    })
    .await;
}

/// Like `each_backend`, on [`services_config_text`], with a runtime whose rollout history
/// names its revisions (so a revision that passes the health gate is recorded as known
/// good): revision 7 (`payments-7d9f`) runs, 6 came before.
async fn each_backend_with_services(test: &str, body: impl AsyncFn(WebBot)) {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let revision = |number: i64, current: bool| Revision {
            number,
            id: Some(format!("payments-{number}d9f")),
            images: vec![format!("registry.example/payments:1.{number}")],
            created: None,
            change_cause: None,
            current,
        };
        let runtime = RecordingRuntime::default()
            .with_history(Ok(vec![revision(6, false), revision(7, true)]));
        let text = services_config_text(PUBLIC_URL);
        let Some(bot) = WebBot::start_with(backend, &text, test, runtime).await else {
            continue;
        };
        body(bot).await;
    }
}

/// `text` as maud writes it in a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The part of `page` from the element with `id` to the end of its table row, list or
/// table (the first closing tag of `end` after it).
fn element<'a>(page: &'a str, id: &str, end: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[start..];
    let stop = rest
        .find(&format!("</{end}>"))
        .unwrap_or_else(|| panic!("#{id} has no </{end}>: {rest}"));
    &rest[..stop]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_sees_services_with_their_last_health_budget_and_rollout_history() {
    each_backend_with_services("web_services", async |bot: WebBot| {
        bot.alert("GatewayDown").await;
        let health = bot.say(LEAD, "health payments").await;
        assert!(!health.title.is_empty(), "{}", health.to_plain_text());
        bot.say(LEAD, "cost payments").await;
        let restarted = bot.say_confirmed(LEAD, "restart payments").await;
        assert!(
            restarted.to_plain_text().contains("checks pass"),
            "the health gate ran: {}",
            restarted.to_plain_text()
        );
        bot.say_confirmed(LEAD, "rollback payments").await;
        bot.say(LEAD, "rollback payments --list").await;
        // Scaling needs a second person: the lead asks and confirms, the responder approves.
        let asked = bot.say_confirmed(LEAD, "scale payments 3").await;
        let approve = asked
            .buttons
            .iter()
            .find(|b| b.command.starts_with("approve "))
            .unwrap_or_else(|| panic!("no approval asked: {}", asked.to_plain_text()))
            .command
            .clone();
        bot.say(RESPONDER, &approve).await;

        let health_entry = bot.audited("health").await.remove(0);
        let cost_entry = bot.audited("cost").await.remove(0);
        assert_eq!(health_entry.service.as_deref(), Some("payments"));
        let cookie = sign_in(&bot, LEAD).await;

        let (status, headers, list) = bot.send(get("/ui/services", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(list.contains("href=\"/ui/services\""), "nav link: {list}");
        let payments = element(&list, "service-payments", "tr");
        for part in [
            "href=\"/ui/services/payments\"",
            "<td>prod</td>",
            "<td>kubernetes</td>",
            &escaped(&health_entry.summary),
            "lead (lead) · allowed · ok",
            "$100.00 a month, $5.00 a day (warn at 80%, critical at 95%)",
            &escaped(&cost_entry.summary),
        ] {
            assert!(payments.contains(part), "{part}: {payments}");
        }
        let gateway = element(&list, "service-gateway", "tr");
        for part in [
            "none in 30d",
            "no budget",
            "<a href=\"/ui/incidents?service=gateway\">1</a>",
        ] {
            assert!(gateway.contains(part), "{part}: {gateway}");
        }
        assert!(
            payments.contains("<a href=\"/ui/incidents?service=payments\">0</a>"),
            "{payments}"
        );

        let (status, _, page) = bot.send(get("/ui/services/payments", &cookie)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            element(&page, "last-health", "div").contains(&escaped(&health_entry.summary)),
            "{page}"
        );
        assert!(
            element(&page, "budget", "div").contains("$100.00 a month"),
            "{page}"
        );
        let rollouts = element(&page, "rollouts", "table");
        let at = |text: &str| {
            rollouts
                .find(&format!("<code>{text}</code>"))
                .unwrap_or_else(|| panic!("{text} is not in the rollout history: {rollouts}"))
        };
        // Newest first: the scale, then the rollback, then the restart, each asked then
        // confirmed; listing the history is not a rollout.
        assert!(
            at("scale payments 3") < at("rollback payments"),
            "{rollouts}"
        );
        assert!(
            at("rollback payments") < at("restart payments"),
            "{rollouts}"
        );
        assert!(!rollouts.contains("--list"), "{rollouts}");
        // The run the responder approved names them.
        assert!(
            rollouts
                .contains("allowed<span class=\"muted approver\"> approved by console:responder"),
            "the approver: {rollouts}"
        );
        for decision in ["pending", "allowed"] {
            assert!(
                rollouts.contains(&format!("<td>{decision}")),
                "{decision}: {rollouts}"
            );
        }
        let known_good = element(&page, "known-good", "table");
        assert!(
            known_good.contains("<code>payments-7d9f</code>")
                && known_good.contains("registry.example/payments:1.7")
                && known_good.contains("<td>7</td>")
                && known_good.contains("<td>lead</td>"),
            "{known_good}"
        );
        let (_, _, gateway) = bot.send(get("/ui/services/gateway", &cookie)).await;
        assert!(
            element(&gateway, "open-incidents", "td").contains(">1</a>"),
            "{gateway}"
        );
        assert!(
            element(&gateway, "rollouts", "p").contains("No restart, rollback or scale"),
            "{gateway}"
        );

        let (status, _, missing) = bot.send(get("/ui/services/paymnts", &cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        let known = element(&missing, "known", "ul");
        assert!(
            known.contains("href=\"/ui/services/gateway\"")
                && known.contains("href=\"/ui/services/payments\""),
            "{missing}"
        );
        let (status, _, bad) = bot.send(get("/ui/services?since=yesterday", &cookie)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(bad.contains("`yesterday`"), "{bad}");
        // A window the entries are not in.
        let future = "2999-01-01T00:00:00Z";
        let (_, _, later) = bot
            .send(get(&format!("/ui/services?since={future}"), &cookie))
            .await;
        assert!(
            element(&later, "service-payments", "tr").contains(&format!("none in {future}")),
            "{later}"
        );
        bot.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_pages_show_each_identity_only_what_its_roles_allow() {
    each_backend_with_services("web_services_rbac", async |bot: WebBot| {
        bot.say(LEAD, "health payments").await;
        bot.say_confirmed(LEAD, "restart payments").await;
        let health_entry = bot.audited("health").await.remove(0);

        // `incident` (and approving a scale) without `services`: no page, known or not.
        let responder = sign_in(&bot, RESPONDER).await;
        let (_, _, incidents) = bot.send(get("/ui/incidents", &responder)).await;
        assert!(!incidents.contains("href=\"/ui/services\""), "{incidents}");
        for path in ["/ui/services", "/ui/services/payments", "/ui/services/nope"] {
            let (status, _, page) = bot.send(get(path, &responder)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {page}");
            assert!(page.contains("no role that allows `services`"), "{page}");
        }
        let guest = sign_in(&bot, GUEST).await;
        let (status, _, _) = bot.send(get("/ui/services", &guest)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // `services` only: the catalog, without what the audit log, the budget or the
        // incidents would tell.
        let viewer = sign_in(&bot, VIEWER).await;
        let (status, _, home) = bot.send(get("/ui/", &viewer)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(home.contains("href=\"/ui/services\""), "{home}");
        let (status, _, list) = bot.send(get("/ui/services", &viewer)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let payments = element(&list, "service-payments", "tr");
        assert!(payments.contains("<td>kubernetes</td>"), "{payments}");
        assert!(
            payments.contains("budget: needs `cost` on payments"),
            "{payments}"
        );
        for hidden in [
            escaped(&health_entry.summary),
            "$100.00".into(),
            "console:lead".into(),
            "/ui/incidents?service=".into(),
        ] {
            assert!(!list.contains(&hidden), "{hidden}: {list}");
        }
        assert!(!list.contains("href=\"/ui/audit\""), "{list}");
        let (status, _, page) = bot.send(get("/ui/services/payments", &viewer)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for hidden in [
            "id=\"last-health\"",
            "id=\"rollouts\"",
            "id=\"known-good\"",
            "id=\"open-incidents\"",
            "restart payments",
        ] {
            assert!(!page.contains(hidden), "{hidden}: {page}");
        }
        // The lead sees the restart on the same page.
        let lead = sign_in(&bot, LEAD).await;
        let (_, _, page) = bot.send(get("/ui/services/payments", &lead)).await;
        assert!(
            element(&page, "rollouts", "table").contains("restart payments"),
            "{page}"
        );
        bot.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_false_turns_every_route_and_the_command_off() {
    let text = config_text(PUBLIC_URL, "enabled = false");
    let bot = WebBot::start(Backend::Sqlite, &text, "web_off")
        .await
        .unwrap();
    let reply = bot.say(LEAD, "web").await;
    assert!(
        reply.to_plain_text().contains("turned off"),
        "{}",
        reply.to_plain_text()
    );
    for path in ["/ui/", "/ui/incidents", "/ui/signin/abc"] {
        let (status, _, _) = bot
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_503_with_retry_after_while_the_store_is_down() {
    let bot = WebBot::start(Backend::Sqlite, &config_text(PUBLIC_URL, ""), "web_503")
        .await
        .unwrap();
    let cookie = sign_in(&bot, LEAD).await;
    bot.app.store.close().await;
    let (status, headers, page) = bot.send(get("/ui/incidents", &cookie)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{page}");
    assert_eq!(headers[header::RETRY_AFTER], "5");
    bot.stop().await;
}
