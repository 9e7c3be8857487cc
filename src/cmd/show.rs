//! `akashic show ID`: one incident with its timeline and post-mortem.

use super::incident_view::{full, get, state};
use super::{load_config, out, out_json, CmdResult};
use crate::incident::Incident;
use std::path::Path;

pub fn run(flag: Option<&Path>, id: &str, json: bool) -> CmdResult {
    let cfg = load_config(flag)?;
    let Some(inc) = get(&cfg, id)? else {
        eprintln!("error: no incident {id:?}; `akashic incidents` lists them");
        return Ok(crate::exit::FAILURE);
    };
    if json {
        out_json(&full(&inc));
    } else {
        out(render(&inc));
    }
    Ok(crate::exit::OK)
}

/// The incident as a person reads it.
pub fn render(i: &Incident) -> String {
    let mut s = String::new();
    let p = &i.process;
    let yn = |b: Option<bool>, y: &str, n: &str| match b {
        Some(true) => y.to_string(),
        Some(false) => n.to_string(),
        None => "unknown".to_string(),
    };
    s.push_str(&format!("Incident {} ({})\n", i.id, state(i)));
    s.push_str(&format!("Service: {}\n", i.service));
    s.push_str(&format!(
        "Detected: {}\n",
        i.detected_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    for f in &i.failed_checks {
        s.push_str(&format!("  failed {}: {}\n", f.kind, f.detail));
    }
    s.push_str(&format!(
        "Process at detection: {}{}, port {}, HTTP {}\n",
        yn(p.running, "running", "not running"),
        p.pid.map(|x| format!(" (pid {x})")).unwrap_or_default(),
        yn(p.port_bound, "bound", "not bound"),
        p.http_status
            .map(|x| x.to_string())
            .unwrap_or_else(|| "none".into())
    ));
    s.push_str(&format!("Action: {}\n", i.action));
    if let (Some(at), Some(ev)) = (i.recovery_confirmed_at, &i.recovery_evidence) {
        s.push_str(&format!(
            "Recovery confirmed: {} ({ev})\n",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if let Some(r) = &i.escalation_reason {
        s.push_str(&format!("Escalated: {r}\n"));
    }
    s.push_str("\nTimeline:\n");
    for e in &i.timeline {
        s.push_str(&format!(
            "  {}  {:<17} {}\n",
            e.at.format("%H:%M:%S%.3f"),
            e.event,
            e.detail
        ));
    }
    if let Some(f) = &i.forensics {
        s.push_str(&format!(
            "\nForensics ({}, {} ms{}):\n",
            f.method,
            f.took_ms,
            if f.truncated { ", truncated" } else { "" }
        ));
        for line in f.text.lines().take(40) {
            s.push_str(&format!("  {line}\n"));
        }
    }
    match &i.postmortem {
        Some(pm) => {
            s.push('\n');
            s.push_str(&crate::agent::render_markdown(pm));
        }
        None => s.push_str("\nPost-mortem: not written yet\n"),
    }
    s
}
