//! Past post-mortems as a port (`PriorSource`): the memory implements it; `NoPriors` and `MemPriors` here.

use crate::core::category::Category;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A past post-mortem that may be related to the incident at hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorCandidate {
    pub id: String,
    pub service: String,
    pub date: DateTime<Utc>,
    pub category: Category,
    pub summary: String,
    pub root_cause: String,
    pub recommendation: String,
    /// Similarity to the query, higher is closer.
    pub score: f32,
    /// A person confirmed or corrected its category (`akashic label`).
    #[serde(default)]
    pub confirmed: bool,
    /// Its cited evidence lines, when memory kept them.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Where similar past post-mortems come from (the vector memory in the daemon).
pub trait PriorSource: Send + Sync {
    /// Up to `k` past post-mortems similar to `text`, best first (any service; `service` may rank).
    fn similar<'a>(
        &'a self,
        text: &'a str,
        service: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Vec<PriorCandidate>>;
    /// Whether a post-mortem with this id is in memory.
    fn exists<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool>;
}

/// No memory: nothing is similar and nothing exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPriors;

impl PriorSource for NoPriors {
    fn similar<'a>(
        &'a self,
        _text: &'a str,
        _service: &'a str,
        _k: usize,
    ) -> BoxFuture<'a, Vec<PriorCandidate>> {
        Box::pin(async { Vec::new() })
    }
    fn exists<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}

/// An in-memory list of post-mortems ranked by word overlap: eval cases' `[[history]]` and tests.
#[derive(Debug, Clone, Default)]
pub struct MemPriors {
    pub items: Vec<PriorCandidate>,
}

impl MemPriors {
    pub fn new(items: Vec<PriorCandidate>) -> Self {
        MemPriors { items }
    }
}

/// Lowercase words of three letters or more, digits dropped.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(|w| w.to_lowercase())
        .collect()
}

/// Cosine-like overlap of two word sets in [0, 1].
pub fn similarity(a: &str, b: &str) -> f32 {
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    let common = wa.intersection(&wb).count() as f32;
    common / ((wa.len() as f32).sqrt() * (wb.len() as f32).sqrt())
}

impl PriorSource for MemPriors {
    fn similar<'a>(
        &'a self,
        text: &'a str,
        service: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Vec<PriorCandidate>> {
        Box::pin(async move {
            let mut out: Vec<PriorCandidate> = self
                .items
                .iter()
                .map(|p| {
                    let doc = format!(
                        "{} {} {} {} {}",
                        p.category,
                        p.summary,
                        p.root_cause,
                        p.recommendation,
                        p.evidence.join(" ")
                    );
                    let mut score = similarity(text, &doc);
                    if p.service == service {
                        score += 0.1;
                    }
                    PriorCandidate {
                        score: score.min(1.0),
                        ..p.clone()
                    }
                })
                .collect();
            out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
            out.truncate(k);
            out
        })
    }
    fn exists<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { self.items.iter().any(|p| p.id == id) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, service: &str, summary: &str) -> PriorCandidate {
        PriorCandidate {
            id: id.into(),
            service: service.into(),
            date: Utc::now(),
            category: Category::RateLimit,
            summary: summary.into(),
            root_cause: String::new(),
            recommendation: String::new(),
            score: 0.0,
            confirmed: false,
            evidence: Vec::new(),
        }
    }

    #[tokio::test]
    async fn mem_priors_rank_by_overlap_and_know_their_ids() {
        let m = MemPriors::new(vec![
            cand("a", "x", "disk full on the export volume"),
            cand(
                "b",
                "x",
                "upstream answered 429 too many requests all night",
            ),
        ]);
        let got = m.similar("429 Too Many Requests retrying", "x", 1).await;
        assert_eq!(got[0].id, "b");
        assert!(m.exists("a").await);
        assert!(!m.exists("zz").await);
        assert!(NoPriors.similar("x", "y", 3).await.is_empty());
    }
}
