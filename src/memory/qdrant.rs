//! The Qdrant backend (gRPC, `qdrant-client`): one shared collection for a fleet of machines.

use super::doc::{normalize, Filter, Hit, MemoryDoc, Record, Vector};
use super::error::MemoryError;
use super::lexical::{sparse_doc, sparse_query};
use super::store::{check_batch, check_query, VectorStore};
use crate::fnv::fnv1a;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use qdrant_client::qdrant::{
    condition, point_id, points_selector, r#match, value, vectors_config, with_payload_selector,
    Condition, CountPoints, CreateCollection, CreateFieldIndexCollection, DeletePoints, Distance,
    FieldCondition, FieldType, GetPoints, Match, Modifier, NamedVectors, PointId, PointStruct,
    PointsIdsList, PointsSelector, PrefetchQuery, Query, QueryPoints, Range, Rrf, ScrollPoints,
    SparseVectorConfig, SparseVectorParams, UpsertPoints, VectorInput, VectorParams,
    VectorParamsMap, VectorsConfig, WithPayloadSelector,
};
use qdrant_client::Qdrant;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the collection is, and where docs wait locally while they have no vector.
#[derive(Debug, Clone, PartialEq)]
pub struct QdrantSpec {
    pub url: String,
    pub collection: String,
    pub api_key_env: Option<String>,
    pub state_dir: PathBuf,
}

/// Payload fields that get an index when the collection is created.
pub const INDEXED: [(&str, FieldType); 4] = [
    ("id", FieldType::Keyword),
    ("service", FieldType::Keyword),
    ("category", FieldType::Keyword),
    ("date_ts", FieldType::Integer),
];

type Payload = HashMap<String, qdrant_client::qdrant::Value>;

/// The named dense vector (the embedding) of a point.
const DENSE: &str = "dense";
/// The named sparse vector (the doc's words, scored by the server with its IDF modifier).
const SPARSE: &str = "lexical";

/// How a collection holds its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `dense` and `lexical` named vectors: hybrid search and fusion run in Qdrant.
    Hybrid,
    /// One unnamed dense vector (collections made by earlier versions): dense search in
    /// Qdrant, the lexical ranking and the fusion in akashic.
    DenseOnly,
}

/// A connected collection. Docs without a vector (the model was missing) cannot live in a
/// vector-only collection, so they wait in `<state_dir>/memory-qdrant-pending.jsonl` until reindex.
pub struct QdrantStore {
    client: Qdrant,
    spec: QdrantSpec,
    exists: bool,
    layout: Layout,
    model: Option<(String, usize)>,
}

impl QdrantStore {
    /// Connects and checks that the server answers; an unreachable server is one clear error.
    pub async fn connect(spec: &QdrantSpec) -> Result<Self, MemoryError> {
        let api_key = match &spec.api_key_env {
            Some(var) => {
                Some(std::env::var(var).map_err(|_| MemoryError::ApiKeyMissing(var.clone()))?)
            }
            None => None,
        };
        let unreachable = |detail: String| MemoryError::QdrantUnreachable {
            url: spec.url.clone(),
            detail,
        };
        let client = Qdrant::from_url(&spec.url)
            .api_key(api_key)
            .skip_compatibility_check()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        let exists = client
            .collection_exists(spec.collection.as_str())
            .await
            .map_err(|e| unreachable(short(&e)))?;
        let mut store = QdrantStore {
            client,
            spec: spec.clone(),
            exists,
            layout: Layout::Hybrid,
            model: None,
        };
        if exists {
            store.layout = store.read_layout().await?;
            store.model = store.first_model().await?;
        }
        Ok(store)
    }

