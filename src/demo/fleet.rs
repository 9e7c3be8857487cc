//! `akashic demo`: three real services under a real daemon; one freezes while still answering 200.
//! A newcomer sees detection, evidence, restart, recovery by new output, and the post-mortem.

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

/// Writes the demo's config into `dir` and returns its path.
pub fn write_config(dir: &Path, exe: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
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
        let mut cmd = vec![
            exe.display().to_string(),
            "demo-service".into(),
            "--port".into(),
            port.to_string(),
            "--log".into(),
            log.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        if let Some(f) = freeze {
            cmd.extend([
                "--freeze-after".into(),
                f.into(),
                "--freeze-once".into(),
                dir.join(name).join("froze-once").display().to_string(),
            ]);
        }
        let argv = cmd
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
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
    let path = dir.join("akashic.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// How a demo run ended.
#[derive(Debug)]
pub enum Outcome {
    /// The frozen service's incident, with its post-mortem.
    PostMortem(Box<Incident>),
    /// The time limit passed first.
    TimedOut,
    /// SIGINT or SIGTERM: the fleet was stopped.
    Interrupted,
}

/// Runs the demo in `dir` until the frozen service's post-mortem exists, the limit passes or a
/// signal comes; the daemon and its services are stopped before it returns.
pub async fn run(dir: &Path, limit: Duration) -> anyhow::Result<Outcome> {
    use tokio::signal::unix::{signal, SignalKind};
    // Listening from the start, so a signal during setup also ends in a clean stop.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let exe = std::env::current_exe()?;
    let path = write_config(dir, &exe)?;
    let cfg = crate::config::load(&path)?;
    let state_dir = cfg.daemon.state_dir.clone();
    eprintln!("akashic demo: 3 services in {}; content-pipeline will freeze after 12s while still answering 200 on /health", dir.display());
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
            control::ask(
                &sd,
                &Request::Incidents {
                    service: Some("content-pipeline".into()),
                },
            )
        })
        .await?;
        if let Ok(Some(v)) = got {
            let list: Vec<Incident> = serde_json::from_value(v)?;
            if let Some(i) = list.into_iter().find(|i| i.postmortem.is_some()) {
                outcome = Outcome::PostMortem(Box::new(i));
                break;
            }
        }
    }
    stop.notify_one();
    daemon.await??;
    Ok(outcome)
}
