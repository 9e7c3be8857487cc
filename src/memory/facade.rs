//! `Memory`: the facade the daemon and the CLI call; loads the model only while there is work.

use super::doc::{Filter, Hit, MemoryDoc, Record, Vector};
use super::embed::{Embedder, FastEmbedder, HashEmbedder};
use super::embedded::{EmbeddedStore, LOCK_WAIT};
use super::error::MemoryError;
use super::qdrant::{QdrantSpec, QdrantStore};
use super::store::VectorStore;
use super::{hybrid, question};
use crate::config::{Config, MemoryBackend};
use crate::core::category::Category;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Loads an embedder on demand; the real one reads the model files each time.
pub type EmbedderFactory = Arc<dyn Fn() -> Result<Box<dyn Embedder>, MemoryError> + Send + Sync>;

/// Which store to open, and where.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreSpec {
    Embedded { state_dir: PathBuf },
    Qdrant(QdrantSpec),
}

impl StoreSpec {
    /// The store the config names.
    pub fn from_config(cfg: &Config) -> StoreSpec {
        match &cfg.memory.backend {
            MemoryBackend::Embedded => StoreSpec::Embedded {
                state_dir: cfg.daemon.state_dir.clone(),
            },
            MemoryBackend::Qdrant {
                url,
                collection,
                api_key_env,
            } => StoreSpec::Qdrant(QdrantSpec {
                url: url.clone(),
                collection: collection.clone(),
                api_key_env: api_key_env.clone(),
                state_dir: cfg.daemon.state_dir.clone(),
            }),
        }
    }

    /// Opens (or connects to) the store; the embedded one waits up to `lock_wait` for a lock.
    pub async fn open(&self, lock_wait: Duration) -> Result<Box<dyn VectorStore>, MemoryError> {
        Ok(match self {
            StoreSpec::Embedded { state_dir } => {
                Box::new(EmbeddedStore::open(state_dir, lock_wait).await?)
            }
            StoreSpec::Qdrant(q) => Box::new(QdrantStore::connect(q).await?),
        })
    }
}

/// The real embedder factory for a config: the fastembed model on the search path. Tests may set
/// `AKASHIC_TEST_EMBEDDER=hash` to get the deterministic test embedder instead.
pub fn embedder_factory(cfg: &Config) -> EmbedderFactory {
    let model_dir = cfg.memory.model_dir.clone();
    if std::env::var("AKASHIC_TEST_EMBEDDER").as_deref() == Ok("hash") {
        return Arc::new(|| Ok(Box::new(HashEmbedder::new(384)) as Box<dyn Embedder>));
    }
    Arc::new(move || {
        let paths = super::locate::locate_from_env(model_dir.as_deref())?;
        Ok(Box::new(FastEmbedder::load(&paths)?) as Box<dyn Embedder>)
    })
}

/// An embedder factory for a model already located (benchmarks, tools).
pub fn embedder_factory_for(paths: &super::locate::ModelPaths) -> EmbedderFactory {
    let paths = paths.clone();
    Arc::new(move || Ok(Box::new(FastEmbedder::load(&paths)?) as Box<dyn Embedder>))
}

/// What `remember` did: docs are always stored; vectors only when the model was usable.
#[derive(Debug, Clone, PartialEq)]
pub struct RememberOutcome {
    pub stored: usize,
    pub embedded: usize,
    /// Why the docs were stored without vectors (`akashic memory reindex` embeds them later).
    pub not_embedded: Option<String>,
}

/// What `ask` found, and the filter it searched with (the question's reading and the flags).
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    pub hits: Vec<Hit>,
    /// The best candidates beyond the hits too (at most `hybrid::GROUPED`, or `hybrid::POOL`
    /// for a question asking for the first or latest), best first: what the answer groups
    /// near-identical hits from.
    pub pool: Vec<Hit>,
    pub filter: Filter,
}

