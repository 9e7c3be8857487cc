//! A remembered post-mortem, a search hit and a filter: the values every memory port exchanges.

use crate::agent::model::PostMortem;
use crate::core::category::Category;
use chrono::{DateTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// One post-mortem in memory; its JSON is the import format (specs/memory-import.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryDoc {
    pub id: String,
    pub service: String,
    pub date: DateTime<Utc>,
    pub category: Category,
    pub summary: String,
    pub root_cause: String,
    pub recommendation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// `"person"` when someone confirmed or corrected it with `akashic label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// The cited evidence lines: what makes a later incident the same mechanism.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl MemoryDoc {
    /// The text that is embedded: what a question about this incident would be near.
    pub fn embed_text(&self) -> String {
        let mut t = format!(
            "{} ({}): {} Root cause: {} Recommendation: {}",
            self.service, self.category, self.summary, self.root_cause, self.recommendation
        );
        if !self.evidence.is_empty() {
            t.push_str(" Evidence: ");
            t.push_str(&self.evidence.join(" | "));
        }
        t
    }
}

impl From<&PostMortem> for MemoryDoc {
    fn from(pm: &PostMortem) -> Self {
        MemoryDoc {
            id: pm.incident_id.clone(),
            service: pm.service.clone(),
            date: pm.detected_at,
            category: pm.category,
            summary: pm.summary.clone(),
            root_cause: pm.root_cause.clone(),
            recommendation: pm.recommendations.join("; "),
            incident_id: Some(pm.incident_id.clone()),
            confirmed_by: pm.confirmed_by.clone(),
            evidence: pm.evidence.iter().map(|e| e.text.clone()).collect(),
        }
    }
}

/// A doc that matched a query, with its score: the cosine similarity for a vector search, the
/// fused rank for `ask` (1.0: first in both the dense and the lexical ranking).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub doc: MemoryDoc,
    pub score: f32,
}

/// Restricts a search or a listing; `None` fields match everything. Times are inclusive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub service: Option<String>,
    pub category: Option<Category>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Hours of the day (UTC), from the first inclusive to the second exclusive; `(22, 6)` wraps
    /// over midnight.
    pub hours: Option<(u32, u32)>,
    /// Days of the week (UTC); empty means every day.
    pub weekdays: Vec<Weekday>,
}

impl Filter {
    /// Whether a doc passes the filter.
    pub fn matches(&self, doc: &MemoryDoc) -> bool {
        self.passes(&doc.service, doc.category, doc.date)
    }

    /// Whether a doc with these fields passes the filter.
    pub fn passes(&self, service: &str, category: Category, date: DateTime<Utc>) -> bool {
        self.service.as_ref().is_none_or(|s| s == service)
            && self.category.is_none_or(|c| c == category)
            && self.since.is_none_or(|t| date >= t)
            && self.until.is_none_or(|t| date <= t)
            && self.passes_clock(date.timestamp())
    }

    /// Whether a time (Unix seconds) is within `hours` and `weekdays`.
    pub fn passes_clock(&self, ts: i64) -> bool {
        let in_hours = self.hours.is_none_or(|(from, to)| {
            let h = (ts.rem_euclid(86_400) / 3_600) as u32;
            if from <= to {
                h >= from && h < to
            } else {
                h >= from || h < to
            }
        });
        // 1970-01-01 was a Thursday (3 days after a Monday).
        let day = (ts.div_euclid(86_400) + 3).rem_euclid(7) as u32;
        in_hours
            && (self.weekdays.is_empty()
                || self
                    .weekdays
                    .iter()
                    .any(|w| w.num_days_from_monday() == day))
    }
}

/// An embedding with the model that produced it; its dimension is `values.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector {
    pub model_id: String,
    pub values: Vec<f32>,
}

/// A doc to store, with its vector when the model was available.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub doc: MemoryDoc,
    pub vector: Option<Vector>,
}

/// Scales a vector to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A hit for unit tests: a post-mortem with empty texts.
#[cfg(test)]
impl Hit {
    pub(crate) fn sample(
        id: &str,
        service: &str,
        category: Category,
        date: &str,
        score: f32,
    ) -> Hit {
        Hit {
            doc: MemoryDoc {
                id: id.into(),
                service: service.into(),
                date: date.parse().expect("an RFC 3339 date"),
                category,
                summary: String::new(),
                root_cause: String::new(),
                recommendation: String::new(),
                incident_id: None,
                confirmed_by: None,
                evidence: Vec::new(),
            },
            score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_mortem_becomes_a_memory_doc() {
        let at = "2026-03-14T03:14:00Z".parse().unwrap();
        let pm = PostMortem {
            confirmed_by: None,
            incident_id: "01JINC".into(),
            service: "content-pipeline-v2".into(),
            detected_at: at,
            detection: String::new(),
            process_state: String::new(),
            recovery_action: String::new(),
            recovery: String::new(),
            category: Category::RateLimit,
            summary: "stuck in a 429 loop".into(),
            root_cause: "retry without backoff".into(),
            evidence: vec![],
            recommendations: vec!["backoff".into(), "jitter".into()],
            prior_incidents: vec![],
            same_pattern_90d: 0,
            services: Vec::new(),
            shared_endpoint: None,
            recurrence: None,
            author: "template".into(),
            provenance: vec![],
            drafted_at: at,
        };
        let d = MemoryDoc::from(&pm);
        assert_eq!(
            (d.id.as_str(), d.incident_id.as_deref()),
            ("01JINC", Some("01JINC"))
        );
        assert_eq!(d.recommendation, "backoff; jitter");
        assert_eq!((d.date, d.category), (at, Category::RateLimit));
    }

    #[test]
    fn hours_wrap_over_midnight_and_weekdays_are_utc() {
        let night = Filter {
            hours: Some((22, 6)),
            ..Default::default()
        };
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap().timestamp();
        assert!(night.passes_clock(at("2026-11-28T23:59:00Z")));
        assert!(night.passes_clock(at("2026-11-28T05:59:00Z")));
        assert!(!night.passes_clock(at("2026-11-28T06:00:00Z")));
        assert!(!night.passes_clock(at("2026-11-28T21:59:00Z")));
        let weekend = Filter {
            weekdays: vec![Weekday::Sat, Weekday::Sun],
            ..Default::default()
        };
        assert!(
            weekend.passes_clock(at("2026-11-28T12:00:00Z")),
            "a Saturday"
        );
        assert!(weekend.passes_clock(at("2026-11-29T23:00:00Z")), "a Sunday");
        assert!(
            !weekend.passes_clock(at("2026-11-30T00:00:00Z")),
            "a Monday"
        );
    }
}
