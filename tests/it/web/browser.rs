//! The status page in a real headless Chromium: it loads with no console error, a service that
//! freezes turns red and then green again without a reload, a post-mortem opens; screenshots at
//! desktop and phone widths go to docs/ for the README.

use super::http::get;
use super::webdriver::{installed, Browser};
use crate::util::*;

fn fleet() -> (Fleet, u16) {
    let port = free_port();
    let web = free_port();
    let toml = format!(
        r#"{DAEMON}http = "127.0.0.1:{port}"

[[service]]
name = "web"
log = "{{DIR}}/web/service.log"
grace = "1s"
recovery_window = "20s"
restart_budget = {{ max = 5, within = "1h" }}

[service.restart]
kind = "child"
command = ["{{AKASHIC}}", "demo-service", "--port", "{web}", "--log", "{{DIR}}/web/service.log", "--out", "{{DIR}}/web/out", "--every", "200ms", "--freeze-after", "0s", "--freeze-while", "{{DIR}}/freeze", "--freeze-once", "{{DIR}}/froze"]
stdout = "{{DIR}}/web/stdout.log"
stop_grace = "1s"

[[service.check]]
kind = "http"
url = "http://127.0.0.1:{web}/health"
timeout = "1s"

[[service.check]]
kind = "log_stale"
path = "{{DIR}}/web/service.log"
max_age = "2s"
interval = "1s"
failures = 4

[[service.check]]
kind = "artifact"
glob = "{{DIR}}/web/out/*.json"
max_age = "2s"
interval = "1s"
failures = 4
{api}
[[service]]
name = "nightly-report"
[service.restart]
kind = "child"
command = ["sleep", "600"]
[[service.check]]
kind = "port"
addr = "127.0.0.1:{port}"
"#,
        api = demo_service(
            "api",
            free_port(),
            "",
            "{ max = 3, within = \"1h\" }",
            "20s"
        ),
    );
    (Fleet::new(&toml), port)
}

/// The tone (ok, bad, wait) of a service's row as the page shows it now.
fn tone(b: &Browser, service: &str) -> String {
    b.eval(&format!(
        "const r = document.getElementById('svc-{service}'); return r ? r.className : '';"
    ))
    .as_str()
    .unwrap_or_default()
    .to_string()
}

#[test]
fn page_shows_a_freeze_turn_red_and_recover_without_reload() {
    let Some((chromium, driver)) = installed() else {
        eprintln!("SKIP web::browser: chromium and chromedriver are not installed (scripts/setup-web.sh installs them)");
        return;
    };
    let (mut f, port) = fleet();
    f.watch();
    wait_for("the web server", || {
        super::http::request(port, "GET", "/api/status", &[])
            .ok()
            .filter(|a| a.status == 200)
    });
    let b = Browser::start(&chromium, &driver);
    b.goto(&format!("http://127.0.0.1:{port}/"));
    assert_eq!(b.eval("return document.title"), "akashic");
    wait_for("web to show healthy", || {
        tone(&b, "web").contains("ok").then_some(())
    });
    assert_eq!(
        b.console_errors(),
        Vec::<String>::new(),
        "console errors on load"
    );
    // A mark a reload would wipe.
    b.eval("window.__notReloaded = true; return null;");

    std::fs::write(f.path("freeze"), "freeze\n").unwrap();
    wait_for("web to turn red on the page", || {
        tone(&b, "web").contains("bad").then_some(())
    });
    std::fs::remove_file(f.path("freeze")).unwrap();
    wait_for("web to turn green again on the page", || {
        tone(&b, "web").contains("ok").then_some(())
    });
    assert_eq!(
        b.eval("return window.__notReloaded === true"),
        true,
        "the page was reloaded"
    );

    // The post-mortem, once written, opens from the incident list.
    let inc = f.wait_incident("the freeze's post-mortem", |i| i["postmortem"].is_object());
    let id = inc["id"].as_str().unwrap().to_string();
    let category = inc["postmortem"]["category"].as_str().unwrap().to_string();
    wait_for("the incident on the page", || {
        (b.eval(&format!(
            "return !!document.querySelector('#inc-{id} pre.pm')"
        )) == true)
            .then_some(())
    });
    let visible = format!("return document.querySelector('#inc-{id} pre.pm').checkVisibility()");
    assert_eq!(b.eval(&visible), false, "closed before the click");
    b.click(&format!("#inc-{id} > summary"));
    let shown = b.eval(&format!(
        "const p = document.querySelector('#inc-{id} pre.pm'); return p.checkVisibility() ? p.innerText : '';"
    ));
    let shown = shown.as_str().unwrap_or_default();
    assert!(
        shown.contains(&category),
        "post-mortem not shown: {shown:?}"
    );
    // It stays open across the page's refresh.
    let generated = b.eval("return document.getElementById('live-inner').dataset.generated");
    wait_for("a refresh", || {
        (b.eval("return document.getElementById('live-inner').dataset.generated") != generated)
            .then_some(())
    });
    assert_eq!(
        b.eval(&format!("return document.getElementById('inc-{id}').open")),
        true
    );
    assert_eq!(b.console_errors(), Vec::<String>::new(), "console errors");

    // Screenshots for the README: the top of the page, desktop and phone widths.
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    b.eval("window.scrollTo(0, 0); return null;");
    std::fs::write(docs.join("web-desktop.png"), b.screenshot()).unwrap();
    b.resize(390, 844);
    b.eval("window.scrollTo(0, 0); return null;");
    std::fs::write(docs.join("web-phone.png"), b.screenshot()).unwrap();
    let wide = b.eval(
        "return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5);",
    );
    assert_eq!(
        wide,
        serde_json::json!([]),
        "no sideways scrolling on a phone"
    );
    assert_eq!(get(port, "/", &[]).status, 200);
}
