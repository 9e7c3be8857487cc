//! The structured post-mortem: what the agent drafts, validates, stores and shows.

use crate::core::category::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One quoted piece of evidence; `text` must occur verbatim in the gathered evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceQuote {
    pub text: String,
    /// Where it was found: `log`, `forensics` or `check`.
    pub source: String,
    /// How many times the line occurred (repeated lines are collapsed).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// A past incident the post-mortem relates to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorIncident {
    pub id: String,
    pub date: Option<DateTime<Utc>>,
    pub category: Option<Category>,
    pub summary: String,
    pub score: f32,
    /// Same service and same failure pattern.
    pub same_pattern: bool,
}

impl PostMortem {
    /// Masks every secret of a known shape in its text.
    pub fn redact(&mut self) {
        let mask = crate::agent::redact::redact_in_place;
        for s in [
            &mut self.detection,
            &mut self.process_state,
            &mut self.recovery_action,
            &mut self.recovery,
            &mut self.summary,
            &mut self.root_cause,
        ] {
            mask(s);
        }
        for q in &mut self.evidence {
            mask(&mut q.text);
        }
        for r in &mut self.recommendations {
            mask(r);
        }
        for p in &mut self.prior_incidents {
            mask(&mut p.summary);
        }
    }
}

/// A structured post-mortem. Facts come from the incident, never from a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostMortem {
    pub incident_id: String,
    pub service: String,
    pub detected_at: DateTime<Utc>,
    /// Facts copied from the watchdog's record.
    pub detection: String,
    pub process_state: String,
    pub recovery_action: String,
    pub recovery: String,
    /// Drafted parts.
    pub category: Category,
    pub summary: String,
    pub root_cause: String,
    pub evidence: Vec<EvidenceQuote>,
    pub recommendations: Vec<String>,
    pub prior_incidents: Vec<PriorIncident>,
    /// Incidents of the same pattern in the 90 days before detection.
    pub same_pattern_90d: u32,
    /// `llm:<model>` or `template`.
    pub author: String,
    /// Which author wrote which part, e.g. `root_cause: llm:local`, `evidence: template`.
    pub provenance: Vec<String>,
    pub drafted_at: DateTime<Utc>,
    /// `"person"` once someone confirmed or corrected it (`akashic label`); else null.
    #[serde(default)]
    pub confirmed_by: Option<String>,
    /// A fleet group's post-mortem: the failing dependency first, then every service held
    /// on it (specs/fleet.md); empty for one service's own.
    #[serde(default)]
    pub services: Vec<String>,
    /// An inferred group's: the endpoint every member's evidence names.
    #[serde(default)]
    pub shared_endpoint: Option<String>,
    /// What the recurrence of its pattern changed in the response, when it did.
    #[serde(default)]
    pub recurrence: Option<String>,
}
