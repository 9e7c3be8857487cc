//! Living with akashic: doctor, install as a service, the session-start digest, webhook notifications.

use crate::util::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// ---------- doctor ----------

const BOT_CONFIG: &str = r#"[daemon]
state_dir = "{DIR}/state"

[[service]]
name = "bot"
log = "{DIR}/bot/bot.log"
env_required = ["BOT_MODE"]
migrated_from = "{DIR}/bot/docker-compose.yml"

[service.restart]
kind = "launchd"
label = "com.me.bot"
plist = "{DIR}/LaunchAgents/com.me.bot.plist"
program = ["python3", "bot.py"]

[[service.check]]
kind = "log_stale"
path = "{DIR}/bot/bot.log"
max_age = "10m"
"#;

fn bot_plist(dir: &Path, path: &str, extra_env: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>Label</key><string>com.me.bot</string>
<key>ProgramArguments</key><array><string>python3</string><string>{d}/bot/bot.py</string></array>
<key>KeepAlive</key><true/>
<key>StandardOutPath</key><string>{d}/bot/bot.log</string>
<key>EnvironmentVariables</key><dict>
<key>PATH</key><string>{path}</string>
<key>BOT_MODE</key><string>live</string>{extra_env}
</dict></dict></plist>"#,
        d = dir.display()
    )
}

fn doctor(f: &Fleet) -> Output {
    Command::new(AKASHIC)
        .args(["--config", f.config.to_str().unwrap(), "doctor", "--json"])
        .env("HOME", f.path("home"))
        // The shell's PATH has the fake Homebrew; the plist's may not.
        .env(
            "PATH",
            format!(
                "{}:{}",
                f.path("opt/homebrew/bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env_remove("AKASHIC_MEMORY_DIR")
        .output()
        .unwrap()
}

#[test]
fn living_doctor_finds_the_plist_path_and_compose_variables_then_a_fixed_plist_is_clean() {
    let f = Fleet::new(BOT_CONFIG);
    let d = f.dir.path();
    for sub in [
        "opt/homebrew/bin",
        "usr/bin",
        "bin",
        "bot",
        "LaunchAgents",
        "home",
        "state",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    // python3 exists only in the Homebrew-like dir under the temp root.
    let py = d.join("opt/homebrew/bin/python3");
    std::fs::write(&py, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        d.join("bot/docker-compose.yml"),
        "services:\n  bot:\n    image: bot:latest\n    environment:\n      - TELEGRAM_TOKEN=abc\n      - DATABASE_URL=postgres://db/bot\n      - BOT_MODE=live\n",
    )
    .unwrap();
    let plist = d.join("LaunchAgents/com.me.bot.plist");
    let bare = format!("{}/usr/bin:{}/bin", d.display(), d.display());
    std::fs::write(&plist, bot_plist(d, &bare, "")).unwrap();

    let out = doctor(&f);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["severity"] == "error")
        .collect();
    let text = |x: &serde_json::Value| format!("{} {}", x["finding"], x["fix"]);
    let path = errors
        .iter()
        .find(|x| x["check"] == "path")
        .unwrap_or_else(|| panic!("no PATH finding: {report:#}"));
    assert!(
        text(path).contains("python3 is not on the PATH"),
        "{path:#}"
    );
    assert!(
        text(path).contains(&d.join("opt/homebrew/bin").display().to_string()),
        "the fix names the dir to add: {path:#}"
    );
    let env: Vec<String> = errors
        .iter()
        .filter(|x| x["check"] == "env")
        .map(|x| text(x))
        .collect();
    assert_eq!(env.len(), 2, "{env:#?}");
    assert!(env.iter().any(|t| t.contains("TELEGRAM_TOKEN")), "{env:#?}");
    assert!(env.iter().any(|t| t.contains("DATABASE_URL")), "{env:#?}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"], 3, "{report:#}");

    // Fixed: Homebrew on the plist's PATH and both variables set.
    let fixed_path = format!("{}/opt/homebrew/bin:{bare}", d.display());
    let extra =
        "\n<key>TELEGRAM_TOKEN</key><string>t</string>\n<key>DATABASE_URL</key><string>u</string>";
    std::fs::write(&plist, bot_plist(d, &fixed_path, extra)).unwrap();
    let out = doctor(&f);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["ok"], true);
}

// ---------- service install ----------

fn fixtures_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin")
}

