//! The memory as the agent's `PriorSource`: similar past post-mortems, and whether an id exists.

use super::{Filter, Memory};
use crate::agent::{PriorCandidate, PriorSource};
use futures::future::BoxFuture;

/// Past post-mortems from the vector memory; a memory that cannot answer means no priors, never a failure.
pub struct MemoryPriors<'m> {
    pub memory: &'m Memory,
}

impl PriorSource for MemoryPriors<'_> {
    fn similar<'a>(
        &'a self,
        text: &'a str,
        _service: &'a str,
        k: usize,
    ) -> BoxFuture<'a, Vec<PriorCandidate>> {
        Box::pin(async move {
            match self.memory.similar(text, &Filter::default(), k).await {
                Ok(hits) => hits
                    .into_iter()
                    .map(|h| PriorCandidate {
                        id: h.doc.id,
                        service: h.doc.service,
                        date: h.doc.date,
                        category: h.doc.category,
                        summary: h.doc.summary,
                        root_cause: h.doc.root_cause,
                        recommendation: h.doc.recommendation,
                        score: h.score,
                        confirmed: h.doc.confirmed_by.is_some(),
                        evidence: h.doc.evidence,
                    })
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %crate::errors::chain(&e), "similar incidents unavailable; drafting without them");
                    Vec::new()
                }
            }
        })
    }

    fn exists<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            match self.memory.open_store().await {
                Ok(store) => matches!(store.get(id).await, Ok(Some(_))),
                Err(_) => false,
            }
        })
    }
}
