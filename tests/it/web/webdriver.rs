//! A W3C WebDriver session on a headless Chromium (Debian's `chromium` and `chromium-driver`),
//! spoken over plain HTTP: navigate, run a script, click, resize, screenshot, read the console.

use super::http::{post_json, request, Answer};
use crate::util::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

/// Where Chromium and its driver are, if installed.
pub fn installed() -> Option<(String, String)> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join(n))
                .find(|p| p.is_file())
                .map(|p| p.display().to_string())
        })
    };
    Some((
        find(&["chromium", "chromium-browser"])?,
        find(&["chromedriver"])?,
    ))
}

fn ok(a: Answer, what: &str) -> Value {
    assert!(
        (200..300).contains(&a.status),
        "webdriver {what}: {} {}",
        a.status,
        a.body
    );
    a.json()["value"].clone()
}

impl Browser {
    pub fn start(chromium: &str, driver: &str) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        wait_for("chromedriver to be ready", || {
            request(port, "GET", "/status", &[])
                .ok()
                .filter(|a| a.json()["value"]["ready"] == true)
        });
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", "--window-size=1280,900", "--no-first-run"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let mut b = Browser {
            driver: child,
            port,
            session: String::new(),
        };
        let v = ok(post_json(port, "/session", &caps).unwrap(), "new session");
        b.session = v["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        ok(post_json(self.port, &path, &body).unwrap(), &path)
    }

    fn get(&self, path: &str) -> Value {
        let path = format!("/session/{}{path}", self.session);
        ok(request(self.port, "GET", &path, &[]).unwrap(), &path)
    }

    pub fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    /// Runs a script in the page and returns its value.
    pub fn eval(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    pub fn click(&self, css: &str) {
        let el = self.post("/element", json!({"using": "css selector", "value": css}));
        let id = el
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("an element id")
            .to_string();
        self.post(&format!("/element/{id}/click"), json!({}));
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}));
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = self.get("/screenshot");
        base64(b64.as_str().expect("base64 text"))
    }

    /// The console's errors since the last call (chromedriver's log endpoint).
    pub fn console_errors(&self) -> Vec<String> {
        self.post("/se/log", json!({"type": "browser"}))
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, c)| acc | u32::from(val(*c)) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64("aGVsbG8="), b"hello");
    assert_eq!(base64("aGk="), b"hi");
    assert_eq!(base64("YWJj"), b"abc");
}
