//! The embedded store: post-mortems and vectors in sled under `state_dir`, searched exactly in memory.

use super::doc::{normalize, Filter, Hit, MemoryDoc, Record, Vector};
use super::error::MemoryError;
use super::index::{RowMeta, VectorIndex};
use super::store::{check_batch, check_query, VectorStore};
use crate::core::category::Category;
use async_trait::async_trait;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::time::Instant;

/// How long `open` waits for another process (the daemon remembering) to release the store.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

const MODEL_KEY: &[u8] = b"model";

/// sled trees `docs` (id -> JSON), `vectors` (id -> encoded row) and `meta` (model id and dim).
pub struct EmbeddedStore {
    path: PathBuf,
    db: sled::Db,
    docs: sled::Tree,
    vectors: sled::Tree,
    meta: sled::Tree,
    model: Option<(String, usize)>,
    /// Loaded on the first search only: remembering a post-mortem never pays for the whole matrix.
    index: OnceLock<VectorIndex>,
}

impl EmbeddedStore {
    /// Where the store lives under a state dir (apart from the incident store).
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("memory.sled")
    }

    /// Opens the store under `state_dir`, waiting up to `lock_wait` while another process holds it.
    pub async fn open(state_dir: &Path, lock_wait: Duration) -> Result<Self, MemoryError> {
        let path = Self::path_in(state_dir);
        let start = Instant::now();
        let mut pause = Duration::from_millis(25);
        loop {
            match Self::try_open(&path) {
                Err(MemoryError::StoreOpen { source, .. }) if is_locked(&source) => {
                    if start.elapsed() >= lock_wait {
                        return Err(MemoryError::StoreLocked {
                            path,
                            waited: lock_wait,
                        });
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(400));
                }
                other => return other,
            }
        }
    }

    fn try_open(path: &Path) -> Result<Self, MemoryError> {
        let open_err = |source| MemoryError::StoreOpen {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| open_err(e.into()))?;
        }
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(8 * 1024 * 1024)
            .flush_every_ms(None)
            .open()
            .map_err(open_err)?;
        let docs = db.open_tree("docs")?;
        let vectors = db.open_tree("vectors")?;
        let meta = db.open_tree("meta")?;
        let model = match meta.get(MODEL_KEY)? {
            Some(v) => Some(decode_model(&v)?),
            None => None,
        };
        Ok(EmbeddedStore {
            path: path.to_path_buf(),
            db,
            docs,
            vectors,
            meta,
            model,
            index: OnceLock::new(),
        })
    }

    /// Reads every vector into the in-memory index.
    fn load_index(&self) -> Result<VectorIndex, MemoryError> {
        let model = &self.model;
        let mut index = VectorIndex::new(model.as_ref().map_or(0, |m| m.1));
        for kv in self.vectors.iter() {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&k).into_owned();
            let row = decode_row(&id, &v)?;
            if model
                .as_ref()
                .is_some_and(|(m, d)| *m != row.model_id || *d != row.values.len())
            {
                return Err(MemoryError::Corrupt {
                    id,
                    detail: "vector model differs from the store's model".into(),
                });
            }
            index.upsert(&id, &row.meta, &row.values);
        }
        Ok(index)
    }

    /// The in-memory index, loading it on first use.
    pub fn index(&self) -> Result<&VectorIndex, MemoryError> {
        if let Some(ix) = self.index.get() {
            return Ok(ix);
        }
        let loaded = self.load_index()?;
        Ok(self.index.get_or_init(|| loaded))
    }

    /// How many docs have a vector.
    pub fn vector_count(&self) -> usize {
        self.vectors.len()
    }

    /// Every doc with its vector when it has one (for `memory migrate`).
    pub fn records(&self) -> Result<Vec<Record>, MemoryError> {
        let model = self.model.as_ref().map(|m| m.0.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for kv in self.docs.iter() {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&k);
            let doc = decode_doc(&id, &v)?;
            let vector = match self.vectors.get(k.as_ref())? {
                Some(row) => Some(Vector {
                    model_id: model.clone(),
                    values: decode_row(&id, &row)?.values,
                }),
                None => None,
            };
            out.push(Record { doc, vector });
        }
        Ok(out)
    }

    fn held(&self) -> Option<(&str, usize)> {
        self.model.as_ref().map(|(m, d)| (m.as_str(), *d))
    }
}

