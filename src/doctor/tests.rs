//! Doctor checks over a real temp tree: a launchd plist missing a PATH entry and compose variables.

use super::checks::{diagnose, Shell};
use super::ports::Ports;
use super::render::render;
use super::Severity;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every endpoint answers; the model is missing.
struct FakePorts;

impl Ports for FakePorts {
    fn http(&self, _url: &str) -> Result<String, String> {
        Ok("HTTP 200".into())
    }
    fn tcp(&self, url: &str) -> Result<(), String> {
        Err(format!("{url}: connection refused"))
    }
    fn model(&self, _dir: Option<&Path>) -> Result<String, String> {
        Err("embedding model not found; run `bash scripts/setup-models.sh`".into())
    }
}

fn plist(dir: &Path, path_entries: &str, extra_env: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>Label</key><string>com.me.bot</string>
<key>ProgramArguments</key><array><string>python3</string><string>{d}/bot/bot.py</string></array>
<key>StandardOutPath</key><string>{d}/home/Documents/bot.log</string>
<key>EnvironmentVariables</key><dict><key>PATH</key><string>{path_entries}</string><key>BOT_MODE</key><string>live</string>{extra_env}</dict>
</dict></plist>"#,
        d = dir.display()
    )
}

fn fixture(dir: &Path) -> std::path::PathBuf {
    for sub in [
        "opt/homebrew/bin",
        "usr/bin",
        "bot",
        "LaunchAgents",
        "home/Documents",
        "state",
    ] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let py = dir.join("opt/homebrew/bin/python3");
    std::fs::write(&py, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.join("bot/docker-compose.yml"),
        "services:\n  bot:\n    environment:\n      - TELEGRAM_TOKEN=x\n      - DATABASE_URL=postgres://db\n      - BOT_MODE=live\n",
    )
    .unwrap();
    let cfg = dir.join("akashic.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[daemon]
state_dir = "{d}/state"

[memory]
backend = "qdrant"
url = "http://127.0.0.1:1"

[[service]]
name = "bot"
log = "{d}/bot/bot.log"
env_required = ["BOT_MODE"]
migrated_from = "{d}/bot/docker-compose.yml"

[service.restart]
kind = "launchd"
label = "com.me.bot"
plist = "{d}/LaunchAgents/com.me.bot.plist"
program = ["python3", "bot.py"]

[[service.check]]
kind = "log_stale"
path = "{d}/bot/bot.log"
max_age = "10m"
"#,
            d = dir.display()
        ),
    )
    .unwrap();
    cfg
}

fn shell(dir: &Path) -> Shell {
    Shell {
        path: dir.join("opt/homebrew/bin").display().to_string(),
        vars: Default::default(),
        home: Some(dir.join("home")),
    }
}

#[test]
fn doctor_report_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg_path = fixture(d);
    let usr = format!("{}/usr/bin", d.display());
    std::fs::write(d.join("LaunchAgents/com.me.bot.plist"), plist(d, &usr, "")).unwrap();
    let cfg = crate::config::load(&cfg_path).unwrap();
    let report = diagnose(&cfg, &FakePorts, &shell(d));
    let text = render(&report).replace(&d.display().to_string(), "[TMP]");
    insta::assert_snapshot!(text);
    assert_eq!(report.exit_code(), 1);
    let errors: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.check)
        .collect();
    assert_eq!(errors, ["path", "env", "env", "tcc", "endpoint"], "{text}");
}

#[test]
fn a_fixed_plist_is_clean_for_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg_path = fixture(d);
    let path = format!("{}/opt/homebrew/bin:{}/usr/bin", d.display(), d.display());
    let extra =
        "<key>TELEGRAM_TOKEN</key><string>t</string><key>DATABASE_URL</key><string>u</string>";
    let fixed = plist(d, &path, extra).replace("home/Documents/bot.log", "bot/bot.log");
    std::fs::write(d.join("LaunchAgents/com.me.bot.plist"), fixed).unwrap();
    let cfg = crate::config::load(&cfg_path).unwrap();
    let report = diagnose(&cfg, &FakePorts, &shell(d));
    let about_bot: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.service.as_deref() == Some("bot"))
        .collect();
    assert!(about_bot.is_empty(), "{about_bot:#?}");
}

/// A new user's first `doctor`: the child's stdout folder under state_dir does not exist yet, and
/// akashic makes it when it starts the child, so it is not an error.
#[test]
fn a_child_stdout_folder_akashic_will_make_is_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg_path = d.join("akashic.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[daemon]\nstate_dir = \"{d}/state\"\n[[service]]\nname = \"bot\"\n[service.restart]\nkind = \"child\"\ncommand = [\"/bin/sh\"]\n[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:1\"\n",
            d = d.display()
        ),
    )
    .unwrap();
    let cfg = crate::config::load(&cfg_path).unwrap();
    let report = diagnose(&cfg, &FakePorts, &shell(d));
    assert!(
        !report.findings.iter().any(|f| f.check == "writable"),
        "{:#?}",
        report.findings
    );
    // A folder that cannot be made still is.
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let text = std::fs::read_to_string(&cfg_path).unwrap().replace(
        "command = [\"/bin/sh\"]",
        &format!(
            "command = [\"/bin/sh\"]\nstdout = \"{}/logs/bot.log\"",
            ro.display()
        ),
    );
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = crate::config::load(&cfg_path).unwrap();
    let report = diagnose(&cfg, &FakePorts, &shell(d));
    let root = nix::unistd::Uid::effective().is_root();
    assert_eq!(
        report.findings.iter().any(|f| f.check == "writable"),
        !root,
        "{:#?}",
        report.findings
    );
}