fn service_cmd(f: &Fleet, args: &[&str]) -> Output {
    Command::new(AKASHIC)
        .arg("--config")
        .arg(&f.config)
        .arg("service")
        .args(args)
        .env("HOME", f.path("home"))
        .env("XDG_CONFIG_HOME", f.path("xdg"))
        .env("AKASHIC_STANDIN_LOG", f.path("standin.log"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                fixtures_bin().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap()
}

fn standin_log(f: &Fleet) -> Vec<String> {
    std::fs::read_to_string(f.path("standin.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn living_service_install_print_launchd_is_a_plist_with_the_keys() {
    let f = Fleet::new(BOT_CONFIG);
    let out = service_cmd(&f, &["install", "--print", "--launchd"]);
    assert!(out.status.success(), "{}", both(&out));
    let v: plist::Value = plist::from_bytes(&out.stdout).expect("a plist");
    let d = v.as_dictionary().unwrap();
    assert_eq!(d["Label"].as_string(), Some("com.akashic.daemon"));
    assert_eq!(d["KeepAlive"].as_boolean(), Some(true));
    assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
    let args: Vec<&str> = d["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_string().unwrap())
        .collect();
    assert_eq!(args.len(), 4, "{args:?}");
    assert_eq!(
        Path::new(args[0]).canonicalize().unwrap(),
        Path::new(AKASHIC).canonicalize().unwrap()
    );
    assert_eq!(args[1], "--config");
    assert_eq!(Path::new(args[2]), f.config.canonicalize().unwrap());
    assert_eq!(args[3], "watch");
    for key in ["StandardOutPath", "StandardErrorPath"] {
        assert!(
            Path::new(d[key].as_string().unwrap()).is_absolute(),
            "{key}"
        );
    }
    let path = d["EnvironmentVariables"].as_dictionary().unwrap()["PATH"]
        .as_string()
        .unwrap();
    let entries: Vec<&str> = path.split(':').collect();
    assert!(entries.contains(&"/opt/homebrew/bin"), "{path}");
    assert!(entries.contains(&"/usr/local/bin"), "{path}");
    assert!(!f.path("home/Library").exists(), "--print installs nothing");
    assert!(standin_log(&f).is_empty());
}

#[test]
fn living_service_install_and_uninstall_call_launchctl_and_systemctl() {
    let f = Fleet::new(BOT_CONFIG);
    let uid = nix::unistd::getuid().as_raw();
    let plist = f.path("home/Library/LaunchAgents/com.akashic.daemon.plist");

    let out = service_cmd(&f, &["install", "--launchd"]);
    assert!(out.status.success(), "{}", both(&out));
    let v: plist::Value = plist::Value::from_file(&plist).expect("installed plist parses");
    assert!(v.as_dictionary().unwrap().contains_key("ProgramArguments"));
    assert_eq!(
        standin_log(&f),
        [
            format!("launchctl bootout gui/{uid}/com.akashic.daemon"),
            format!("launchctl bootstrap gui/{uid} {}", plist.display()),
        ]
    );
    let out = service_cmd(&f, &["uninstall", "--launchd"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(!plist.exists());
    assert_eq!(
        standin_log(&f).last().unwrap(),
        &format!("launchctl bootout gui/{uid}/com.akashic.daemon")
    );

    std::fs::remove_file(f.path("standin.log")).unwrap();
    let unit = f.path("xdg/systemd/user/akashic.service");
    let out = service_cmd(&f, &["install", "--systemd"]);
    assert!(out.status.success(), "{}", both(&out));
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains("Restart=always"), "{text}");
    assert!(text.contains(" watch\n"), "{text}");
    let out = service_cmd(&f, &["uninstall", "--systemd"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(!unit.exists());
    assert_eq!(
        standin_log(&f),
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable --now akashic.service",
            "systemctl --user disable --now akashic.service",
        ]
    );
}

#[test]
fn living_service_plist_for_a_monitored_service_parses_back() {
    let f = Fleet::new(BOT_CONFIG);
    let out = service_cmd(&f, &["plist", "bot"]);
    assert!(out.status.success(), "{}", both(&out));
    let v: plist::Value = plist::from_bytes(&out.stdout).expect("a plist");
    let d = v.as_dictionary().unwrap();
    assert_eq!(d["Label"].as_string(), Some("com.me.bot"));
    assert_eq!(
        d["StandardOutPath"].as_string().unwrap(),
        f.path("bot/bot.log").display().to_string()
    );
    let out = service_cmd(&f, &["plist", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no service named \"nope\""));
}

// ---------- digest ----------

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn living_digest_names_pattern_recommendation_and_incident_then_flags_a_regression() {
    let port = free_port();
    let svc = demo_service(
        "pipeline",
        port,
        r#", "--freeze-after", "2s", "--freeze-once", "{DIR}/froze""#,
        r#"{ max = 5, within = "1h" }"#,
        "20s",
    )
    .replacen(
        "grace = \"1s\"",
        "digest = \"{DIR}/repo/.akashic/DIGEST.md\"\ngrace = \"1s\"",
        1,
    );
    let mut f = Fleet::new(&format!("{DAEMON}{svc}"));
    f.watch();
    let digest = f.path("repo/.akashic/DIGEST.md");

    let first = f.wait_incident("the first freeze's post-mortem", |i| {
        i["recovered"] == true && !i["postmortem"].is_null()
    });
    let id = first["id"].as_str().unwrap().to_string();
    let pm = &first["postmortem"];
    let category = pm["category"].as_str().unwrap().to_string();
    let rec = pm["recommendations"][0].as_str().unwrap().to_string();
    let text = wait_for("the digest to name the incident", || {
        let t = read(&digest);
        t.contains(&id).then_some(t)
    });
    assert!(text.starts_with("# akashic digest: pipeline"), "{text}");
    assert!(
        text.contains(&format!("`{category}`: 1 incident, last {id}")),
        "{text}"
    );
    let rec_id = akashic::digest::rec_id("pipeline", &category, &rec);
    let head: String = rec.chars().take(40).collect();
    assert!(text.contains(&format!("[{rec_id}] {head}")), "{text}");
    assert!(!text.contains("REGRESSION"), "{text}");
    // The fleet-wide digest is written too.
    assert!(read(&f.path("state/DIGEST.md")).contains(&id));

    let out = f.run(&["rec", "done", &rec_id]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        !read(&digest).contains(&format!("[{rec_id}]")),
        "{}",
        read(&digest)
    );
    let listed = f.json(&["rec", "list", "--json"]);
    assert!(
        listed["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == rec_id.as_str() && r["status"] == "closed"),
        "{listed:#}"
    );

    // The same pattern recurs: the service freezes again once the marker is gone.
    std::fs::remove_file(f.path("froze")).unwrap();
    let second = f.wait_incident("the second freeze's post-mortem", |i| {
        i["id"] != id.as_str() && !i["postmortem"].is_null()
    });
    let id2 = second["id"].as_str().unwrap().to_string();
    assert_eq!(second["postmortem"]["category"], category.as_str());
    let text = wait_for("the digest to flag the regression", || {
        let t = read(&digest);
        t.contains("REGRESSION").then_some(t)
    });
    assert!(
        text.contains(&format!(
            "REGRESSION `{category}`: recurred in incident {id2}"
        )),
        "{text}"
    );
    assert!(text.contains(&rec_id), "{text}");
    assert!(
        text.contains(&format!("`{category}`: 2 incidents")),
        "{text}"
    );
    assert!(text.contains("**RECURRING**"), "{text}");

    // `akashic digest` prints the same for one service.
    let out = f.run(&["digest", "--service", "pipeline"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(stdout(&out).contains("REGRESSION"), "{}", both(&out));
}

// ---------- notifications ----------

/// POSTed bodies with their arrival times.
type Received = Arc<Mutex<Vec<(Instant, serde_json::Value)>>>;

/// A tiny webhook receiver on 127.0.0.1: records each POSTed JSON body with its arrival time.
fn receiver() -> (u16, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_ok() {
                if let Ok(v) = serde_json::from_slice(&body) {
                    sink.lock().unwrap().push((Instant::now(), v));
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, got)
}

#[test]
fn living_webhook_gets_one_message_per_incident_and_one_reminder_per_interval_while_flapping() {
    let (hook_port, got) = receiver();
    let port = free_port();
    let reminder = Duration::from_secs(4);
    let toml = format!(
        "{DAEMON}[notify]\nwebhook = \"http://127.0.0.1:{hook_port}/hook\"\nreminder = \"4s\"\n{}",
        demo_service(
            "flappy",
            port,
            r#", "--crash-after", "2s""#,
            r#"{ max = 50, within = "1h" }"#,
            "20s"
        )
    );
    let mut f = Fleet::new(&toml);
    f.watch();
    let texts = |got: &Received| -> Vec<(Instant, String)> {
        got.lock()
            .unwrap()
            .iter()
            .map(|(t, v)| {
                assert_eq!(
                    v["text"], v["content"],
                    "Slack and Discord get the same text"
                );
                (*t, v["text"].as_str().unwrap_or_default().to_string())
            })
            .collect()
    };
    wait_for("four incidents and an incident reminder", || {
        let n = f.incidents().len();
        let reminded = texts(&got)
            .iter()
            .any(|(_, t)| t.contains("more incident event"));
        (n >= 4 && reminded).then_some(())
    });
    let msgs = texts(&got);
    let incidents = f.incidents().len();

    // Each incident message names a distinct incident: never two messages for one incident.
    let opened: Vec<&str> = msgs
        .iter()
        .filter_map(|(_, t)| t.strip_prefix("[akashic] incident "))
        .map(|t| t.split(':').next().unwrap())
        .collect();
    let mut unique = opened.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), opened.len(), "{msgs:#?}");
    assert!(
        opened.len() < incidents,
        "a flapping service is throttled: {} incident messages for {incidents} incidents",
        opened.len()
    );

    // Per event kind, at most one message (first or reminder) per interval.
    for kind in ["incident", "recovery"] {
        let times: Vec<Instant> = msgs
            .iter()
            .filter(|(_, t)| {
                t.starts_with(&format!(
                    "[akashic] {}",
                    if kind == "incident" {
                        "incident "
                    } else {
                        "recovered "
                    }
                )) || t.contains(&format!("more {kind} event"))
            })
            .map(|(at, _)| *at)
            .collect();
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap + Duration::from_millis(500) >= reminder,
                "two {kind} messages {gap:?} apart: {msgs:#?}"
            );
        }
    }
    let reminders: Vec<&String> = msgs
        .iter()
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("[akashic] reminder: flappy had "))
        .collect();
    assert!(!reminders.is_empty(), "{msgs:#?}");
}