/// sled 0.34 reports a held lock as `ErrorKind::Other` "could not acquire lock on ...".
fn is_locked(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
        || io.raw_os_error() == Some(libc::EWOULDBLOCK)
        || io.to_string().contains("could not acquire lock"))
}

fn tx_err(e: TransactionError<()>) -> MemoryError {
    match e {
        TransactionError::Storage(s) => MemoryError::StoreIo(s),
        TransactionError::Abort(()) => MemoryError::Task("memory transaction aborted".into()),
    }
}

#[async_trait]
impl VectorStore for EmbeddedStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    async fn upsert(&mut self, mut records: Vec<Record>) -> Result<(), MemoryError> {
        let model = check_batch(self.held(), &records)?;
        let new_model = model.clone().filter(|m| Some(m) != self.model.as_ref());
        if self.model.is_none() {
            if let (Some((_, d)), Some(ix)) = (&model, self.index.get_mut()) {
                if ix.is_empty() {
                    *ix = VectorIndex::new(*d);
                }
            }
        }
        let mut encoded = Vec::with_capacity(records.len());
        for r in &mut records {
            if let Some(v) = &mut r.vector {
                normalize(&mut v.values);
            }
            let doc = serde_json::to_vec(&r.doc).map_err(|e| MemoryError::Corrupt {
                id: r.doc.id.clone(),
                detail: e.to_string(),
            })?;
            let row = r.vector.as_ref().map(|v| encode_row(&r.doc, v));
            encoded.push((r.doc.id.as_bytes().to_vec(), doc, row));
        }
        let model_bytes = new_model.as_ref().map(|(m, d)| encode_model(m, *d));
        (&self.docs, &self.vectors, &self.meta)
            .transaction(|(docs, vectors, meta)| {
                for (id, doc, row) in &encoded {
                    docs.insert(id.as_slice(), doc.as_slice())?;
                    match row {
                        Some(row) => vectors.insert(id.as_slice(), row.as_slice())?,
                        None => vectors.remove(id.as_slice())?,
                    };
                }
                if let Some(m) = &model_bytes {
                    meta.insert(MODEL_KEY, m.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        self.db.flush_async().await?;
        if new_model.is_some() {
            self.model = new_model;
        }
        if let Some(ix) = self.index.get_mut() {
            for r in &records {
                match &r.vector {
                    Some(v) => ix.upsert(&r.doc.id, &row_meta(&r.doc), &v.values),
                    None => ix.remove(&r.doc.id),
                }
            }
        }
        Ok(())
    }

    async fn search(
        &self,
        query: &Vector,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, MemoryError> {
        if self.model.is_none() {
            return Ok(Vec::new());
        }
        check_query(self.held(), query)?;
        let mut q = query.values.clone();
        normalize(&mut q);
        let mut hits = Vec::with_capacity(k);
        for (id, score) in self.index()?.search(&q, k, filter) {
            if let Some(doc) = self.get(id).await? {
                hits.push(Hit { doc, score });
            }
        }
        Ok(hits)
    }

    async fn get(&self, id: &str) -> Result<Option<MemoryDoc>, MemoryError> {
        match self.docs.get(id.as_bytes())? {
            Some(v) => Ok(Some(decode_doc(id, &v)?)),
            None => Ok(None),
        }
    }

    async fn delete(&mut self, id: &str) -> Result<bool, MemoryError> {
        let existed = (&self.docs, &self.vectors)
            .transaction(|(docs, vectors)| {
                vectors.remove(id.as_bytes())?;
                Ok::<bool, ConflictableTransactionError<()>>(docs.remove(id.as_bytes())?.is_some())
            })
            .map_err(tx_err)?;
        self.db.flush_async().await?;
        if let Some(ix) = self.index.get_mut() {
            ix.remove(id);
        }
        Ok(existed)
    }

    async fn count(&self) -> Result<usize, MemoryError> {
        Ok(self.docs.len())
    }

    async fn list(&self, filter: &Filter) -> Result<Vec<MemoryDoc>, MemoryError> {
        let mut out = Vec::new();
        for kv in self.docs.iter() {
            let (k, v) = kv?;
            let doc = decode_doc(&String::from_utf8_lossy(&k), &v)?;
            if filter.matches(&doc) {
                out.push(doc);
            }
        }
        out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn docs_without_vector(&self) -> Result<Vec<MemoryDoc>, MemoryError> {
        let mut out = Vec::new();
        for kv in self.docs.iter() {
            let (k, v) = kv?;
            let id = String::from_utf8_lossy(&k);
            if !self.vectors.contains_key(k.as_ref())? {
                out.push(decode_doc(&id, &v)?);
            }
        }
        Ok(out)
    }

    async fn vector_model(&self) -> Result<Option<(String, usize)>, MemoryError> {
        Ok(self.model.clone())
    }

    async fn reset_vectors(&mut self) -> Result<(), MemoryError> {
        // Vectors first: a crash in between leaves a model record with no vectors, which is harmless.
        self.vectors.clear()?;
        self.meta.remove(MODEL_KEY)?;
        self.db.flush_async().await?;
        self.model = None;
        self.index = OnceLock::new();
        Ok(())
    }
}

fn row_meta(doc: &MemoryDoc) -> RowMeta {
    RowMeta {
        service: doc.service.clone(),
        category: doc.category,
        date: doc.date.timestamp(),
    }
}

fn decode_doc(id: &str, bytes: &[u8]) -> Result<MemoryDoc, MemoryError> {
    serde_json::from_slice(bytes).map_err(|e| MemoryError::Corrupt {
        id: id.to_string(),
        detail: e.to_string(),
    })
}

fn encode_model(model: &str, dim: usize) -> Vec<u8> {
    let mut out = (dim as u32).to_le_bytes().to_vec();
    out.extend_from_slice(model.as_bytes());
    out
}

fn decode_model(bytes: &[u8]) -> Result<(String, usize), MemoryError> {
    let corrupt = || MemoryError::Corrupt {
        id: "meta/model".into(),
        detail: "bad model record".into(),
    };
    let dim = u32::from_le_bytes(
        bytes
            .get(..4)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    );
    Ok((
        String::from_utf8_lossy(&bytes[4..]).into_owned(),
        dim as usize,
    ))
}

/// A decoded `vectors` value.
struct Row {
    model_id: String,
    meta: RowMeta,
    values: Vec<f32>,
}

/// Layout: version u8, model len u8, model, dim u32, date i64, category u8, service len u16,
/// service, then dim little-endian f32s.
fn encode_row(doc: &MemoryDoc, v: &Vector) -> Vec<u8> {
    let model = &v.model_id.as_bytes()[..v.model_id.len().min(255)];
    let service = &doc.service.as_bytes()[..doc.service.len().min(u16::MAX as usize)];
    let mut out = Vec::with_capacity(20 + model.len() + service.len() + 4 * v.values.len());
    out.push(1u8);
    out.push(model.len() as u8);
    out.extend_from_slice(model);
    out.extend_from_slice(&(v.values.len() as u32).to_le_bytes());
    out.extend_from_slice(&doc.date.timestamp().to_le_bytes());
    out.push(
        Category::ALL
            .iter()
            .position(|c| *c == doc.category)
            .unwrap_or(0) as u8,
    );
    out.extend_from_slice(&(service.len() as u16).to_le_bytes());
    out.extend_from_slice(service);
    for x in &v.values {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn decode_row(id: &str, b: &[u8]) -> Result<Row, MemoryError> {
    let corrupt = |what: &str| MemoryError::Corrupt {
        id: id.to_string(),
        detail: format!("bad vector record ({what})"),
    };
    let mut r = Reader { b, at: 0 };
    if r.take(1).ok_or_else(|| corrupt("version"))?[0] != 1 {
        return Err(corrupt("version"));
    }
    let mlen = r.take(1).ok_or_else(|| corrupt("model"))?[0] as usize;
    let model_id =
        String::from_utf8_lossy(r.take(mlen).ok_or_else(|| corrupt("model"))?).into_owned();
    let dim = u32::from_le_bytes(r.array().ok_or_else(|| corrupt("dim"))?) as usize;
    let date = i64::from_le_bytes(r.array().ok_or_else(|| corrupt("date"))?);
    let cat = r.take(1).ok_or_else(|| corrupt("category"))?[0] as usize;
    let category = *Category::ALL.get(cat).ok_or_else(|| corrupt("category"))?;
    let slen = u16::from_le_bytes(r.array().ok_or_else(|| corrupt("service"))?) as usize;
    let service =
        String::from_utf8_lossy(r.take(slen).ok_or_else(|| corrupt("service"))?).into_owned();
    let raw = r.take(dim * 4).ok_or_else(|| corrupt("values"))?;
    let values = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Row {
        model_id,
        meta: RowMeta {
            service,
            category,
            date,
        },
        values,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn doc(i: usize) -> MemoryDoc {
        MemoryDoc {
            id: format!("pm-{i}"),
            service: ["a", "b"][i % 2].into(),
            date: chrono::Utc
                .timestamp_opt(1_700_000_000 + i as i64, 0)
                .unwrap(),
            category: Category::ALL[i % 3],
            summary: format!("summary {i}"),
            root_cause: "rc".into(),
            recommendation: "rec".into(),
            incident_id: None,
        }
    }

    fn rec(i: usize, hot: usize, model: &str) -> Record {
        let mut values = vec![0.0; 8];
        values[hot] = 2.0; // not unit: the store normalizes
        Record {
            doc: doc(i),
            vector: Some(Vector {
                model_id: model.into(),
                values,
            }),
        }
    }

    #[tokio::test]
    async fn writes_survive_reopen_and_search_is_exact() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let mut s = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
            s.upsert((0..8).map(|i| rec(i, i, "m")).collect())
                .await
                .unwrap();
            s.upsert(vec![Record {
                doc: doc(9),
                vector: None,
            }])
            .await
            .unwrap();
            assert!(s.delete("pm-3").await.unwrap());
            assert!(!s.delete("pm-3").await.unwrap());
        }
        let s = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        assert_eq!((s.count().await.unwrap(), s.vector_count()), (8, 7));
        assert_eq!(s.vector_model().await.unwrap(), Some(("m".into(), 8)));
        let q = Vector {
            model_id: "m".into(),
            values: {
                let mut v = vec![0.0; 8];
                v[5] = 1.0;
                v
            },
        };
        let hits = s.search(&q, 2, &Filter::default()).await.unwrap();
        assert_eq!((hits[0].doc.id.as_str(), hits[0].score), ("pm-5", 1.0));
        assert_eq!(hits[1].score, 0.0);
        assert_eq!(s.docs_without_vector().await.unwrap(), vec![doc(9)]);
        let listed: Vec<String> = s
            .list(&Filter {
                service: Some("b".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(
            listed,
            ["pm-9", "pm-7", "pm-5", "pm-1"],
            "service b, newest first"
        );
    }

    #[tokio::test]
    async fn remembering_does_not_load_the_index_and_a_loaded_index_follows_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        s.upsert(vec![rec(1, 1, "m")]).await.unwrap();
        assert!(
            s.index.get().is_none(),
            "an upsert must not pull every vector into memory"
        );
        let q = |hot: usize| Vector {
            model_id: "m".into(),
            values: (0..8).map(|i| if i == hot { 1.0 } else { 0.0 }).collect(),
        };
        assert_eq!(
            s.search(&q(1), 1, &Filter::default()).await.unwrap()[0]
                .doc
                .id,
            "pm-1"
        );
        assert!(s.index.get().is_some());
        s.upsert(vec![rec(2, 2, "m")]).await.unwrap();
        assert_eq!(
            s.search(&q(2), 1, &Filter::default()).await.unwrap()[0]
                .doc
                .id,
            "pm-2"
        );
        s.delete("pm-2").await.unwrap();
        assert_eq!(
            s.search(&q(2), 5, &Filter::default()).await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn another_model_is_refused_until_vectors_are_reset() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        s.upsert(vec![rec(1, 1, "m1")]).await.unwrap();
        let err = s.upsert(vec![rec(2, 2, "m2")]).await.unwrap_err();
        assert_eq!(err.to_string(), "memory was embedded with model m1 but the current model is m2; run `akashic memory reindex`");
        s.reset_vectors().await.unwrap();
        assert_eq!((s.count().await.unwrap(), s.vector_count()), (1, 0));
        s.upsert(vec![rec(2, 2, "m2")]).await.unwrap();
        assert_eq!(s.vector_model().await.unwrap(), Some(("m2".into(), 8)));
    }

    #[tokio::test]
    async fn a_locked_store_is_waited_for_then_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let held = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        let err = EmbeddedStore::open(tmp.path(), Duration::from_millis(300))
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "the memory store at {} is still locked by another akashic process after 300ms; retry when it is done",
                EmbeddedStore::path_in(tmp.path()).display()
            )
        );
        let dir = tmp.path().to_path_buf();
        let waiter = tokio::spawn(async move {
            EmbeddedStore::open(&dir, LOCK_WAIT)
                .await
                .map(|s| s.vector_count())
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        assert_eq!(waiter.await.unwrap().unwrap(), 0);
    }
}
