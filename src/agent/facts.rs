//! The facts of a post-mortem, taken from the watchdog's incident record only.

use crate::incident::model::Incident;

/// What failed, from the failed checks.
pub fn detection(incident: &Incident) -> String {
    let parts: Vec<String> = incident
        .failed_checks
        .iter()
        .map(|c| format!("{}: {}", c.kind, c.detail))
        .collect();
    if parts.is_empty() {
        "no failed check recorded".into()
    } else {
        parts.join("; ")
    }
}

/// The process as akashic saw it at detection.
pub fn process_state(incident: &Incident) -> String {
    let p = &incident.process;
    let mut parts: Vec<String> = Vec::new();
    let exited = incident.failed_checks.iter().any(|c| c.kind == "exited")
        || incident
            .forensics
            .as_ref()
            .is_some_and(|f| f.text.contains("was not running"));
    match p.running {
        Some(true) => parts.push("running".into()),
        Some(false) => parts.push("not running".into()),
        // no pid was recorded because there was no process: say so, not "unknown"
        None if exited => parts.push("not running (it had exited)".into()),
        None if p.pid.is_none() && p.port_bound == Some(false) => {
            parts.push("not running (no process)".into())
        }
        None => parts.push("process state not captured".into()),
    }
    if let Some(pid) = p.pid {
        parts.push(format!("pid {pid}"));
    }
    match p.port_bound {
        Some(true) => parts.push("port bound".into()),
        Some(false) => parts.push("port not bound".into()),
        None => {}
    }
    if let Some(s) = p.http_status {
        parts.push(format!("HTTP {s}"));
    }
    parts.join(", ")
}

/// What akashic did.
pub fn recovery_action(incident: &Incident) -> String {
    if incident.action.trim().is_empty() {
        "none recorded".into()
    } else {
        incident.action.clone()
    }
}

/// Whether and how recovery was confirmed.
pub fn recovery(incident: &Incident) -> String {
    if incident.recovered {
        let at = incident
            .recovery_confirmed_at
            .map(|t| t.format("%H:%M UTC").to_string())
            .unwrap_or_else(|| "time not recorded".into());
        match &incident.recovery_evidence {
            Some(e) if !e.trim().is_empty() => format!("{at}, {e}"),
            _ => at,
        }
    } else if let Some(at) = incident.escalated_at {
        format!(
            "no; escalated at {}{}",
            at.format("%H:%M UTC"),
            incident
                .escalation_reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        )
    } else {
        "not confirmed".into()
    }
}

/// What the recurrence of its pattern changed, from the incident's own timeline: the pattern
/// count, the rule it met, the remedy that ran.
pub fn recurrence(i: &Incident) -> Option<String> {
    let said: Vec<&str> = i
        .timeline
        .iter()
        .filter(|e| matches!(e.event.as_str(), "pattern" | "recurrence" | "remedy"))
        .map(|e| e.detail.as_str())
        .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::model::{FailedCheck, ProcessState};

    fn incident(process: ProcessState, kind: &str) -> Incident {
        Incident {
            id: "i".into(),
            service: "s".into(),
            detected_at: chrono::Utc::now(),
            failed_checks: vec![FailedCheck {
                kind: kind.into(),
                failure: None,
                detail: "d".into(),
            }],
            process,
            forensics: None,
            log_tail: None,
            action: String::new(),
            restarts: 0,
            restarted_at: None,
            recovered: false,
            recovery_confirmed_at: None,
            recovery_evidence: None,
            escalated_at: None,
            escalation_reason: None,
            timeline: Vec::new(),
            postmortem: None,
            pattern: None,
            caused_by: None,
            group: None,
        }
    }

    #[test]
    fn a_process_that_was_not_running_is_not_called_running_unknown() {
        let gone = incident(ProcessState::default(), "exited");
        assert_eq!(process_state(&gone), "not running (it had exited)");
        let unbound = incident(
            ProcessState {
                port_bound: Some(false),
                ..Default::default()
            },
            "port",
        );
        assert_eq!(
            process_state(&unbound),
            "not running (no process), port not bound"
        );
        assert!(!process_state(&incident(ProcessState::default(), "http")).contains("unknown"));
    }
}
