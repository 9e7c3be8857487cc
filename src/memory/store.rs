//! The vector-store port: what every backend (embedded SQLite, Qdrant) offers the facade.

use super::doc::{Filter, Hit, MemoryDoc, Record, Vector};
use super::error::MemoryError;
use super::lexical::LexicalIndex;
use super::services::Services;
use async_trait::async_trait;

/// A durable store of post-mortems and their vectors. A write that returns `Ok` is durable.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Where the store lives, for messages (a path or a url).
    fn describe(&self) -> String;
    /// Adds or replaces records by id. A record without a vector is kept and listed by
    /// `docs_without_vector` until a later upsert gives it one.
    async fn upsert(&mut self, records: Vec<Record>) -> Result<(), MemoryError>;
    /// The `k` docs nearest to `query` among those passing `filter`, best first.
    async fn search(
        &self,
        query: &Vector,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, MemoryError>;
    async fn get(&self, id: &str) -> Result<Option<MemoryDoc>, MemoryError>;
    /// Removes a doc and its vector; false when there was none.
    async fn delete(&mut self, id: &str) -> Result<bool, MemoryError>;
    async fn count(&self) -> Result<usize, MemoryError>;
    /// Docs passing `filter`, newest first.
    async fn list(&self, filter: &Filter) -> Result<Vec<MemoryDoc>, MemoryError>;
    /// Docs stored while the model was unavailable, waiting for `akashic memory reindex`.
    async fn docs_without_vector(&self) -> Result<Vec<MemoryDoc>, MemoryError>;
    /// The `k` docs passing `filter` whose words best match `words` (BM25F over their fields),
    /// best first. By default an index is built over every doc `list` returns, so word weights
    /// are those of the whole memory, as in the embedded store.
    async fn lexical(
        &self,
        words: &str,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(String, f32)>, MemoryError> {
        lexical_by_listing(self, words, k, filter).await
    }
    /// Whether `fused` answers for questions under `filter` (the server fuses them).
    fn fuses(&self, _filter: &Filter) -> bool {
        false
    }
    /// The dense ranking, the lexical one and (when `category` is given) the dense ranking of
    /// that category at its weight, fused by the server itself with weighted reciprocal rank
    /// fusion (Qdrant's query API): the `k` best with their fused scores. `None` where the
    /// backend cannot (`fuses` is false); the facade then fuses the rankings it asks for one by
    /// one.
    async fn fused(
        &self,
        _query: &Vector,
        _words: &str,
        _category: Option<super::hybrid::Ranked>,
        _k: usize,
        _filter: &Filter,
    ) -> Result<Option<Vec<Hit>>, MemoryError> {
        Ok(None)
    }
    /// The services in memory and the words that point at each, for reading questions.
    async fn services(&self) -> Result<Services, MemoryError> {
        let ix = LexicalIndex::from_docs(&self.list(&Filter::default()).await?);
        Ok(Services::new(&ix.services(), &ix.word_services()?))
    }
    /// Builds what searches read, so the first question after a bulk write does not pay for
    /// it (the embedded store's index file). Nothing to do where the backend indexes as it
    /// writes.
    async fn prepare_search(&self) -> Result<(), MemoryError> {
        Ok(())
    }
    /// The model id and dimension of the stored vectors, when any are stored.
    async fn vector_model(&self) -> Result<Option<(String, usize)>, MemoryError>;
    /// Forgets every vector (docs stay) so a different model can be indexed; refused where a
    /// backend cannot do it without losing docs.
    async fn reset_vectors(&mut self) -> Result<(), MemoryError>;
}

/// BM25F over every doc `list` returns, indexed for this one question (a backend with no
/// lexical index of its own).
pub async fn lexical_by_listing<S: VectorStore + ?Sized>(
    store: &S,
    words: &str,
    k: usize,
    filter: &Filter,
) -> Result<Vec<(String, f32)>, MemoryError> {
    let ix = LexicalIndex::from_docs(&store.list(&Filter::default()).await?);
    Ok(ix
        .search(words, k, filter)?
        .into_iter()
        .map(|(id, s)| (id.to_string(), s))
        .collect())
}

/// Checks that every vector of a batch agrees with `held` (the store's model and dimension) and
/// with each other; returns the model the batch carries.
pub fn check_batch(
    held: Option<(&str, usize)>,
    records: &[Record],
) -> Result<Option<(String, usize)>, MemoryError> {
    let mut model: Option<(String, usize)> = held.map(|(m, d)| (m.to_string(), d));
    for r in records {
        let Some(v) = &r.vector else { continue };
        match &model {
            None => model = Some((v.model_id.clone(), v.values.len())),
            Some((m, d)) => {
                if v.values.len() != *d {
                    return Err(MemoryError::DimensionMismatch {
                        id: r.doc.id.clone(),
                        expected: *d,
                        got: v.values.len(),
                    });
                }
                if v.model_id != *m {
                    return Err(MemoryError::ModelMismatch {
                        stored: m.clone(),
                        current: v.model_id.clone(),
                    });
                }
            }
        }
        if v.values.is_empty() || v.values.iter().any(|x| !x.is_finite()) {
            return Err(MemoryError::Corrupt {
                id: r.doc.id.clone(),
                detail: "vector is empty or not finite".into(),
            });
        }
    }
    Ok(model)
}

/// Checks a query vector against the store's model before a search.
pub fn check_query(held: Option<(&str, usize)>, query: &Vector) -> Result<(), MemoryError> {
    if let Some((m, d)) = held {
        if query.values.len() != d {
            return Err(MemoryError::DimensionMismatch {
                id: "the query".into(),
                expected: d,
                got: query.values.len(),
            });
        }
        if query.model_id != m {
            return Err(MemoryError::ModelMismatch {
                stored: m.to_string(),
                current: query.model_id.clone(),
            });
        }
    }
    Ok(())
}