    /// Whether an existing collection has the named vectors of hybrid search.
    async fn read_layout(&self) -> Result<Layout, MemoryError> {
        let info = self
            .client
            .collection_info(self.spec.collection.as_str())
            .await
            .map_err(Self::err("collection info"))?;
        let named = info
            .result
            .and_then(|i| i.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .is_some_and(
                |c| matches!(c, vectors_config::Config::ParamsMap(m) if m.map.contains_key(DENSE)),
            );
        if !named {
            tracing::info!(collection = %self.spec.collection, "collection made by an earlier akashic (one unnamed vector): words are matched and rankings fused in akashic; `akashic memory migrate` into a new collection moves it to hybrid search in Qdrant");
        }
        Ok(if named {
            Layout::Hybrid
        } else {
            Layout::DenseOnly
        })
    }

    fn err(op: &'static str) -> impl Fn(qdrant_client::QdrantError) -> MemoryError {
        move |e| MemoryError::Qdrant {
            op,
            detail: short(&e),
        }
    }

    /// The vector name a query uses: none in a collection of one unnamed vector.
    fn using(&self, name: &str) -> Option<String> {
        (self.layout == Layout::Hybrid).then(|| name.to_string())
    }

    /// Docs by point, in the order Qdrant scored them.
    fn hits(points: Vec<qdrant_client::qdrant::ScoredPoint>) -> Result<Vec<Hit>, MemoryError> {
        points
            .into_iter()
            .map(|p| {
                Ok(Hit {
                    doc: from_payload(&p.payload)?,
                    score: p.score,
                })
            })
            .collect()
    }

    fn pending_path(&self) -> PathBuf {
        self.spec.state_dir.join("memory-qdrant-pending.jsonl")
    }

    async fn first_model(&self) -> Result<Option<(String, usize)>, MemoryError> {
        let res = self
            .client
            .scroll(ScrollPoints {
                collection_name: self.spec.collection.clone(),
                limit: Some(1),
                with_payload: Some(with_payload(true)),
                ..Default::default()
            })
            .await
            .map_err(Self::err("scroll"))?;
        Ok(res.result.first().and_then(|p| {
            let model = str_field(&p.payload, "model_id")?;
            let dim = int_field(&p.payload, "dim")?;
            Some((model, dim as usize))
        }))
    }

    async fn ensure_collection(&mut self, dim: usize) -> Result<(), MemoryError> {
        if self.exists {
            return Ok(());
        }
        self.client
            .create_collection(CreateCollection {
                collection_name: self.spec.collection.clone(),
                vectors_config: Some(VectorsConfig {
                    config: Some(vectors_config::Config::ParamsMap(VectorParamsMap {
                        map: HashMap::from([(
                            DENSE.to_string(),
                            VectorParams {
                                size: dim as u64,
                                distance: Distance::Cosine as i32,
                                ..Default::default()
                            },
                        )]),
                    })),
                }),
                sparse_vectors_config: Some(SparseVectorConfig {
                    map: HashMap::from([(
                        SPARSE.to_string(),
                        SparseVectorParams {
                            index: None,
                            modifier: Some(Modifier::Idf as i32),
                        },
                    )]),
                }),
                ..Default::default()
            })
            .await
            .map_err(Self::err("create collection"))?;
        self.layout = Layout::Hybrid;
        for (field, kind) in INDEXED {
            self.client
                .create_field_index(CreateFieldIndexCollection {
                    collection_name: self.spec.collection.clone(),
                    wait: Some(true),
                    field_name: field.to_string(),
                    field_type: Some(kind as i32),
                    ..Default::default()
                })
                .await
                .map_err(Self::err("create payload index"))?;
        }
        self.exists = true;
        Ok(())
    }

    fn read_pending(&self) -> Result<Vec<MemoryDoc>, MemoryError> {
        let path = self.pending_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(MemoryError::Io {
                    path,
                    detail: e.to_string(),
                })
            }
        };
        let mut by_id: Vec<MemoryDoc> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // A torn last line (crash mid-append) is ignored: that doc was never acknowledged.
            if let Ok(doc) = serde_json::from_str::<MemoryDoc>(line) {
                by_id.retain(|d| d.id != doc.id);
                by_id.push(doc);
            }
        }
        Ok(by_id)
    }

    /// Rewrites the pending file atomically (write, fsync, rename).
    fn write_pending(&self, docs: &[MemoryDoc]) -> Result<(), MemoryError> {
        use std::io::Write;
        let path = self.pending_path();
        let io = |e: std::io::Error| MemoryError::Io {
            path: path.clone(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(&self.spec.state_dir).map_err(io)?;
        if docs.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            };
        }
        let tmp = path.with_extension("jsonl.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        for d in docs {
            let line = serde_json::to_string(d).map_err(|e| MemoryError::Corrupt {
                id: d.id.clone(),
                detail: e.to_string(),
            })?;
            writeln!(f, "{line}").map_err(io)?;
        }
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    async fn delete_points(&self, ids: Vec<PointId>) -> Result<(), MemoryError> {
        if !self.exists || ids.is_empty() {
            return Ok(());
        }
        self.client
            .delete_points(DeletePoints {
                collection_name: self.spec.collection.clone(),
                wait: Some(true),
                points: Some(PointsSelector {
                    points_selector_one_of: Some(points_selector::PointsSelectorOneOf::Points(
                        PointsIdsList { ids },
                    )),
                }),
                ..Default::default()
            })
            .await
            .map_err(Self::err("delete"))?;
        Ok(())
    }
}

