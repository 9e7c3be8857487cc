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
    if let Some(p) = &i.pattern {
        s.push_str(&format!(
            "Pattern: {} ({} of this service in the last {} days{})\n",
            p.category,
            p.count,
            p.within_days,
            if p.previous.is_empty() {
                String::new()
            } else {
                format!("; before: {}", p.previous.join(", "))
            }
        ));
    }
    if let Some(c) = &i.caused_by {
        s.push_str(&format!(
            "Caused by: {} (incident {})\n",
            c.dependency, c.incident
        ));
    }
    if let Some(g) = &i.group {
        s.push_str(&format!("Group: {g}\n"));
    }
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
        None => match &i.caused_by {
            // A held incident shares its dependency's post-mortem.
            Some(c) => s.push_str(&format!(
                "\nPost-mortem: {}'s, which names every service held on it: akashic show {}\n",
                c.dependency, c.incident
            )),
            None => s.push_str("\nPost-mortem: not written yet\n"),
        },
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dependent held on its database, as `akashic show` prints it.
    #[test]
    fn a_held_incident_shows_its_pattern_cause_and_group() {
        let i: Incident = serde_json::from_value(serde_json::json!({
            "id": "inc-2", "service": "orders-api", "detected_at": "2026-03-14T03:14:05Z",
            "failed_checks": [{"kind": "artifact", "detail": "newest output batch-000010.json is 5.8s old (max 5s)"}],
            "process": {"running": true, "pid": 801, "port_bound": true, "http_status": 200},
            "action": "held: waiting for db; recovered without a restart", "restarts": 0,
            "recovered": true, "recovery_confirmed_at": "2026-03-14T03:14:30Z",
            "recovery_evidence": "db healthy again and every check passes without a restart: artifact: newest output batch-000011.json is 0.4s old (max 5s)",
            "timeline": [
                {"at": "2026-03-14T03:14:05Z", "event": "detected", "detail": "artifact: newest output batch-000010.json is 5.8s old (max 5s)"},
                {"at": "2026-03-14T03:14:05.100Z", "event": "held", "detail": "db has an open incident (inc-1): restart held until it is healthy again; no restart budget spent"},
                {"at": "2026-03-14T03:14:30Z", "event": "recovered", "detail": "recovery confirmed"}
            ],
            "pattern": {"category": "dependency_unavailable", "count": 2, "within_days": 90, "previous": ["inc-0"]},
            "caused_by": {"dependency": "db", "incident": "inc-1"},
            "group": "grp-inc-1"
        }))
        .expect("an incident");
        insta::assert_snapshot!(render(&i));
    }
}
