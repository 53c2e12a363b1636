//! A small client of the W3C WebDriver protocol (JSON over HTTP,
//! <https://www.w3.org/TR/webdriver2/>) for the browser test: a session in headless
//! Chromium through `chromedriver`, navigation, finding elements by CSS selector,
//! clicking, reading text, running a script, cookies and screenshots.
//!
//! Why not fantoccini: its `webdriver` dependency pulls in ICU's segmenter, whose derive
//! macros turn on syn's `fold` and `visit` features; with them every proc-macro of the
//! workspace, and so nearly every crate, is rebuilt. The protocol needs a dozen requests.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
}

/// A WebDriver error (`no such element`, a refused request) as text.
pub type WebDriverError = String;

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .map_err(|e| format!("{method} {url}: not JSON: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{method} {url}: {status}: {}",
            answer["value"]["message"].as_str().unwrap_or_default()
        ));
    }
    Ok(answer["value"].clone())
}

impl Browser {
    /// Starts headless Chromium through the chromedriver at `driver`
    /// (`http://127.0.0.1:PORT`).
    pub async fn start(driver: &str) -> Result<Browser, WebDriverError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,1000"]
                }
            }}
        });
        let value = call(
            &http,
            reqwest::Method::POST,
            &format!("{driver}/session"),
            Some(capabilities),
        )
        .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {value}"))?;
        Ok(Browser {
            http,
            session: format!("{driver}/session/{id}"),
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.session),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.session),
            None,
        )
        .await
    }

    pub async fn goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.post("/url", json!({ "url": url })).await.map(|_| ())
    }

    pub async fn current_url(&self) -> Result<String, WebDriverError> {
        Ok(self
            .get("/url")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The element `css` matches now, if any.
    pub async fn find(&self, css: &str) -> Result<Option<String>, WebDriverError> {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await?;
        Ok(found
            .as_array()
            .and_then(|all| all.first())
            .and_then(|element| element[ELEMENT].as_str())
            .map(str::to_string))
    }

    /// The element `css` matches, waiting up to `wait` for it.
    pub async fn wait_for(&self, css: &str, wait: Duration) -> Result<String, WebDriverError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(element) = self.find(css).await? {
                return Ok(element);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("no `{css}` within {wait:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, element: &str) -> Result<(), WebDriverError> {
        self.post(&format!("/element/{element}/click"), json!({}))
            .await
            .map(|_| ())
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &str) -> Result<String, WebDriverError> {
        Ok(self
            .get(&format!("/element/{element}/text"))
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Runs `script` (a function body) in the page; what it returns.
    pub async fn execute(&self, script: &str) -> Result<Value, WebDriverError> {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    pub async fn delete_cookies(&self) -> Result<(), WebDriverError> {
        call(
            &self.http,
            reqwest::Method::DELETE,
            &format!("{}/cookie", self.session),
            None,
        )
        .await
        .map(|_| ())
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, WebDriverError> {
        let encoded = self.get("/screenshot").await?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// Ends the session (closes the browser).
    pub async fn close(self) {
        let _ = call(&self.http, reqwest::Method::DELETE, &self.session, None).await;
    }
}