impl Asked {
    /// The ranked candidates, in the order the question asks for (see `order`), as the best `k`
    /// and the pool.
    fn of(
        mut hits: Vec<Hit>,
        order: Option<super::order::Order>,
        k: usize,
        filter: Filter,
    ) -> Asked {
        if let Some(order) = order {
            super::order::apply(&mut hits, order);
        }
        let pool = hits.clone();
        hits.truncate(k);
        Asked { hits, pool, filter }
    }
}

/// Semantic memory of post-mortems over one store and one embedding model.
#[derive(Clone)]
pub struct Memory {
    store: StoreSpec,
    embedder: EmbedderFactory,
    lock_wait: Duration,
}

impl Memory {
    /// Cheap: reads the config only; neither the model nor the store is opened.
    pub fn open(cfg: &Config) -> Result<Memory, MemoryError> {
        Ok(Memory::with_parts(
            StoreSpec::from_config(cfg),
            embedder_factory(cfg),
        ))
    }

    /// A memory over any store and embedder (tests use the doubles).
    pub fn with_parts(store: StoreSpec, embedder: EmbedderFactory) -> Memory {
        Memory {
            store,
            embedder,
            lock_wait: LOCK_WAIT,
        }
    }

    /// How long to wait for another process to release the embedded store.
    pub fn with_lock_wait(mut self, wait: Duration) -> Memory {
        self.lock_wait = wait;
        self
    }

    pub fn store_spec(&self) -> &StoreSpec {
        &self.store
    }

    /// Opens the store for a longer piece of work (import, reindex, migrate).
    pub async fn open_store(&self) -> Result<Box<dyn VectorStore>, MemoryError> {
        self.store.open(self.lock_wait).await
    }

    /// Loads the embedder off the async threads.
    pub async fn load_embedder(&self) -> Result<Box<dyn Embedder>, MemoryError> {
        let f = self.embedder.clone();
        tokio::task::spawn_blocking(move || f())
            .await
            .map_err(|e| MemoryError::Task(e.to_string()))?
    }

