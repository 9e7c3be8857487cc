//! Validation and grounding of a post-mortem, shared by the template and model paths.

use super::evidence::Evidence;
use super::model::PostMortem;

/// Longest summary, in characters.
pub const MAX_SUMMARY: usize = 400;
/// Longest root cause, in characters.
pub const MAX_ROOT_CAUSE: usize = 2000;
/// Longest quote or recommendation, in characters.
pub const MAX_ITEM: usize = 1000;
pub const MAX_QUOTES: usize = 10;
pub const MAX_RECOMMENDATIONS: usize = 8;

/// One reason a post-mortem is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} has more than {max} items")]
    TooMany { field: &'static str, max: usize },
    #[error("author {0:?} is neither `template` nor `llm:<model>`")]
    Author(String),
    #[error("evidence quote {0:?} does not occur verbatim in the gathered evidence")]
    NotGrounded(String),
    #[error("evidence source {0:?} is not log, forensics or check")]
    Source(String),
    #[error("prior incident {0:?} is not in memory")]
    UnknownPrior(String),
}

fn text(field: &'static str, s: &str, max: usize, out: &mut Vec<Problem>) {
    if s.trim().is_empty() {
        out.push(Problem::Empty(field));
    } else if s.chars().count() > max {
        out.push(Problem::TooLong { field, max });
    }
}

/// Structural checks: fields present and bounded, author well-formed. Empty = valid.
pub fn validate(pm: &PostMortem) -> Vec<Problem> {
    let mut out = Vec::new();
    text("incident_id", &pm.incident_id, 200, &mut out);
    text("service", &pm.service, 200, &mut out);
    text("detection", &pm.detection, MAX_ROOT_CAUSE, &mut out);
    text("process_state", &pm.process_state, MAX_ITEM, &mut out);
    text("recovery_action", &pm.recovery_action, MAX_ITEM, &mut out);
    text("recovery", &pm.recovery, MAX_ITEM, &mut out);
    text("summary", &pm.summary, MAX_SUMMARY, &mut out);
    text("root_cause", &pm.root_cause, MAX_ROOT_CAUSE, &mut out);
    if pm.recommendations.is_empty() {
        out.push(Problem::Empty("recommendations"));
    }
    if pm.recommendations.len() > MAX_RECOMMENDATIONS {
        out.push(Problem::TooMany {
            field: "recommendations",
            max: MAX_RECOMMENDATIONS,
        });
    }
    for r in &pm.recommendations {
        text("recommendation", r, MAX_ITEM, &mut out);
    }
    if pm.evidence.len() > MAX_QUOTES {
        out.push(Problem::TooMany {
            field: "evidence",
            max: MAX_QUOTES,
        });
    }
    for q in &pm.evidence {
        text("evidence quote", &q.text, MAX_ITEM, &mut out);
        if !matches!(q.source.as_str(), "log" | "forensics" | "check") {
            out.push(Problem::Source(q.source.clone()));
        }
    }
    let author_ok = pm.author == "template"
        || pm
            .author
            .strip_prefix("llm:")
            .is_some_and(|m| !m.trim().is_empty());
    if !author_ok {
        out.push(Problem::Author(pm.author.clone()));
    }
    if pm.provenance.is_empty() {
        out.push(Problem::Empty("provenance"));
    }
    out
}

/// Grounding: every quote occurs verbatim in the evidence, every prior is one memory returned. Empty = grounded.
pub fn grounding(pm: &PostMortem, ev: &Evidence) -> Vec<Problem> {
    let mut out = Vec::new();
    for q in &pm.evidence {
        if ev.source_of(&q.text).is_none() {
            out.push(Problem::NotGrounded(q.text.clone()));
        }
    }
    for p in &pm.prior_incidents {
        if !ev.priors.iter().any(|c| c.id == p.id) {
            out.push(Problem::UnknownPrior(p.id.clone()));
        }
    }
    out
}
