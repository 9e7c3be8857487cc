//! `akashic demo`: real services under a real daemon. `freeze`: one of three freezes while still
//! answering 200; a newcomer sees detection, evidence, restart, recovery by new output, and the
//! post-mortem. `shared-dependency`: a TCP database goes away for 20 s under three services that
//! need it; their restarts are held, it is restarted, and one post-mortem names them all.

use crate::daemon::control::{self, Request};
use crate::incident::Incident;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// What goes wrong in the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One service freezes while still answering 200.
    Freeze,
    /// A TCP database goes away for 20 s under three services that need it.
    SharedDependency,
}

impl Scenario {
    /// The service whose post-mortem ends the demo.
    fn watched(self) -> &'static str {
        match self {
            Scenario::Freeze => "content-pipeline",
            Scenario::SharedDependency => "db",
        }
    }

    fn announce(self) -> &'static str {
        match self {
            Scenario::Freeze => "3 services; content-pipeline will freeze after 12s while still answering 200 on /health",
            Scenario::SharedDependency => "a database (db) and 3 services that need it; db goes away after 10s for 20s",
        }
    }
}

/// The services of the shared-dependency scenario that need the database.
pub const DEPENDENTS: [&str; 3] = ["orders-api", "billing", "reports"];

/// Writes the demo's config into `dir` and returns its path.
pub fn write_config(dir: &Path, exe: &Path, scenario: Scenario) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let toml = match scenario {
        Scenario::Freeze => freeze_config(dir, exe)?,
        Scenario::SharedDependency => shared_config(dir, exe)?,
    };
    let path = dir.join("akashic.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// A demo-service's command line, as a TOML array.
fn argv(exe: &Path, port: u16, dir: &Path, name: &str, extra: &[String]) -> String {
    let mut cmd = vec![
        exe.display().to_string(),
        "demo-service".into(),
        "--port".into(),
        port.to_string(),
        "--log".into(),
        dir.join(name).join("service.log").display().to_string(),
        "--out".into(),
        dir.join(name).join("out").display().to_string(),
    ];
    cmd.extend_from_slice(extra);
    cmd.iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shared_config(dir: &Path, exe: &Path) -> std::io::Result<String> {
    let db_port = free_port()?;
    let db_away = [
        "--away-after".into(),
        "10s".into(),
        "--away-for".into(),
        "20s".into(),
        "--away-once".into(),
        dir.join("db").join("away-until").display().to_string(),
    ];
    let mut toml = format!(
        r#"# The akashic demo fleet (shared dependency): written by `akashic demo`.
[daemon]
state_dir = "{state}"
tick = "1s"

[[service]]
name = "db"
log = "{log}"
grace = "2s"
recovery_window = "30s"
restart_budget = {{ max = 20, within = "10m" }}

[service.restart]
kind = "child"
command = [{argv}]
stdout = "{stdout}"
stop_grace = "2s"

[[service.check]]
kind = "port"
addr = "127.0.0.1:{db_port}"
"#,
        state = dir.join("state").display(),
        log = dir.join("db").join("service.log").display(),
        argv = argv(exe, db_port, dir, "db", &db_away),
        stdout = dir.join("db").join("stdout.log").display(),
    );
    for name in DEPENDENTS {
        let port = free_port()?;
        let needs = ["--needs".into(), format!("127.0.0.1:{db_port}")];
        toml.push_str(&format!(
            r#"
[[service]]
name = "{name}"
depends_on = ["db"]
log = "{log}"
grace = "3s"
recovery_window = "30s"
restart_budget = {{ max = 3, within = "10m" }}

[service.restart]
kind = "child"
command = [{argv}]
stdout = "{stdout}"
stop_grace = "2s"

[[service.check]]
kind = "http"
url = "http://127.0.0.1:{port}/health"
body_contains = "\"ok\":true"

[[service.check]]
kind = "artifact"
glob = "{out}/*.json"
max_age = "5s"
"#,
            log = dir.join(name).join("service.log").display(),
            argv = argv(exe, port, dir, name, &needs),
            stdout = dir.join(name).join("stdout.log").display(),
            out = dir.join(name).join("out").display(),
        ));
    }
    Ok(toml)
}

fn freeze_config(dir: &Path, exe: &Path) -> std::io::Result<String> {
    let mut toml = format!(
        "# The akashic demo fleet: written by `akashic demo`.\n[daemon]\nstate_dir = \"{}\"\ntick = \"1s\"\n",
        dir.join("state").display()
    );
    let services = [
        ("orders-api", None),
        ("content-pipeline", Some("12s")),
        ("chat-bot", None),
    ];
    for (name, freeze) in services {
        let port = free_port()?;
        let log = dir.join(name).join("service.log");
        let out = dir.join(name).join("out");
        let extra: Vec<String> = match freeze {
            Some(f) => vec![
                "--freeze-after".into(),
                f.into(),
                "--freeze-once".into(),
                dir.join(name).join("froze-once").display().to_string(),
            ],
            None => Vec::new(),
        };
        let argv = argv(exe, port, dir, name, &extra);
        toml.push_str(&format!(
            r#"
[[service]]
name = "{name}"
log = "{log}"
grace = "3s"
recovery_window = "30s"
restart_budget = {{ max = 3, within = "10m" }}

[service.restart]
kind = "child"
command = [{argv}]
stdout = "{stdout}"
stop_grace = "2s"

[[service.check]]
kind = "http"
url = "http://127.0.0.1:{port}/health"
body_contains = "\"ok\":true"

[[service.check]]
kind = "log_stale"
path = "{log}"
max_age = "5s"

[[service.check]]
kind = "artifact"
glob = "{out}/*.json"
max_age = "5s"
"#,
            log = log.display(),
            out = out.display(),
            stdout = dir.join(name).join("stdout.log").display(),
        ));
    }
    Ok(toml)
}

/// How a demo run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The watched service's incident, with its post-mortem, and the incidents held on it
    /// (each closed).
    PostMortem(Box<Incident>, Vec<Incident>),
    /// The time limit passed first.
    TimedOut,
    /// SIGINT or SIGTERM: the fleet was stopped.
    Interrupted,
}

/// Runs the demo in `dir` until the frozen service's post-mortem exists, the limit passes or a
/// signal comes; the daemon and its services are stopped before it returns.
pub async fn run(dir: &Path, limit: Duration, scenario: Scenario) -> anyhow::Result<Outcome> {
    use tokio::signal::unix::{signal, SignalKind};
    // Listening from the start, so a signal during setup also ends in a clean stop.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let exe = std::env::current_exe()?;
    let path = write_config(dir, &exe, scenario)?;
    let cfg = crate::config::load(&path)?;
    let state_dir = cfg.daemon.state_dir.clone();
    eprintln!("akashic demo: {} in {}", scenario.announce(), dir.display());
    eprintln!("akashic demo: config {}", path.display());
    let stop = Arc::new(tokio::sync::Notify::new());
    let daemon = tokio::spawn(crate::daemon::run(
        cfg,
        crate::daemon::RunOptions {
            stop_after: Some(limit),
            stop: Some(stop.clone()),
        },
    ));
    let mut outcome = Outcome::TimedOut;
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline && !daemon.is_finished() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = sigint.recv() => { outcome = Outcome::Interrupted; break; }
            _ = sigterm.recv() => { outcome = Outcome::Interrupted; break; }
        }
        let sd = state_dir.clone();
        let got = tokio::task::spawn_blocking(move || {
            control::ask(&sd, &Request::Incidents { service: None })
        })
        .await?;
        if let Ok(Some(v)) = got {
            let list: Vec<Incident> = serde_json::from_value(v)?;
            let done = list
                .iter()
                .find(|i| i.service == scenario.watched() && i.postmortem.is_some());
            if let Some(done) = done {
                let held: Vec<Incident> = list
                    .iter()
                    .filter(|i| i.caused_by.as_ref().is_some_and(|c| c.incident == done.id))
                    .cloned()
                    .collect();
                // The group's story ends when every service held on it is closed too.
                if held.iter().all(|i| !i.is_open()) {
                    outcome = Outcome::PostMortem(Box::new(done.clone()), held);
                    break;
                }
            }
        }
    }
    stop.notify_one();
    daemon.await??;
    Ok(outcome)
}