#[async_trait]
impl VectorStore for QdrantStore {
    fn describe(&self) -> String {
        format!("{} (collection {})", self.spec.url, self.spec.collection)
    }

    async fn upsert(&mut self, records: Vec<Record>) -> Result<(), MemoryError> {
        let model = check_batch(self.model.as_ref().map(|(m, d)| (m.as_str(), *d)), &records)?;
        let (with, without): (Vec<Record>, Vec<Record>) =
            records.into_iter().partition(|r| r.vector.is_some());
        let mut pending = self.read_pending()?;
        let before = pending.len();
        pending.retain(|p| !with.iter().any(|r| r.doc.id == p.id));
        if !with.is_empty() {
            let (model_id, dim) = model
                .clone()
                .ok_or_else(|| MemoryError::Task("vector batch without a model".into()))?;
            self.ensure_collection(dim).await?;
            let points = with
                .into_iter()
                .filter_map(|r| {
                    let mut v = r.vector?.values;
                    normalize(&mut v);
                    let id = point_id(&r.doc.id);
                    let p = payload(&r.doc, &model_id, dim);
                    Some(match self.layout {
                        Layout::Hybrid => {
                            let (indices, values) = sparse_doc(&r.doc);
                            let named = NamedVectors::default().add_vector(DENSE, v).add_vector(
                                SPARSE,
                                qdrant_client::qdrant::Vector::new_sparse(indices, values),
                            );
                            PointStruct::new(id, named, p)
                        }
                        Layout::DenseOnly => PointStruct::new(id, v, p),
                    })
                })
                .collect::<Vec<_>>();
            self.client
                .upsert_points(UpsertPoints {
                    collection_name: self.spec.collection.clone(),
                    wait: Some(true),
                    points,
                    ..Default::default()
                })
                .await
                .map_err(Self::err("upsert"))?;
            self.model = model;
        }
        if !without.is_empty() {
            // A doc that loses its vector must not keep an old one in the collection.
            self.delete_points(without.iter().map(|r| point_id(&r.doc.id)).collect())
                .await?;
            pending.retain(|p| !without.iter().any(|r| r.doc.id == p.id));
            pending.extend(without.into_iter().map(|r| r.doc));
        }
        if pending.len() != before || !pending.is_empty() {
            self.write_pending(&pending)?;
        }
        Ok(())
    }

