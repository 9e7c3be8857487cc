//! The README's first steps, as a new user with an empty home: the example config, no config yet,
//! the README's minimal config, `config check`, `doctor`, `ask` on an empty memory; and the demo
//! leaves nothing in the temp dir, whether it ends or is interrupted.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A new user: a fresh home, no XDG overrides, no config variable.
struct NewUser {
    home: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl NewUser {
    fn new() -> NewUser {
        NewUser {
            home: tempfile::tempdir().unwrap(),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(AKASHIC);
        c.args(args)
            .env("HOME", self.home.path())
            .env("TMPDIR", self.tmp.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("AKASHIC_CONFIG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn config_path(&self) -> PathBuf {
        self.home.path().join(".config/akashic/akashic.toml")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The README's minimal config: the toml block after its first-hour marker.
fn readme_minimal_config() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let after = readme
        .split("<!-- first-hour: minimal config")
        .nth(1)
        .expect("README has the first-hour marker");
    let block = after.split("```toml\n").nth(1).expect("a toml block");
    block.split("\n```").next().unwrap().to_string()
}

#[test]
fn the_readme_first_steps_work_for_a_new_user() {
    let u = NewUser::new();

    // The example config is there for an installed binary too.
    let out = u.run(&["config", "example"]);
    assert_eq!(out.status.code(), Some(0));
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/akashic.example.toml"),
    )
    .unwrap();
    assert_eq!(text(&out.stdout), example);

    // No config yet: the error says where it looked and how to start.
    let out = u.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(78));
    let cfg = u.config_path();
    assert!(
        text(&out.stderr).starts_with(&format!(
            "error: cannot read config file {}: No such file or directory (os error 2); start from the example: `akashic config example > {}` (its folder must exist), or pass --config FILE",
            cfg.display(),
            cfg.display()
        )),
        "{}",
        text(&out.stderr)
    );

    // The README's minimal config, where akashic looks by default.
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, readme_minimal_config()).unwrap();
    let out = u.run(&["config", "check"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), format!("{}: ok (1 service)\n", cfg.display())),
        "{}",
        text(&out.stderr)
    );

    // doctor: the one real problem of a new setup is the folder the bot's log goes in.
    let out = u.run(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| (f["finding"].as_str().unwrap(), f["fix"].as_str().unwrap()))
        .collect();
    let bot = u.home.path().join("my-bot");
    assert_eq!(
        errors,
        [(
            format!(
                "the checked log {}/bot.log is in a folder that does not exist",
                bot.display()
            )
            .as_str(),
            format!("mkdir -p {}", bot.display()).as_str()
        )],
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(1));
    std::fs::create_dir_all(&bot).unwrap();
    let out = u.run(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(out.status.code(), Some(0), "{report:#}");

    // ask on an empty memory says so, and how to fill it.
    let out = u.run(&["ask", "why did my-bot stop?"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Memory is empty: no post-mortem has been remembered yet, so there is nothing to answer from.
It fills by itself: `akashic watch` writes a post-mortem of every incident into memory.
To start with your history, import past post-mortems, one JSON object a line
(id, service, date, category, summary, root_cause, recommendation):
  akashic memory import past-postmortems.jsonl
"
    );
    let out = u.run(&["ask", "why did my-bot stop?", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["memory_empty"], true);
    assert_eq!(v["mode"], "extractive");
    assert_eq!(v["hits"], serde_json::json!([]));
}

/// Entries of the temp dir the demo was given.
fn left_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Processes whose command line names `needle` (Linux: /proc).
fn processes_naming(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_demo_that_ends_leaves_no_folder_in_the_temp_dir() {
    let u = NewUser::new();
    let out = u.run(&["demo", "--for", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("run it with --dir DIR to keep its files"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(left_in(u.tmp.path()), Vec::<String>::new());
}

#[test]
fn an_interrupted_demo_stops_its_fleet_and_leaves_no_folder() {
    let u = NewUser::new();
    let mut child = u
        .command(&["demo", "--for", "120s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = u.tmp.path().join(format!("akashic-demo-{}", child.id()));
    let needle = dir.display().to_string();
    wait_for("the demo's services to run", || {
        (processes_naming(&needle).len() >= 3).then_some(())
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_for("the demo to exit", || child.try_wait().unwrap());
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!(
            "akashic demo: interrupted; the fleet is stopped and {} removed",
            dir.display()
        )),
        "{err}"
    );
    assert_eq!(left_in(u.tmp.path()), Vec::<String>::new());
    assert_eq!(processes_naming(&needle), Vec::<u32>::new(), "{err}");
}
