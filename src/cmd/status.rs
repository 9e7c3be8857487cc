//! `akashic status`: whether the daemon lives, and each service's state: live from a running
//! daemon, else as it last wrote them.

use super::{load_config, out, out_json, CmdResult};
use crate::daemon::control::{self, Request};
use crate::heartbeat::{self, Heartbeat};
use chrono::Utc;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize, PartialEq)]
struct DaemonOut {
    /// running | frozen | stopped | not_started
    state: &'static str,
    alive: bool,
    pid: Option<u32>,
    heartbeat_at: Option<chrono::DateTime<Utc>>,
    heartbeat_age_s: Option<f64>,
}

/// What `status --json` prints (the web's `/api/status` and the MCP `status` tool give the same).
#[derive(Debug, Serialize)]
pub struct StatusView {
    daemon: DaemonOut,
    pub services: Vec<heartbeat::ServiceStatus>,
    pub degraded: Vec<String>,
}

impl StatusView {
    /// running | frozen | stopped | not_started
    pub fn daemon_state(&self) -> &'static str {
        self.daemon.state
    }
}

/// Whether the daemon lives (its heartbeat) and each service's state: `live` is asked for the
/// running daemon's answer, else the services are as it last wrote them.
pub fn view(state_dir: &Path, live: impl FnOnce() -> Option<Heartbeat>) -> StatusView {
    let beat = heartbeat::read_beat(state_dir);
    let daemon = match &beat {
        None => DaemonOut {
            state: "not_started",
            alive: false,
            pid: None,
            heartbeat_at: None,
            heartbeat_age_s: None,
        },
        Some(h) => {
            let age = (Utc::now() - h.at).num_milliseconds().max(0) as f64 / 1000.0;
            let alive = crate::process::pid_alive(h.pid);
            // Frozen: the process is there but has not ticked for three ticks (and at least 5 s).
            let limit = (3.0 * h.tick_ms as f64 / 1000.0).max(5.0);
            let state = match (h.stopped_at.is_some(), alive, age <= limit) {
                (true, _, _) | (false, false, _) => "stopped",
                (false, true, true) => "running",
                (false, true, false) => "frozen",
            };
            let alive = alive && h.stopped_at.is_none();
            DaemonOut {
                state,
                alive: alive && age <= limit,
                pid: Some(h.pid),
                heartbeat_at: Some(h.at),
                heartbeat_age_s: Some(age),
            }
        }
    };
    // The file is read only when there is no live answer.
    let live = (daemon.state == "running").then(live).flatten();
    let degraded = live
        .as_ref()
        .map(|l| l.degraded.clone())
        .unwrap_or_default();
    let services = match (live, &beat) {
        (Some(l), _) => l.services,
        (None, Some(_)) => heartbeat::read_services(state_dir),
        (None, None) => Vec::new(),
    };
    StatusView {
        daemon,
        services,
        degraded,
    }
}

pub fn run(flag: Option<&Path>, json: bool) -> CmdResult {
    let cfg = load_config(flag)?;
    // A running daemon answers with its services as they are now; otherwise (or if it does
    // not answer within 2 s) they are as it last wrote them.
    let view = view(&cfg.daemon.state_dir, || {
        control::ask_within(
            &cfg.daemon.state_dir,
            &Request::Status,
            std::time::Duration::from_secs(2),
        )
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_value::<Heartbeat>(v).ok())
    });
    if json {
        out_json(&view);
        return Ok(crate::exit::OK);
    }
    let StatusView {
        daemon,
        services,
        degraded,
    } = view;
    match (daemon.state, daemon.pid, daemon.heartbeat_age_s) {
        ("not_started", _, _) => out(format!(
            "akashic: not running (no heartbeat in {}); start it with `akashic watch`",
            cfg.daemon.state_dir.display()
        )),
        (state, Some(pid), Some(age)) => out(format!(
            "akashic: {state} (pid {pid}, last heartbeat {age:.1}s ago)"
        )),
        (state, _, _) => out(format!("akashic: {state}")),
    }
    for d in &degraded {
        out(format!("akashic: degraded: {d}"));
    }
    if daemon.state != "running" && !services.is_empty() {
        out("services as last written (may be out of date):");
    }
    for s in &services {
        let inc = s
            .incident
            .as_deref()
            .map(|i| format!("  incident {i}"))
            .unwrap_or_default();
        out(format!("{:<24} {:<11}{}", s.name, s.state, inc));
        for c in &s.checks {
            let mark = match c.ok {
                Some(true) => "ok  ",
                Some(false) => "FAIL",
                None => "....",
            };
            out(format!("  {mark} {:<9} {}", c.kind, c.detail));
        }
    }
    Ok(crate::exit::OK)
}