    async fn search(
        &self,
        query: &Vector,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, MemoryError> {
        if !self.exists || k == 0 {
            return Ok(Vec::new());
        }
        check_query(self.model.as_ref().map(|(m, d)| (m.as_str(), *d)), query)?;
        // Hours and weekdays are not payload fields: fetch more and keep those that pass.
        let limit = if clock(filter) { (k * 8).max(200) } else { k };
        let res = self
            .client
            .query(QueryPoints {
                collection_name: self.spec.collection.clone(),
                query: Some(Query::new_nearest(query.values.clone())),
                using: self.using(DENSE),
                filter: to_filter(filter),
                limit: Some(limit as u64),
                with_payload: Some(with_payload(true)),
                ..Default::default()
            })
            .await
            .map_err(Self::err("query"))?;
        let mut hits = Vec::with_capacity(k);
        for p in res.result {
            let doc = from_payload(&p.payload)?;
            if hits.len() < k && filter.matches(&doc) {
                hits.push(Hit {
                    doc,
                    score: p.score,
                });
            }
        }
        Ok(hits)
    }

    async fn lexical(
        &self,
        words: &str,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(String, f32)>, MemoryError> {
        if self.layout == Layout::DenseOnly {
            return super::store::lexical_by_listing(self, words, k, filter).await;
        }
        let (indices, values) = sparse_query(words);
        if !self.exists || k == 0 || indices.is_empty() {
            return Ok(Vec::new());
        }
        // As in `search`: hours and weekdays are kept here, from a larger fetch.
        let limit = if clock(filter) { (k * 8).max(200) } else { k };
        let res = self
            .client
            .query(QueryPoints {
                collection_name: self.spec.collection.clone(),
                query: Some(Query::new_nearest(VectorInput::new_sparse(indices, values))),
                using: Some(SPARSE.to_string()),
                filter: to_filter(filter),
                limit: Some(limit as u64),
                with_payload: Some(with_payload(true)),
                ..Default::default()
            })
            .await
            .map_err(Self::err("query"))?;
        Ok(Self::hits(res.result)?
            .into_iter()
            .filter(|h| filter.matches(&h.doc))
            .take(k)
            .map(|h| (h.doc.id, h.score))
            .collect())
    }

    fn fuses(&self, filter: &Filter) -> bool {
        // Hours and weekdays are no payload fields: those questions are fused in akashic.
        self.layout != Layout::DenseOnly && !clock(filter)
    }

    async fn fused(
        &self,
        query: &Vector,
        words: &str,
        category: Option<super::hybrid::Ranked>,
        k: usize,
        filter: &Filter,
    ) -> Result<Option<Vec<Hit>>, MemoryError> {
        if !self.fuses(filter) {
            return Ok(None);
        }
        if !self.exists || k == 0 {
            return Ok(Some(Vec::new()));
        }
        check_query(self.model.as_ref().map(|(m, d)| (m.as_str(), *d)), query)?;
        let pool = super::hybrid::POOL.max(k) as u64;
        let dense = |f: Option<qdrant_client::qdrant::Filter>| PrefetchQuery {
            query: Some(Query::new_nearest(query.values.clone())),
            using: Some(DENSE.to_string()),
            filter: f,
            limit: Some(pool),
            ..Default::default()
        };
        let mut prefetch = vec![dense(to_filter(filter))];
        let mut weights = vec![1.0];
        let (indices, values) = sparse_query(words);
        if !indices.is_empty() {
            prefetch.push(PrefetchQuery {
                query: Some(Query::new_nearest(VectorInput::new_sparse(indices, values))),
                using: Some(SPARSE.to_string()),
                filter: to_filter(filter),
                limit: Some(pool),
                ..Default::default()
            });
            weights.push(1.0);
        }
        if let Some(r) = category {
            let of_category = Filter {
                category: Some(r.category),
                ..filter.clone()
            };
            prefetch.push(dense(to_filter(&of_category)));
            weights.push(r.weight);
        }
        let res = self
            .client
            .query(QueryPoints {
                collection_name: self.spec.collection.clone(),
                prefetch,
                query: Some(Query::new_rrf(Rrf {
                    k: Some(super::hybrid::RRF_K as u32),
                    weights,
                })),
                limit: Some(k as u64),
                with_payload: Some(with_payload(true)),
                ..Default::default()
            })
            .await
            .map_err(Self::err("query"))?;
        Self::hits(res.result).map(Some)
    }

    async fn get(&self, id: &str) -> Result<Option<MemoryDoc>, MemoryError> {
        if self.exists {
            let res = self
                .client
                .get_points(GetPoints {
                    collection_name: self.spec.collection.clone(),
                    ids: vec![point_id(id)],
                    with_payload: Some(with_payload(true)),
                    ..Default::default()
                })
                .await
                .map_err(Self::err("get"))?;
            if let Some(p) = res.result.first() {
                return Ok(Some(from_payload(&p.payload)?));
            }
        }
        Ok(self.read_pending()?.into_iter().find(|d| d.id == id))
    }

    async fn delete(&mut self, id: &str) -> Result<bool, MemoryError> {
        let existed = self.get(id).await?.is_some();
        self.delete_points(vec![point_id(id)]).await?;
        let mut pending = self.read_pending()?;
        let n = pending.len();
        pending.retain(|d| d.id != id);
        if pending.len() != n {
            self.write_pending(&pending)?;
        }
        Ok(existed)
    }

    async fn count(&self) -> Result<usize, MemoryError> {
        let mut n = self.read_pending()?.len();
        if self.exists {
            let res = self
                .client
                .count(CountPoints {
                    collection_name: self.spec.collection.clone(),
                    exact: Some(true),
                    ..Default::default()
                })
                .await
                .map_err(Self::err("count"))?;
            n += res.result.map_or(0, |r| r.count as usize);
        }
        Ok(n)
    }

    async fn list(&self, filter: &Filter) -> Result<Vec<MemoryDoc>, MemoryError> {
        let mut out: Vec<MemoryDoc> = self
            .read_pending()?
            .into_iter()
            .filter(|d| filter.matches(d))
            .collect();
        let mut offset = None;
        let mut done = false;
        while self.exists && !done {
            let res = self
                .client
                .scroll(ScrollPoints {
                    collection_name: self.spec.collection.clone(),
                    filter: to_filter(filter),
                    offset: offset.take(),
                    limit: Some(256),
                    with_payload: Some(with_payload(true)),
                    ..Default::default()
                })
                .await
                .map_err(Self::err("scroll"))?;
            for p in &res.result {
                out.push(from_payload(&p.payload)?);
            }
            offset = res.next_page_offset;
            done = offset.is_none();
        }
        out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn docs_without_vector(&self) -> Result<Vec<MemoryDoc>, MemoryError> {
        self.read_pending()
    }

    async fn vector_model(&self) -> Result<Option<(String, usize)>, MemoryError> {
        Ok(self.model.clone())
    }

    async fn reset_vectors(&mut self) -> Result<(), MemoryError> {
        Err(MemoryError::Qdrant {
            op: "reindex with another model",
            detail: format!(
                "collection {} holds vectors of {:?}; vectors of another model need a new collection: set [memory] collection to a new name, then run `akashic memory reindex`",
                self.spec.collection, self.model
            ),
        })
    }
}

/// A stable UUID-shaped point id for a string id (Qdrant ids are integers or UUIDs).
pub fn point_id(id: &str) -> PointId {
    let a = fnv1a(id.as_bytes());
    let b = fnv1a(&[id.as_bytes(), b"#akashic"].concat());
    let hex = format!("{a:016x}{b:016x}");
    PointId {
        point_id_options: Some(point_id::PointIdOptions::Uuid(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        ))),
    }
}

fn with_payload(on: bool) -> WithPayloadSelector {
    WithPayloadSelector {
        selector_options: Some(with_payload_selector::SelectorOptions::Enable(on)),
    }
}

fn s(v: impl Into<String>) -> qdrant_client::qdrant::Value {
    qdrant_client::qdrant::Value {
        kind: Some(value::Kind::StringValue(v.into())),
    }
}

fn payload(doc: &MemoryDoc, model_id: &str, dim: usize) -> Payload {
    let mut p = Payload::new();
    p.insert("id".into(), s(&doc.id));
    p.insert("service".into(), s(&doc.service));
    p.insert("category".into(), s(doc.category.as_str()));
    p.insert("date".into(), s(doc.date.to_rfc3339()));
    p.insert("date_ts".into(), doc.date.timestamp().into());
    p.insert("summary".into(), s(&doc.summary));
    p.insert("root_cause".into(), s(&doc.root_cause));
    p.insert("recommendation".into(), s(&doc.recommendation));
    if let Some(i) = &doc.incident_id {
        p.insert("incident_id".into(), s(i));
    }
    if let Some(c) = &doc.confirmed_by {
        p.insert("confirmed_by".into(), s(c));
    }
    if !doc.evidence.is_empty() {
        p.insert("evidence".into(), s(doc.evidence.join("\n")));
    }
    p.insert("model_id".into(), s(model_id));
    p.insert("dim".into(), (dim as i64).into());
    p
}

fn str_field(p: &Payload, key: &str) -> Option<String> {
    match p.get(key)?.kind.as_ref()? {
        value::Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_field(p: &Payload, key: &str) -> Option<i64> {
    match p.get(key)?.kind.as_ref()? {
        value::Kind::IntegerValue(i) => Some(*i),
        value::Kind::DoubleValue(d) => Some(*d as i64),
        _ => None,
    }
}

fn from_payload(p: &Payload) -> Result<MemoryDoc, MemoryError> {
    let id = str_field(p, "id").unwrap_or_default();
    let bad = |what: &str| MemoryError::Corrupt {
        id: id.clone(),
        detail: format!("qdrant payload has no valid `{what}`"),
    };
    let field = |k: &str| str_field(p, k).ok_or_else(|| bad(k));
    Ok(MemoryDoc {
        id: field("id")?,
        service: field("service")?,
        date: DateTime::parse_from_rfc3339(&field("date")?)
            .map_err(|_| bad("date"))?
            .with_timezone(&Utc),
        category: field("category")?.parse().map_err(|_| bad("category"))?,
        summary: field("summary")?,
        root_cause: field("root_cause")?,
        recommendation: field("recommendation")?,
        incident_id: str_field(p, "incident_id"),
        confirmed_by: str_field(p, "confirmed_by"),
        evidence: str_field(p, "evidence")
            .map(|e| e.split('\n').map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

/// Whether a filter asks for hours or weekdays, which no payload index knows.
fn clock(filter: &Filter) -> bool {
    filter.hours.is_some() || !filter.weekdays.is_empty()
}

fn keyword(key: &str, v: &str) -> Condition {
    Condition {
        condition_one_of: Some(condition::ConditionOneOf::Field(FieldCondition {
            key: key.into(),
            r#match: Some(Match {
                match_value: Some(r#match::MatchValue::Keyword(v.into())),
            }),
            ..Default::default()
        })),
    }
}

/// The Qdrant filter for a memory filter: keyword matches and an integer range on `date_ts`.
pub fn to_filter(f: &Filter) -> Option<qdrant_client::qdrant::Filter> {
    let mut must = Vec::new();
    if let Some(svc) = &f.service {
        must.push(keyword("service", svc));
    }
    if let Some(c) = f.category {
        must.push(keyword("category", c.as_str()));
    }
    if f.since.is_some() || f.until.is_some() {
        must.push(Condition {
            condition_one_of: Some(condition::ConditionOneOf::Field(FieldCondition {
                key: "date_ts".into(),
                range: Some(Range {
                    gte: f.since.map(|t| t.timestamp() as f64),
                    lte: f.until.map(|t| t.timestamp() as f64),
                    ..Default::default()
                }),
                ..Default::default()
            })),
        });
    }
    (!must.is_empty()).then(|| qdrant_client::qdrant::Filter {
        must,
        ..Default::default()
    })
}

fn short(e: &qdrant_client::QdrantError) -> String {
    let s = e.to_string();
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}