    /// Embeds docs (loading the model for this call only) and stores them durably. When the model
    /// is missing or fails, the docs are stored without vectors and the outcome says why.
    /// Secrets of a known shape are masked before anything is embedded or stored.
    pub async fn remember(&self, docs: Vec<MemoryDoc>) -> Result<RememberOutcome, MemoryError> {
        let docs: Vec<MemoryDoc> = docs
            .into_iter()
            .map(|mut d| {
                for s in [&mut d.summary, &mut d.root_cause, &mut d.recommendation] {
                    crate::agent::redact::redact_in_place(s);
                }
                d
            })
            .collect();
        let texts: Vec<String> = docs.iter().map(MemoryDoc::embed_text).collect();
        let vectors = match self.load_embedder().await {
            Ok(e) => {
                let model_id = e.model_id().to_string();
                let res = embed_all(e, texts).await.1.map(|v| (model_id, v));
                release_memory();
                res
            }
            Err(e) => Err(e),
        };
        let mut store = self.open_store().await?;
        let stored = docs.len();
        let (records, reason) = match vectors {
            Ok(v) => (with_vectors(&docs, v), None),
            Err(e) => (without_vectors(&docs), Some(e)),
        };
        let embedded = records.iter().filter(|r| r.vector.is_some()).count();
        let reason = match store.upsert(records).await {
            Ok(()) => reason,
            Err(
                e @ (MemoryError::DimensionMismatch { .. } | MemoryError::ModelMismatch { .. }),
            ) => {
                store.upsert(without_vectors(&docs)).await?;
                return Ok(RememberOutcome {
                    stored,
                    embedded: 0,
                    not_embedded: Some(crate::errors::chain(&e)),
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(e) = &reason {
            tracing::warn!(error = %e, docs = stored, "post-mortems stored without vectors; run `akashic memory reindex` once the model is available");
        }
        Ok(RememberOutcome {
            stored,
            embedded,
            not_embedded: reason.map(|e| crate::errors::chain(&e)),
        })
    }

    /// The `k` remembered post-mortems nearest in meaning to `text`.
    pub async fn similar(
        &self,
        text: &str,
        filter: &Filter,
        k: usize,
    ) -> Result<Vec<Hit>, MemoryError> {
        let embed = async {
            let e = self.load_embedder().await?;
            let model_id = e.model_id().to_string();
            let (_, v) = embed_all(e, vec![text.to_string()]).await;
            release_memory();
            let values = v?.pop().ok_or(MemoryError::EmbedCount {
                expected: 1,
                got: 0,
            })?;
            Ok::<Vector, MemoryError>(Vector { model_id, values })
        };
        let (query, store) = tokio::join!(embed, self.open_store());
        let (query, store) = (query?, store?);
        store.search(&query, k, filter).await
    }

    /// Answers a question asked at `now`: reads the service and time it names (narrowed by
    /// `filter`, the caller's flags), then fuses the dense and lexical rankings of the words
    /// left; the `k` best post-mortems, each scored by its fused rank (1.0: first in both rankings).
    pub async fn ask(
        &self,
        question: &str,
        filter: &Filter,
        k: usize,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Asked, MemoryError> {
        let (embedder, store) = tokio::join!(self.load_embedder(), self.open_store());
        let (embedder, store) = (embedder?, store?);
        let services = store.services().await?;
        let reading = question::read(question, now, &services);
        let caller = filter;
        let filter = question::narrow(&reading.filter, filter);
        let words = if reading.rest.split_whitespace().count() < 2 {
            question.to_string()
        } else {
            reading.rest.clone()
        };
        let model_id = embedder.model_id().to_string();
        // The category the question names in plain words ("ran out of disk", "got wedged").
        let named = super::plain::category(&words);
        let (_, v) = embed_all(embedder, vec![words.clone()]).await;
        release_memory();
        let values = v?.into_iter().next().ok_or(MemoryError::EmbedCount {
            expected: 1,
            got: 0,
        })?;
        let query = Vector { model_id, values };
        let mut filter = filter;
        // "When did it first ...": the pattern's hits come in date order, from a wider pool.
        let order = super::order::read(question);
        let wanted = if order.is_some() {
            hybrid::POOL
        } else {
            k.max(hybrid::GROUPED)
        };
        if store.fuses(&filter) {
            let mut rank_category = category_to_rank(&*store, named, &query, &filter, None).await?;
            let mut hits = store
                .fused(&query, &words, rank_category, wanted, &filter)
                .await?
                .unwrap_or_default();
            if hits.is_empty() && filter != *caller {
                filter = caller.clone();
                rank_category = category_to_rank(&*store, named, &query, &filter, None).await?;
                hits = store
                    .fused(&query, &words, rank_category, wanted, &filter)
                    .await?
                    .unwrap_or_default();
            }
            // The rankings the server fused: dense, lexical (when the question has words the
            // index knows), the ranked category's.
            let lexical = if super::lexical::tokens(&words).is_empty() {
                0.0
            } else {
                1.0
            };
            let weights = 1.0 + lexical + rank_category.map_or(0.0, |r| r.weight);
            let best = weights / (hybrid::RRF_K + 1.0);
            for h in &mut hits {
                h.score = (h.score / best).min(1.0);
            }
            return Ok(Asked::of(hits, order, k, filter));
        }
        let mut dense = store.search(&query, hybrid::POOL, &filter).await?;
        let mut lexical = store.lexical(&words, hybrid::POOL, &filter).await?;
        if dense.is_empty() && lexical.is_empty() && filter != *caller {
            // What the question named (a service, a time) matches nothing remembered: answer
            // from everything the caller's own flags allow rather than say nothing.
            filter = caller.clone();
            dense = store.search(&query, hybrid::POOL, &filter).await?;
            lexical = store.lexical(&words, hybrid::POOL, &filter).await?;
        }
        let dense_ids: Vec<String> = dense.iter().map(|h| h.doc.id.clone()).collect();
        let lexical_ids: Vec<String> = lexical.into_iter().map(|(id, _)| id).collect();
        let rank_category = category_to_rank(&*store, named, &query, &filter, Some(&dense)).await?;
        let of_category: Vec<String> = match rank_category {
            Some(r) => dense
                .iter()
                .filter(|h| h.doc.category == r.category)
                .map(|h| h.doc.id.clone())
                .collect(),
            None => Vec::new(),
        };
        let rankings = [
            (dense_ids.as_slice(), 1.0),
            (lexical_ids.as_slice(), 1.0),
            (
                of_category.as_slice(),
                rank_category.map_or(0.0, |r| r.weight),
            ),
        ];
        let best = hybrid::best_score(&rankings);
        let mut hits = Vec::with_capacity(k);
        for (id, fused) in hybrid::fuse(&rankings, wanted) {
            let doc = match dense.iter().find(|h| h.doc.id == id) {
                Some(h) => Some(h.doc.clone()),
                None => store.get(&id).await?,
            };
            if let Some(doc) = doc {
                hits.push(Hit {
                    doc,
                    score: fused / best,
                });
            }
        }
        Ok(Asked::of(hits, order, k, filter))
    }

    /// Remembered post-mortems passing `filter`, newest first (for the digest).
    pub async fn list(&self, filter: &Filter) -> Result<Vec<MemoryDoc>, MemoryError> {
        self.open_store().await?.list(filter).await
    }
}

/// The category whose dense neighbours rank once more: the one the question names (weighing
/// double), else the one most of its nearest post-mortems share; none when a filter already
/// keeps one category only. The nearest are read from `dense` when the caller has that ranking
/// at hand, else searched.
async fn category_to_rank(
    store: &dyn VectorStore,
    named: Option<Category>,
    query: &Vector,
    filter: &Filter,
    dense: Option<&[Hit]>,
) -> Result<Option<hybrid::Ranked>, MemoryError> {
    let voted = |c: Option<Category>| {
        c.map(|category| hybrid::Ranked {
            category,
            weight: hybrid::VOTED_WEIGHT,
        })
    };
    Ok(match (filter.category, named, dense) {
        (Some(_), _, _) => None,
        (None, Some(category), _) => Some(hybrid::Ranked {
            category,
            weight: hybrid::NAMED_WEIGHT,
        }),
        (None, None, Some(dense)) => voted(question::vote(dense)),
        (None, None, None) => voted(question::vote(
            &store.search(query, question::VOTERS, filter).await?,
        )),
    })
}

/// Embeds texts on a blocking thread and hands the embedder back.
pub async fn embed_all(
    mut e: Box<dyn Embedder>,
    texts: Vec<String>,
) -> (
    Option<Box<dyn Embedder>>,
    Result<Vec<Vec<f32>>, MemoryError>,
) {
    let res = tokio::task::spawn_blocking(move || {
        let r = e.embed(&texts).and_then(|v| {
            if v.len() == texts.len() {
                Ok(v)
            } else {
                Err(MemoryError::EmbedCount {
                    expected: texts.len(),
                    got: v.len(),
                })
            }
        });
        (e, r)
    })
    .await;
    match res {
        Ok((e, r)) => (Some(e), r),
        Err(j) => (None, Err(MemoryError::Task(j.to_string()))),
    }
}

/// Hands the model's freed heap back to the system, so a long-running daemon returns to its
/// idle size after embedding (glibc keeps freed arenas otherwise).
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Pairs docs with vectors made by `model_id`.
pub fn pair(docs: &[MemoryDoc], vectors: Vec<Vec<f32>>, model_id: &str) -> Vec<Record> {
    docs.iter()
        .cloned()
        .zip(vectors)
        .map(|(doc, values)| Record {
            doc,
            vector: Some(Vector {
                model_id: model_id.to_string(),
                values,
            }),
        })
        .collect()
}

fn with_vectors(docs: &[MemoryDoc], vectors: (String, Vec<Vec<f32>>)) -> Vec<Record> {
    pair(docs, vectors.1, &vectors.0)
}

/// Records that keep the docs and leave the vectors for a later reindex.
pub fn without_vectors(docs: &[MemoryDoc]) -> Vec<Record> {
    docs.iter()
        .cloned()
        .map(|doc| Record { doc, vector: None })
        .collect()
}
