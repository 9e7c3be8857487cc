//! An incident: the watchdog's record of facts, written before any slow work.

use crate::core::category::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A failed check as recorded in an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedCheck {
    /// The check kind of specs/config.md: `log_stale`, `http`, `port`, `artifact`;
    /// or `exited` when a supervised child exited on its own.
    pub kind: String,
    /// The failure kind, e.g. `stale`, `refused`, `timeout`, `status`, `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// A line a human can read, e.g. `log unchanged for 12m04s (max 10m)`.
    pub detail: String,
}

/// What akashic saw of the process at detection time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessState {
    pub running: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub port_bound: Option<bool>,
    pub http_status: Option<u16>,
}

/// A snapshot of a hung process taken within a time budget before the kill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forensics {
    /// How it was taken: `proc` (Linux), `sample` (macOS), or `none` with the reason in `text`.
    pub method: String,
    pub text: String,
    pub took_ms: u64,
    /// The budget ran out before every part was taken.
    pub truncated: bool,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    /// A short fixed word: detected, evidence, restart, restart_failed, recovered, escalated, resumed, postmortem...
    pub event: String,
    pub detail: String,
}

/// The watchdog's record of one failure episode of one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub service: String,
    pub detected_at: DateTime<Utc>,
    pub failed_checks: Vec<FailedCheck>,
    pub process: ProcessState,
    #[serde(default)]
    pub forensics: Option<Forensics>,
    /// The last lines of the service's log at detection, as found (redacted before any model or memory sees them).
    #[serde(default)]
    pub log_tail: Option<String>,
    /// What akashic did, e.g. `SIGTERM + SIGKILL + child restart (pid 4242)`, or `none (escalated)`.
    pub action: String,
    pub restarts: u32,
    #[serde(default)]
    pub restarted_at: Option<DateTime<Utc>>,
    pub recovered: bool,
    #[serde(default)]
    pub recovery_confirmed_at: Option<DateTime<Utc>>,
    /// The growth that proved recovery, e.g. `2 new files matching out/*.json since restart`.
    #[serde(default)]
    pub recovery_evidence: Option<String>,
    #[serde(default)]
    pub escalated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub escalation_reason: Option<String>,
    pub timeline: Vec<TimelineEvent>,
    #[serde(default)]
    pub postmortem: Option<crate::agent::model::PostMortem>,
    /// Its failure pattern as read at detection (specs/fleet.md); `None` before akashic read one.
    #[serde(default)]
    pub pattern: Option<crate::core::policy::Pattern>,
    /// The dependency incident its restart was held on.
    #[serde(default)]
    pub caused_by: Option<CausedBy>,
    /// The fleet group it belongs to (`grp-` and the dependency's incident id).
    #[serde(default)]
    pub group: Option<String>,
}

/// `caused_by`: the dependency whose incident held this one's restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausedBy {
    pub dependency: String,
    pub incident: String,
}

impl Incident {
    /// This incident with every secret of a known shape masked in its free text (check
    /// details, log tail, forensics, timeline, post-mortem): what is stored and shown.
    pub fn redacted(&self) -> Incident {
        let mut inc = self.clone();
        let mask = crate::agent::redact::redact_in_place;
        for c in &mut inc.failed_checks {
            mask(&mut c.detail);
        }
        if let Some(f) = &mut inc.forensics {
            mask(&mut f.text);
        }
        for s in [
            &mut inc.log_tail,
            &mut inc.recovery_evidence,
            &mut inc.escalation_reason,
        ]
        .into_iter()
        .flatten()
        {
            mask(s);
        }
        mask(&mut inc.action);
        for e in &mut inc.timeline {
            mask(&mut e.detail);
        }
        if let Some(pm) = &mut inc.postmortem {
            pm.redact();
        }
        inc
    }

    /// Open or closed: closed once recovered or escalated.
    pub fn is_open(&self) -> bool {
        !self.recovered && self.escalated_at.is_none()
    }

    /// Escalated, and the service not yet let go (no budget refill, no `akashic resume`):
    /// what a restarted akashic must keep holding instead of opening a new incident.
    pub fn escalation_holds(&self) -> bool {
        self.escalated_at.is_some()
            && !self.recovered
            && !self
                .timeline
                .iter()
                .any(|e| e.event == "budget_refilled" || e.event == "resumed")
    }
}

/// A brief view of a post-mortem for listings.
#[derive(Debug, Clone, Serialize)]
pub struct PostmortemBrief {
    pub author: String,
    pub category: Category,
}
