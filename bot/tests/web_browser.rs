//! The web console in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over the W3C WebDriver protocol: `web_support::webdriver`): sign in through a link the
//! console `web` command issued, list incidents, open one, acknowledge it and see the
//! acknowledgement on the page and as an audit entry; a note typed in chat appears on the
//! open page by itself (server-sent events); a reused or forged link and a form without
//! its CSRF token are refused; a user without `audit` gets no audit page.
//!
//! Without `chromedriver` on PATH the test is skipped with a message, except under
//! `CI=true`, where it fails. On failure a screenshot is saved under
//! `target/web-browser/` and the page's text printed.

mod web_support;

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener as StdListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use web_support::{Backend, LEAD, RESPONDER, WebBot, config_text, webdriver::Browser};

/// How long anything may take to appear (a bound for a hung test, not a measurement).
const WAIT: Duration = Duration::from_secs(30);

type Step = Result<(), String>;

/// `chromedriver` on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver, or says why it cannot (skip, or fail under CI).
fn start_driver() -> Option<Driver> {
    let port = free_port();
    match Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => Some(Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }),
        Err(error) => {
            let why = format!(
                "chromedriver cannot start ({error}): apt-get install -y chromium chromium-driver"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{why}");
            }
            eprintln!("skipping the browser test: {why}");
            None
        }
    }
}

/// A Chromium session, retrying while chromedriver starts listening.
async fn connect(driver: &Driver) -> Browser {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match Browser::start(&driver.url).await {
            Ok(browser) => return browser,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("cannot start a Chromium session: {error}"),
        }
    }
}

/// Serves `bot`'s router on `listener` (the real HTTP server, as `opsbot serve` does).
fn serve(bot: &WebBot, listener: tokio::net::TcpListener) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    bot.app.spawn_http_server(&bot.config, listener, async {
        let _ = stopped.await;
    });
    stop
}

/// The text of the element `css`, waiting for it to exist.
async fn text(browser: &Browser, css: &str) -> Result<String, String> {
    let element = browser.wait_for(css, WAIT).await?;
    browser.text(&element).await
}

async fn click(browser: &Browser, css: &str) -> Step {
    let element = browser.wait_for(css, WAIT).await?;
    browser.click(&element).await
}

/// Waits until the text of `css` contains `wanted` (the page may change meanwhile).
async fn until_text(browser: &Browser, css: &str, wanted: &str) -> Step {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = text(browser, css).await.unwrap_or_default();
        if found.contains(wanted) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "`{css}` never showed `{wanted}`; it shows: {found}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn body_text(browser: &Browser) -> String {
    text(browser, "body").await.unwrap_or_default()
}

/// Opens a sign-in link and presses "Sign in".
async fn sign_in_with(browser: &Browser, link: &str) -> Step {
    browser.goto(link).await?;
    click(browser, "#sign-in").await
}

async fn journey(browser: &Browser, bot: &WebBot, base: &str) -> Step {
    // The lead asks for a link in chat (the console) and signs in.
    let link = bot.link(LEAD).await;
    if !link.starts_with(base) {
        return Err(format!("the link {link} is not under {base}"));
    }
    sign_in_with(browser, &link).await?;
    until_text(browser, "#incidents", "GatewayDown").await?;
    if !body_text(browser)
        .await
        .contains("Signed in as console:lead")
    {
        return Err("the page does not say who is signed in".into());
    }

    // Opens the incident, acknowledges it, sees it on the page.
    click(browser, "#incidents a[href='/ui/incidents/1']").await?;
    until_text(browser, "#status", "open").await?;
    click(browser, "#action-ack").await?;
    until_text(browser, "#result", "").await?;
    until_text(browser, "#status", "acknowledged").await?;
    until_text(browser, "#acknowledged-by", "lead").await?;
    until_text(browser, "#live", "incident ack 1").await?;
    let audited = bot.audited("incident").await;
    if !audited
        .iter()
        .any(|e| e.text == "incident ack 1" && e.platform == "web" && e.actor_id == "console:lead")
    {
        return Err(format!(
            "the acknowledgement is not audited as web: {audited:?}"
        ));
    }

    // Live: a note typed in chat shows on the open page without a reload.
    browser.execute("window.stayedOnPage = true;").await?;
    let noted = bot
        .say(LEAD, "incident note 1 cache flushed from chat")
        .await;
    until_text(browser, "#timeline", "cache flushed from chat")
        .await
        .map_err(|e| format!("{e} (the note: {})", noted.to_plain_text()))?;
    let stayed = browser
        .execute("return window.stayedOnPage === true;")
        .await?;
    if stayed != serde_json::Value::Bool(true) {
        return Err("the page reloaded instead of updating live".into());
    }

    // A form without its CSRF token is refused, and nothing runs.
    browser
        .execute("document.querySelectorAll('.actions input[name=csrf]').forEach(e => e.remove());")
        .await?;
    click(browser, "#action-resolve").await?;
    until_text(browser, "main", "CSRF").await?;
    if bot.incident_status(1).await != "acknowledged" {
        return Err("a POST without the CSRF token changed the incident".into());
    }

    // The audit page lists the acknowledgement.
    browser
        .goto(&format!("{base}/ui/audit?command=incident"))
        .await?;
    until_text(browser, "table.audit", "incident ack 1").await?;

    // The used link is refused; so is a forged one.
    sign_in_with(browser, &link).await?;
    until_text(browser, "main", "not valid").await?;
    sign_in_with(browser, &format!("{base}/ui/signin/{}", "0f".repeat(32))).await?;
    until_text(browser, "main", "not valid").await?;

    // A responder (no `audit`) gets no audit page and no link to it.
    browser.delete_cookies().await?;
    sign_in_with(browser, &bot.link(RESPONDER).await).await?;
    until_text(browser, "#incidents", "GatewayDown").await?;
    if browser.find("nav a[href='/ui/audit']").await?.is_some() {
        return Err("a responder sees the audit link".into());
    }
    browser.goto(&format!("{base}/ui/audit")).await?;
    until_text(browser, "main", "no role that allows `audit`").await?;
    Ok(())
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("web-browser")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_acknowledge_and_refusals_in_a_real_browser() {
    let Some(driver) = start_driver() else {
        return;
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bot = WebBot::start(Backend::Sqlite, &config_text(&base, ""), "web_browser")
        .await
        .unwrap();
    let stop = serve(&bot, listener);
    bot.alert("GatewayDown").await;

    let browser = connect(&driver).await;
    let outcome = journey(&browser, &bot, &base).await;
    if outcome.is_err() {
        let dir = screenshot_dir();
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("sign_in_acknowledge_and_refusals.png");
        match browser.screenshot().await {
            Ok(png) => match std::fs::write(&file, png) {
                Ok(()) => eprintln!("screenshot: {}", file.display()),
                Err(error) => eprintln!("no screenshot ({}): {error}", file.display()),
            },
            Err(error) => eprintln!("no screenshot: {error}"),
        }
        eprintln!(
            "page {}:\n{}",
            browser.current_url().await.unwrap_or_default(),
            body_text(&browser).await
        );
    }
    browser.close().await;
    let _ = stop.send(());
    bot.stop().await;
    drop(driver);
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
