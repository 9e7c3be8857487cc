//! Eval cases (specs/eval-cases.md): parsing with file/line/key errors, and turning a case into an incident.

use super::evidence::Change;
use super::priors::PriorCandidate;
use super::redact::redact;
use crate::core::category::Category;
use crate::incident::model::{FailedCheck, Forensics, Incident, ProcessState};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A case file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub service: CaseService,
    pub incident: CaseIncident,
    #[serde(default)]
    pub context: CaseContext,
    #[serde(default)]
    pub history: Vec<CaseHistory>,
    pub expected: Expected,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseService {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseIncident {
    pub detected_at: DateTime<Utc>,
    #[serde(default)]
    pub failed_checks: Vec<CaseCheck>,
    #[serde(default)]
    pub process: CaseProcess,
    #[serde(default)]
    pub recovery: Option<CaseRecovery>,
    #[serde(default)]
    pub forensics: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCheck {
    pub kind: String,
    #[serde(default)]
    pub failure: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseProcess {
    pub running: Option<bool>,
    pub pid: Option<u32>,
    pub port_bound: Option<bool>,
    pub http_status: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRecovery {
    pub action: String,
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub evidence: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseContext {
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default)]
    pub changes: Vec<CaseChange>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseChange {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub summary: String,
    #[serde(default)]
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseHistory {
    pub id: String,
    pub service: String,
    pub date: DateTime<Utc>,
    pub category: Category,
    pub summary: String,
    pub root_cause: String,
    pub recommendation: String,
    /// `"person"`: confirmed or corrected with `akashic label` (optional).
    pub confirmed_by: Option<String>,
    /// The lines the post-mortem cited (optional).
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub category: Category,
    #[serde(default)]
    pub evidence: Vec<String>,
    #[serde(default)]
    pub recommendation_any: Vec<String>,
    #[serde(default)]
    pub prior_matches: Vec<String>,
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses case text as if read from `path`; unknown keys name the file, the line and the key.
pub fn parse(text: &str, path: &Path) -> Result<Case, CaseError> {
    toml::from_str::<Case>(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_at(text, s.start));
        let msg = e.message().trim().to_string();
        let message = match msg.strip_prefix("unknown field `") {
            Some(rest) => {
                let key = rest.split('`').next().unwrap_or(rest);
                format!("unknown key `{key}`")
            }
            None => msg,
        };
        CaseError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        }
    })
}

/// Reads and parses one case file.
pub fn load(path: &Path) -> Result<Case, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

impl Case {
    /// The incident the watchdog would have recorded.
    pub fn incident(&self) -> Incident {
        let i = &self.incident;
        let recovered = i
            .recovery
            .as_ref()
            .is_some_and(|r| r.confirmed_at.is_some());
        Incident {
            id: self.id.clone(),
            service: self.service.name.clone(),
            detected_at: i.detected_at,
            failed_checks: i
                .failed_checks
                .iter()
                .map(|c| FailedCheck {
                    kind: c.kind.clone(),
                    failure: c.failure.clone(),
                    detail: c.detail.clone(),
                })
                .collect(),
            process: ProcessState {
                running: i.process.running,
                pid: i.process.pid,
                port_bound: i.process.port_bound,
                http_status: i.process.http_status,
            },
            forensics: i.forensics.as_ref().map(|t| Forensics {
                method: "case".into(),
                text: t.clone(),
                took_ms: 0,
                truncated: false,
            }),
            log_tail: self.context.log.clone(),
            action: i
                .recovery
                .as_ref()
                .map_or_else(|| "none recorded".into(), |r| r.action.clone()),
            restarts: u32::from(i.recovery.is_some()),
            restarted_at: None,
            recovered,
            recovery_confirmed_at: i.recovery.as_ref().and_then(|r| r.confirmed_at),
            recovery_evidence: i.recovery.as_ref().and_then(|r| r.evidence.clone()),
            escalated_at: None,
            escalation_reason: None,
            timeline: Vec::new(),
            postmortem: None,
            pattern: None,
            caused_by: None,
            group: None,
        }
    }

    /// The change history of the case.
    pub fn changes(&self) -> Vec<Change> {
        self.context
            .changes
            .iter()
            .map(|c| Change {
                at: Some(c.at),
                kind: c.kind.clone(),
                summary: c.summary.clone(),
                files: c.files.clone(),
            })
            .collect()
    }

    /// The case's memory.
    pub fn priors(&self) -> Vec<PriorCandidate> {
        self.history
            .iter()
            .map(|h| PriorCandidate {
                id: h.id.clone(),
                service: h.service.clone(),
                date: h.date,
                category: h.category,
                summary: h.summary.clone(),
                root_cause: h.root_cause.clone(),
                recommendation: h.recommendation.clone(),
                score: 0.0,
                confirmed: h.confirmed_by.is_some(),
                evidence: h.evidence.clone(),
            })
            .collect()
    }

    /// Whether a quote is verbatim text of the case's log, forensics or a failed check's detail.
    /// Whether `quote` is verbatim text of the log, the forensics or a failed check's detail, as
    /// written or as the agent reads it (redacted: secrets are masked before anything is drafted).
    pub fn grounds(&self, quote: &str) -> bool {
        let q = quote.trim();
        let holds = |text: &str| text.contains(q) || redact(text).contains(q);
        !q.is_empty()
            && (self.context.log.as_deref().is_some_and(holds)
                || self.incident.forensics.as_deref().is_some_and(holds)
                || self.incident.failed_checks.iter().any(|c| holds(&c.detail)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"id = "x"
[service]
name = "svc"
[incident]
detected_at = "2026-03-14T03:14:00Z"
failed_checks = [{ kind = "log_stale", detail = "stale" }]
[expected]
category = "unknown"
"#;

    #[test]
    fn a_minimal_case_parses() {
        let c = parse(MIN, Path::new("x.toml")).expect("parses");
        assert_eq!(c.incident().service, "svc");
    }

    #[test]
    fn an_unknown_key_names_file_line_and_key() {
        let text = MIN.replace("[expected]\n", "[expected]\nbogus = 1\n");
        let e = parse(&text, Path::new("cases/x.toml")).expect_err("unknown key");
        assert_eq!(e.to_string(), "cases/x.toml:8: unknown key `bogus`");
    }

    #[test]
    fn a_quote_of_a_redacted_line_is_grounded_and_an_invented_one_is_not() {
        let text = MIN.replace(
            "[expected]\n",
            "[context]\nlog = \"POST https://hooks.slack.com/services/T0/B1/xyzSECRET failed\"\n[expected]\n",
        );
        let c = parse(&text, Path::new("x.toml")).expect("parses");
        let log = c.context.log.clone().expect("log");
        let redacted = redact(&log);
        assert_ne!(redacted, log, "the webhook path is a secret");
        assert!(c.grounds(&redacted));
        assert!(c.grounds(&log));
        assert!(!c.grounds("POST https://hooks.slack.com/services/[REDACTED] succeeded"));
    }
}
