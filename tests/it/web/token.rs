//! The token: without it every route answers 401, with it 200; an address that is not loopback
//! without a token is a config error (exit 78) naming the file, the key and the fix.

use super::http::{get, request};
use crate::util::*;

const SERVICE: &str = r#"
[[service]]
name = "svc"
grace = "1s"

[service.restart]
kind = "child"
command = ["sleep", "300"]

[[service.check]]
kind = "port"
addr = "127.0.0.1:{PORT}"
"#;

/// A daemon section with `http`, and a service whose check is that the web port is bound.
fn fleet(http: &str, port: u16) -> Fleet {
    Fleet::new(&format!(
        "{DAEMON}{http}{}",
        SERVICE.replace("{PORT}", &port.to_string())
    ))
}

fn config_check(f: &Fleet, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = std::process::Command::new(AKASHIC)
        .arg("--config")
        .arg(&f.config)
        .args(["config", "check"])
        .env_remove("AKASHIC_WEB_TEST_UNSET")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).replace(&f.dir.path().display().to_string(), "[DIR]");
    (out.status.code(), text)
}

#[test]
fn non_loopback_without_token_is_a_config_error() {
    let port = free_port();
    let f = fleet(&format!("http = \"0.0.0.0:{port}\"\n"), port);
    let (code, text) = config_check(&f, &[]);
    assert_eq!(code, Some(78), "{text}");
    insta::assert_snapshot!(
        "web_non_loopback_without_token",
        text.replace(&port.to_string(), "[PORT]")
    );
    // `watch` refuses it too, before opening anything.
    let out = f.run(&["watch", "--for", "5s"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        request(port, "GET", "/metrics", &[]).is_err(),
        "nothing listens"
    );

    let f = fleet(
        &format!("http = \"0.0.0.0:{port}\"\nhttp_token_env = \"AKASHIC_WEB_TEST_UNSET\"\n"),
        port,
    );
    let (code, text) = config_check(&f, &[]);
    assert_eq!(code, Some(78), "{text}");
    insta::assert_snapshot!(
        "web_token_env_unset",
        text.replace(&port.to_string(), "[PORT]")
    );
    // With the variable set, the same config is valid.
    let (code, text) = config_check(&f, &[("AKASHIC_WEB_TEST_UNSET", "t0ken-t0ken")]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn token_guards_every_route() {
    let port = free_port();
    let token = "web-test-token-8f2c1d";
    let mut f = fleet(
        &format!("http = \"127.0.0.1:{port}\"\nhttp_token_env = \"AKASHIC_WEB_TEST_TOKEN\"\n"),
        port,
    );
    f.watch_env(&[("AKASHIC_WEB_TEST_TOKEN", token)]);
    let bearer = format!("Authorization: Bearer {token}");
    wait_for("the web server with the token", || {
        request(port, "GET", "/api/status", &[&bearer])
            .ok()
            .filter(|a| a.status == 200)
    });
    for path in [
        "/",
        "/metrics",
        "/api/status",
        "/api/incidents",
        "/api/incidents/x",
    ] {
        let none = get(port, path, &[]);
        assert_eq!(none.status, 401, "{path} without a token: {}", none.body);
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        let wrong = get(port, path, &["Authorization: Bearer web-test-token-8f2c1e"]);
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        let ok = get(port, path, &[&bearer]);
        let want = if path == "/api/incidents/x" { 404 } else { 200 };
        assert_eq!(ok.status, want, "{path} with the token: {}", ok.body);
    }
    let post = request(port, "POST", "/api/services/svc/resume", &[]).unwrap();
    assert_eq!(post.status, 401);
    let post = request(port, "POST", "/api/services/svc/resume", &[&bearer]).unwrap();
    assert_eq!(post.status, 409, "svc is not escalated: {}", post.body);
    let get_resume = get(port, "/api/services/svc/resume", &[&bearer]);
    assert_eq!(get_resume.status, 405, "changing state is POST only");

    // The page takes the token once in its address and keeps it in an HttpOnly cookie.
    let first = get(port, &format!("/?token={token}"), &[]);
    assert_eq!(first.status, 303);
    let cookie = first.header("set-cookie").expect("a cookie").to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let page = get(port, "/", &[&format!("Cookie: {pair}")]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>akashic</h1>"));
    assert_eq!(get(port, "/?token=nope", &[]).status, 401);
    let metrics = get(port, "/metrics", &[&bearer]).body;
    assert!(
        !metrics.contains(token) && !page.body.contains(token),
        "the token is never shown"
    );
}
