//! `akashic mcp` with a real client (the Python `mcp` package from scripts/setup-web.sh):
//! initialize, list tools, call `status`, `ask`, `incidents` and `show`, read a digest resource,
//! with and without a running daemon.

use crate::util::*;
use serde_json::Value;
use std::path::PathBuf;

fn python() -> Option<PathBuf> {
    let cache = std::env::var_os("AKASHIC_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/akashic")))?;
    let py = cache.join("mcp-venv/bin/python");
    py.is_file().then_some(py)
}

fn client(py: &PathBuf, f: &Fleet) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/web/mcp_client.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .arg(AKASHIC)
        .arg(&f.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The tool's JSON: as structuredContent, and the same JSON as its one text item.
fn structured(r: &Value) -> Value {
    assert_eq!(r["is_error"], false, "{r}");
    let texts = r["texts"].as_array().unwrap();
    assert_eq!(texts.len(), 1, "{r}");
    let text: Value =
        serde_json::from_str(texts[0].as_str().unwrap()).expect("the text is JSON, no fence");
    assert_eq!(text, r["structured"]);
    text
}

#[test]
fn a_real_mcp_client_asks_akashic() {
    let Some(py) = python() else {
        eprintln!("SKIP web::mcp: the python mcp client is not installed (scripts/setup-web.sh installs it)");
        return;
    };
    let svc = demo_service(
        "web",
        free_port(),
        "",
        "{ max = 3, within = \"1h\" }",
        "20s",
    )
    .replace(
        "\ngrace = \"1s\"",
        "\ngrace = \"1s\"\ndigest = \"{DIR}/web/DIGEST.md\"",
    );
    let mut f = Fleet::new(&format!("{DAEMON}{svc}"));

    // No daemon: `status` answers as `status --json` does.
    let r = client(&py, &f);
    assert_eq!(r["server"], "akashic");
    assert_eq!(
        r["tools"],
        serde_json::json!(["ask", "digest", "incidents", "show", "status"])
    );
    assert_eq!(structured(&r["status"]), f.json(&["status", "--json"]));
    assert_eq!(structured(&r["status"])["daemon"]["state"], "not_started");

    f.watch();
    wait_for("the daemon to run", || {
        (f.json(&["status", "--json"])["daemon"]["state"] == "running").then_some(())
    });
    let r = client(&py, &f);
    let status = structured(&r["status"]);
    assert_eq!(status["daemon"]["state"], "running");
    assert_eq!(status["services"][0]["name"], "web");
    let asked = f.run(&["ask", "why did web freeze", "-k", "3", "--json"]);
    if asked.status.success() {
        let cli: Value = serde_json::from_slice(&asked.stdout).unwrap();
        assert_eq!(structured(&r["ask"]), cli);
    } else {
        assert_eq!(
            r["ask"]["is_error"], true,
            "the CLI failed, so must the tool: {}",
            r["ask"]
        );
    }
    assert_eq!(
        structured(&r["incidents"]),
        f.json(&["incidents", "--json"])
    );
    assert_eq!(r["unknown"]["is_error"], true);
    assert!(r["unknown"]["texts"][0]
        .as_str()
        .unwrap()
        .contains("no incident \"inc-nope\""));

    let uris: Vec<&str> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["akashic://digest", "akashic://digest/web"]);
    let digest = &r["digest"][0];
    assert_eq!(digest["uri"], "akashic://digest");
    assert_eq!(digest["mime"], "text/markdown");
    let text = digest["text"].as_str().unwrap();
    assert!(text.starts_with('#') && text.contains("web"), "{text}");
}
