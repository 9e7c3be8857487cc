//! The status page: a minijinja template over one snapshot. Everything it shows comes from the
//! redacted views (`status`, the incident store's reads, the written digest).

use super::metrics::healthy;
use super::source::Snapshot;
use crate::config::Config;
use chrono::{DateTime, Utc};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::sync::OnceLock;

/// Incidents listed on the page, newest first (`/api/incidents` has them all).
const MAX_INCIDENTS: usize = 50;
/// The digest is cut here on the page.
const MAX_DIGEST: usize = 64 * 1024;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template("page.html", include_str!("page.html"))
            .expect("the page template parses");
        env.add_template("live.html", include_str!("live.html"))
            .expect("the live template parses");
        env
    })
}

#[derive(Serialize)]
struct Service {
    name: String,
    state: String,
    /// ok | bad | wait: the colour.
    tone: &'static str,
    incident: Option<String>,
    checks: Vec<Check>,
    /// How long ago the newest output of any of its checks was written.
    output_age: Option<String>,
}

#[derive(Serialize)]
struct Check {
    kind: String,
    mark: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct Incident {
    id: String,
    service: String,
    detected: String,
    state: &'static str,
    category: Option<String>,
    summary: String,
    action: String,
    timeline: Vec<Event>,
    postmortem: Option<String>,
}

#[derive(Serialize)]
struct Event {
    at: String,
    event: String,
    detail: String,
}

/// The whole page, or (`live_only`) the part its script refreshes.
pub fn render(cfg: &Config, snap: &Snapshot, live_only: bool) -> Result<String, minijinja::Error> {
    let services: Vec<Service> = snap
        .status
        .services
        .iter()
        .map(|s| Service {
            name: s.name.clone(),
            state: s.state.clone(),
            tone: tone(&s.state),
            incident: s.incident.clone(),
            output_age: s
                .checks
                .iter()
                .filter_map(|c| c.output_at)
                .max()
                .map(|t| ago(snap.at, t)),
            checks: s
                .checks
                .iter()
                .map(|c| Check {
                    kind: c.kind.clone(),
                    mark: match c.ok {
                        Some(true) => "ok",
                        Some(false) => "fail",
                        None => "…",
                    },
                    detail: c.detail.clone(),
                })
                .collect(),
        })
        .collect();
    let unhealthy = services.iter().filter(|s| s.tone == "bad").count();
    let incidents: Vec<Incident> = snap
        .incidents
        .iter()
        .take(MAX_INCIDENTS)
        .map(|i| Incident {
            id: i.id.clone(),
            service: i.service.clone(),
            detected: i.detected_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            state: crate::cmd::incident_view::state(i),
            category: i.postmortem.as_ref().map(|p| p.category.to_string()),
            summary: i
                .postmortem
                .as_ref()
                .map(|p| p.summary.clone())
                .or_else(|| i.failed_checks.first().map(|f| f.detail.clone()))
                .unwrap_or_default(),
            action: i.action.clone(),
            timeline: i
                .timeline
                .iter()
                .map(|e| Event {
                    at: e.at.format("%m-%d %H:%M:%S").to_string(),
                    event: e.event.clone(),
                    detail: e.detail.clone(),
                })
                .collect(),
            postmortem: i.postmortem.as_ref().map(crate::agent::render_markdown),
        })
        .collect();
    let ctx = minijinja::context! {
        daemon => snap.status.daemon_state(),
        degraded => &snap.status.degraded,
        generated => snap.at.format("%H:%M:%S UTC").to_string(),
        services => services,
        unhealthy => unhealthy,
        incidents => incidents,
        more_incidents => snap.incidents.len().saturating_sub(MAX_INCIDENTS),
        plot7 => super::timeline::plot(&snap.incidents, snap.at, 7),
        plot30 => super::timeline::plot(&snap.incidents, snap.at, 30),
        digest => if live_only { String::new() } else { digest(cfg) },
    };
    env()
        .get_template(if live_only { "live.html" } else { "page.html" })?
        .render(ctx)
}

fn tone(state: &str) -> &'static str {
    if healthy(state) {
        "ok"
    } else if matches!(state, "starting" | "confirming" | "held") {
        "wait"
    } else {
        "bad"
    }
}

fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let d = (now - t).to_std().unwrap_or_default();
    format!("{} ago", crate::probe::age(d))
}

/// The fleet digest as the daemon last wrote it (redacted when written).
fn digest(cfg: &Config) -> String {
    let path = cfg
        .daemon
        .digest
        .clone()
        .unwrap_or_else(|| cfg.daemon.state_dir.join("DIGEST.md"));
    match std::fs::read_to_string(&path) {
        Ok(mut s) => {
            if s.len() > MAX_DIGEST {
                let mut end = MAX_DIGEST;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
            }
            s
        }
        Err(_) => format!(
            "No digest written yet ({}); the daemon writes it after each post-mortem, or run `akashic digest`.",
            path.display()
        ),
    }
}
