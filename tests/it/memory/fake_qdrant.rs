//! A protocol-level Qdrant double: the gRPC services `qdrant-client` generates, serving only the calls akashic makes, with real filter semantics.

use qdrant_client::qdrant as q;
use qdrant_client::qdrant::collections_server::{Collections, CollectionsServer};
use qdrant_client::qdrant::points_server::{Points, PointsServer};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};

type Payload = HashMap<String, q::Value>;

#[derive(Debug, Default, Clone)]
pub struct Collection {
    pub dim: u64,
    pub distance: i32,
    /// The dense vector's name (`None`: one unnamed vector), and the sparse vectors' names.
    pub dense_name: Option<String>,
    pub sparse: Vec<String>,
    /// (field, field type) of every payload index created.
    pub indexes: Vec<(String, i32)>,
    /// Point id (uuid or number as text) -> unit vector and payload.
    pub points: BTreeMap<String, (Vec<f32>, Payload)>,
}

#[derive(Debug, Default)]
pub struct State {
    pub collections: HashMap<String, Collection>,
    /// Every call served, by name, in order.
    pub calls: Vec<String>,
}

/// The server state, shared with the test that started it.
#[derive(Clone, Default)]
pub struct FakeQdrant {
    pub state: Arc<Mutex<State>>,
    pub api_key: Option<String>,
}

impl FakeQdrant {
    /// Serves on 127.0.0.1 on a free port until the runtime ends; returns the address.
    pub async fn start(api_key: Option<&str>) -> (FakeQdrant, SocketAddr) {
        let fake = FakeQdrant {
            api_key: api_key.map(str::to_string),
            ..Default::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake qdrant");
        let addr = listener.local_addr().expect("local addr");
        let server = tonic::transport::Server::builder()
            .add_service(PointsServer::new(fake.clone()))
            .add_service(CollectionsServer::new(fake.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        (fake, addr)
    }

    pub fn collection(&self, name: &str) -> Option<Collection> {
        self.state.lock().unwrap().collections.get(name).cloned()
    }

    fn enter<T>(
        &self,
        call: &str,
        req: &Request<T>,
    ) -> Result<std::sync::MutexGuard<'_, State>, Status> {
        if let Some(key) = &self.api_key {
            let got = req.metadata().get("api-key").and_then(|v| v.to_str().ok());
            if got != Some(key.as_str()) {
                return Err(Status::unauthenticated("invalid api key"));
            }
        }
        let mut s = self.state.lock().unwrap();
        s.calls.push(call.to_string());
        Ok(s)
    }
}

fn unused(call: &str) -> Status {
    Status::unimplemented(format!(
        "{call} is not used by akashic and not served by this double"
    ))
}

fn missing(name: &str) -> Status {
    Status::not_found(format!("Collection `{name}` doesn't exist!"))
}

fn id_key(id: &Option<q::PointId>) -> Result<String, Status> {
    match id.as_ref().and_then(|i| i.point_id_options.clone()) {
        Some(q::point_id::PointIdOptions::Num(n)) => Ok(n.to_string()),
        Some(q::point_id::PointIdOptions::Uuid(u)) => Ok(u),
        None => Err(Status::invalid_argument("point without id")),
    }
}

fn to_id(key: &str) -> q::PointId {
    q::PointId {
        point_id_options: Some(match key.parse::<u64>() {
            Ok(n) => q::point_id::PointIdOptions::Num(n),
            Err(_) => q::point_id::PointIdOptions::Uuid(key.to_string()),
        }),
    }
}

#[allow(deprecated)]
fn dense_of(vec: &q::Vector) -> Option<Vec<f32>> {
    match &vec.vector {
        Some(q::vector::Vector::Dense(d)) => Some(d.data.clone()),
        None if !vec.data.is_empty() => Some(vec.data.clone()),
        _ => None,
    }
}

/// The dense vector of a point: the unnamed one, or the one named as the collection's.
fn dense(v: &Option<q::Vectors>, c: &Collection) -> Result<Vec<f32>, Status> {
    let named = |m: &HashMap<String, q::Vector>| {
        let name = c.dense_name.as_deref()?;
        let all_known = m
            .keys()
            .all(|k| k == name || c.sparse.iter().any(|s| s == k));
        all_known.then(|| m.get(name).and_then(dense_of)).flatten()
    };
    let found = match v.as_ref().and_then(|v| v.vectors_options.as_ref()) {
        Some(q::vectors::VectorsOptions::Vector(vec)) if c.dense_name.is_none() => dense_of(vec),
        Some(q::vectors::VectorsOptions::Vectors(m)) => named(&m.vectors),
        _ => None,
    };
    found.ok_or_else(|| {
        Status::invalid_argument("Wrong input: the point's vectors do not match the collection's")
    })
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

fn number(v: &q::Value) -> Option<f64> {
    match v.kind.as_ref()? {
        q::value::Kind::IntegerValue(i) => Some(*i as f64),
        q::value::Kind::DoubleValue(d) => Some(*d),
        _ => None,
    }
}

fn in_range(x: f64, r: &q::Range) -> bool {
    r.gte.is_none_or(|b| x >= b)
        && r.gt.is_none_or(|b| x > b)
        && r.lte.is_none_or(|b| x <= b)
        && r.lt.is_none_or(|b| x < b)
}

fn field_matches(p: &Payload, c: &q::FieldCondition) -> Result<bool, Status> {
    let v = p.get(&c.key);
    if let Some(m) = &c.r#match {
        let ok = match (&m.match_value, v.and_then(|v| v.kind.as_ref())) {
            (Some(q::r#match::MatchValue::Keyword(k)), Some(q::value::Kind::StringValue(s))) => {
                k == s
            }
            (Some(q::r#match::MatchValue::Integer(k)), Some(q::value::Kind::IntegerValue(i))) => {
                k == i
            }
            (Some(q::r#match::MatchValue::Boolean(k)), Some(q::value::Kind::BoolValue(b))) => {
                k == b
            }
            (Some(q::r#match::MatchValue::Keywords(ks)), Some(q::value::Kind::StringValue(s))) => {
                ks.strings.contains(s)
            }
            (
                Some(
                    q::r#match::MatchValue::Keyword(_)
                    | q::r#match::MatchValue::Integer(_)
                    | q::r#match::MatchValue::Boolean(_)
                    | q::r#match::MatchValue::Keywords(_),
                ),
                _,
            ) => false,
            _ => {
                return Err(Status::unimplemented(
                    "match kind not served by this double",
                ))
            }
        };
        return Ok(ok);
    }
    if let Some(r) = &c.range {
        return Ok(v.and_then(number).is_some_and(|x| in_range(x, r)));
    }
    if let Some(r) = &c.datetime_range {
        let t = match v.and_then(|v| v.kind.as_ref()) {
            Some(q::value::Kind::StringValue(s)) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp() as f64),
            _ => None,
        };
        let secs = |ts: &Option<q::Timestamp>| ts.as_ref().map(|t| t.seconds as f64);
        let range = q::Range {
            gte: secs(&r.gte),
            gt: secs(&r.gt),
            lte: secs(&r.lte),
            lt: secs(&r.lt),
        };
        return Ok(t.is_some_and(|x| in_range(x, &range)));
    }
    Err(Status::unimplemented(
        "field condition not served by this double",
    ))
}

fn cond_matches(id: &str, p: &Payload, c: &q::Condition) -> Result<bool, Status> {
    match &c.condition_one_of {
        Some(q::condition::ConditionOneOf::Field(f)) => field_matches(p, f),
        Some(q::condition::ConditionOneOf::Filter(f)) => filter_matches(id, p, &Some(f.clone())),
        Some(q::condition::ConditionOneOf::HasId(h)) => Ok(h
            .has_id
            .iter()
            .any(|i| id_key(&Some(i.clone())).ok().as_deref() == Some(id))),
        _ => Err(Status::unimplemented("condition not served by this double")),
    }
}

/// Qdrant's semantics: every `must`, at least one `should` (when any), no `must_not`.
pub fn filter_matches(id: &str, p: &Payload, f: &Option<q::Filter>) -> Result<bool, Status> {
    let Some(f) = f else { return Ok(true) };
    for c in &f.must {
        if !cond_matches(id, p, c)? {
            return Ok(false);
        }
    }
    if !f.should.is_empty() {
        let mut any = false;
        for c in &f.should {
            any |= cond_matches(id, p, c)?;
        }
        if !any {
            return Ok(false);
        }
    }
    for c in &f.must_not {
        if cond_matches(id, p, c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn wants_payload(w: &Option<q::WithPayloadSelector>) -> bool {
    matches!(
        w.as_ref().and_then(|w| w.selector_options.as_ref()),
        Some(q::with_payload_selector::SelectorOptions::Enable(true))
    )
}

fn done() -> q::PointsOperationResponse {
    q::PointsOperationResponse {
        result: Some(q::UpdateResult {
            operation_id: Some(0),
            status: q::UpdateStatus::Completed as i32,
        }),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl Collections for FakeQdrant {
    async fn collection_exists(
        &self,
        r: Request<q::CollectionExistsRequest>,
    ) -> Result<Response<q::CollectionExistsResponse>, Status> {
        let s = self.enter("collection_exists", &r)?;
        let exists = s.collections.contains_key(&r.get_ref().collection_name);
        Ok(Response::new(q::CollectionExistsResponse {
            result: Some(q::CollectionExists { exists }),
            time: 0.0,
        }))
    }

    async fn create(
        &self,
        r: Request<q::CreateCollection>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        let mut s = self.enter("create_collection", &r)?;
        let req = r.into_inner();
        if s.collections.contains_key(&req.collection_name) {
            return Err(Status::already_exists(format!(
                "Collection `{}` already exists!",
                req.collection_name
            )));
        }
        let (dense_name, p) = match req.vectors_config.and_then(|c| c.config) {
            Some(q::vectors_config::Config::Params(p)) => (None, p),
            Some(q::vectors_config::Config::ParamsMap(m)) if m.map.len() == 1 => {
                let (name, p) = m.map.into_iter().next().expect("one");
                (Some(name), p)
            }
            _ => {
                return Err(Status::invalid_argument(
                    "one dense vector config (unnamed or named) is served",
                ))
            }
        };
        s.collections.insert(
            req.collection_name,
            Collection {
                dim: p.size,
                distance: p.distance,
                dense_name,
                sparse: req
                    .sparse_vectors_config
                    .map(|c| c.map.into_keys().collect())
                    .unwrap_or_default(),
                ..Default::default()
            },
        );
        Ok(Response::new(q::CollectionOperationResponse {
            result: true,
            time: 0.0,
        }))
    }

    async fn get(
        &self,
        r: Request<q::GetCollectionInfoRequest>,
    ) -> Result<Response<q::GetCollectionInfoResponse>, Status> {
        let s = self.enter("collection_info", &r)?;
        let name = &r.get_ref().collection_name;
        let c = s.collections.get(name).ok_or_else(|| missing(name))?;
        let params = q::VectorParams {
            size: c.dim,
            distance: c.distance,
            ..Default::default()
        };
        let config = match &c.dense_name {
            None => q::vectors_config::Config::Params(params),
            Some(n) => q::vectors_config::Config::ParamsMap(q::VectorParamsMap {
                map: HashMap::from([(n.clone(), params)]),
            }),
        };
        Ok(Response::new(q::GetCollectionInfoResponse {
            result: Some(q::CollectionInfo {
                config: Some(q::CollectionConfig {
                    params: Some(q::CollectionParams {
                        vectors_config: Some(q::VectorsConfig {
                            config: Some(config),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                points_count: Some(c.points.len() as u64),
                ..Default::default()
            }),
            time: 0.0,
        }))
    }
    async fn list(
        &self,
        _r: Request<q::ListCollectionsRequest>,
    ) -> Result<Response<q::ListCollectionsResponse>, Status> {
        Err(unused("list"))
    }
    async fn update(
        &self,
        _r: Request<q::UpdateCollection>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(unused("update"))
    }
    async fn delete(
        &self,
        _r: Request<q::DeleteCollection>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(unused("delete"))
    }
    async fn update_aliases(
        &self,
        _r: Request<q::ChangeAliases>,
    ) -> Result<Response<q::CollectionOperationResponse>, Status> {
        Err(unused("update_aliases"))
    }
    async fn list_collection_aliases(
        &self,
        _r: Request<q::ListCollectionAliasesRequest>,
    ) -> Result<Response<q::ListAliasesResponse>, Status> {
        Err(unused("list_collection_aliases"))
    }
    async fn list_aliases(
        &self,
        _r: Request<q::ListAliasesRequest>,
    ) -> Result<Response<q::ListAliasesResponse>, Status> {
        Err(unused("list_aliases"))
    }
    async fn collection_cluster_info(
        &self,
        _r: Request<q::CollectionClusterInfoRequest>,
    ) -> Result<Response<q::CollectionClusterInfoResponse>, Status> {
        Err(unused("collection_cluster_info"))
    }
    async fn update_collection_cluster_setup(
        &self,
        _r: Request<q::UpdateCollectionClusterSetupRequest>,
    ) -> Result<Response<q::UpdateCollectionClusterSetupResponse>, Status> {
        Err(unused("update_collection_cluster_setup"))
    }
    async fn create_shard_key(
        &self,
        _r: Request<q::CreateShardKeyRequest>,
    ) -> Result<Response<q::CreateShardKeyResponse>, Status> {
        Err(unused("create_shard_key"))
    }
    async fn delete_shard_key(
        &self,
        _r: Request<q::DeleteShardKeyRequest>,
    ) -> Result<Response<q::DeleteShardKeyResponse>, Status> {
        Err(unused("delete_shard_key"))
    }
    async fn list_shard_keys(
        &self,
        _r: Request<q::ListShardKeysRequest>,
    ) -> Result<Response<q::ListShardKeysResponse>, Status> {
        Err(unused("list_shard_keys"))
    }
}

#[tonic::async_trait]
impl Points for FakeQdrant {
    async fn upsert(
        &self,
        r: Request<q::UpsertPoints>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        let mut s = self.enter("upsert", &r)?;
        let req = r.into_inner();
        let c = s
            .collections
            .get_mut(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        let mut staged = Vec::new();
        for p in req.points {
            let v = dense(&p.vectors, c)?;
            if v.len() as u64 != c.dim {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: Vector dimension error: expected dim: {}, got {}",
                    c.dim,
                    v.len()
                )));
            }
            staged.push((id_key(&p.id)?, unit(v), p.payload));
        }
        for (id, v, p) in staged {
            c.points.insert(id, (v, p));
        }
        Ok(Response::new(done()))
    }

    async fn delete(
        &self,
        r: Request<q::DeletePoints>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        let mut s = self.enter("delete", &r)?;
        let req = r.into_inner();
        let c = s
            .collections
            .get_mut(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        match req.points.and_then(|p| p.points_selector_one_of) {
            Some(q::points_selector::PointsSelectorOneOf::Points(list)) => {
                for id in list.ids {
                    c.points.remove(&id_key(&Some(id))?);
                }
            }
            Some(q::points_selector::PointsSelectorOneOf::Filter(f)) => {
                let mut keep = BTreeMap::new();
                for (id, (v, p)) in std::mem::take(&mut c.points) {
                    if !filter_matches(&id, &p, &Some(f.clone()))? {
                        keep.insert(id, (v, p));
                    }
                }
                c.points = keep;
            }
            None => return Err(Status::invalid_argument("delete without a selector")),
        }
        Ok(Response::new(done()))
    }

    async fn get(&self, r: Request<q::GetPoints>) -> Result<Response<q::GetResponse>, Status> {
        let s = self.enter("get", &r)?;
        let req = r.get_ref();
        let c = s
            .collections
            .get(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        let mut result = Vec::new();
        for id in &req.ids {
            let key = id_key(&Some(id.clone()))?;
            if let Some((_, p)) = c.points.get(&key) {
                result.push(q::RetrievedPoint {
                    id: Some(to_id(&key)),
                    payload: if wants_payload(&req.with_payload) {
                        p.clone()
                    } else {
                        Default::default()
                    },
                    ..Default::default()
                });
            }
        }
        Ok(Response::new(q::GetResponse {
            result,
            ..Default::default()
        }))
    }

    async fn create_field_index(
        &self,
        r: Request<q::CreateFieldIndexCollection>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        let mut s = self.enter("create_field_index", &r)?;
        let req = r.into_inner();
        let c = s
            .collections
            .get_mut(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        c.indexes
            .push((req.field_name, req.field_type.unwrap_or(-1)));
        Ok(Response::new(done()))
    }

    async fn scroll(
        &self,
        r: Request<q::ScrollPoints>,
    ) -> Result<Response<q::ScrollResponse>, Status> {
        let s = self.enter("scroll", &r)?;
        let req = r.get_ref();
        let c = s
            .collections
            .get(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        let start = match &req.offset {
            Some(o) => Some(id_key(&Some(o.clone()))?),
            None => None,
        };
        let limit = req.limit.unwrap_or(10) as usize;
        let mut result = Vec::new();
        let mut next_page_offset = None;
        for (id, (_, p)) in c.points.range(start.unwrap_or_default()..) {
            if !filter_matches(id, p, &req.filter)? {
                continue;
            }
            if result.len() == limit {
                next_page_offset = Some(to_id(id));
                break;
            }
            result.push(q::RetrievedPoint {
                id: Some(to_id(id)),
                payload: if wants_payload(&req.with_payload) {
                    p.clone()
                } else {
                    Default::default()
                },
                ..Default::default()
            });
        }
        Ok(Response::new(q::ScrollResponse {
            result,
            next_page_offset,
            ..Default::default()
        }))
    }

    async fn count(
        &self,
        r: Request<q::CountPoints>,
    ) -> Result<Response<q::CountResponse>, Status> {
        let s = self.enter("count", &r)?;
        let req = r.get_ref();
        let c = s
            .collections
            .get(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        let mut count = 0;
        for (id, (_, p)) in &c.points {
            count += filter_matches(id, p, &req.filter)? as u64;
        }
        Ok(Response::new(q::CountResponse {
            result: Some(q::CountResult { count }),
            ..Default::default()
        }))
    }

    async fn query(
        &self,
        r: Request<q::QueryPoints>,
    ) -> Result<Response<q::QueryResponse>, Status> {
        let s = self.enter("query", &r)?;
        let req = r.get_ref();
        let c = s
            .collections
            .get(&req.collection_name)
            .ok_or_else(|| missing(&req.collection_name))?;
        if req.using != c.dense_name || !req.prefetch.is_empty() {
            return Err(Status::unimplemented(
                "only nearest-dense queries of the dense vector are served by this double",
            ));
        }
        let v = match req.query.as_ref().and_then(|q| q.variant.as_ref()) {
            Some(q::query::Variant::Nearest(q::VectorInput {
                variant: Some(q::vector_input::Variant::Dense(d)),
            })) => unit(d.data.clone()),
            _ => {
                return Err(Status::unimplemented(
                    "only nearest-dense queries are served by this double",
                ))
            }
        };
        if v.len() as u64 != c.dim {
            return Err(Status::invalid_argument(format!(
                "Wrong input: Vector dimension error: expected dim: {}, got {}",
                c.dim,
                v.len()
            )));
        }
        let mut scored = Vec::new();
        for (id, (pv, p)) in &c.points {
            if filter_matches(id, p, &req.filter)? {
                let score: f32 = pv.iter().zip(&v).map(|(a, b)| a * b).sum();
                scored.push((score, id, p));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(req.limit.unwrap_or(10) as usize);
        let result = scored
            .into_iter()
            .map(|(score, id, p)| q::ScoredPoint {
                id: Some(to_id(id)),
                payload: if wants_payload(&req.with_payload) {
                    p.clone()
                } else {
                    Default::default()
                },
                score,
                ..Default::default()
            })
            .collect();
        Ok(Response::new(q::QueryResponse {
            result,
            ..Default::default()
        }))
    }

    async fn update_vectors(
        &self,
        _r: Request<q::UpdatePointVectors>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("update_vectors"))
    }
    async fn delete_vectors(
        &self,
        _r: Request<q::DeletePointVectors>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("delete_vectors"))
    }
    async fn set_payload(
        &self,
        _r: Request<q::SetPayloadPoints>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("set_payload"))
    }
    async fn overwrite_payload(
        &self,
        _r: Request<q::SetPayloadPoints>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("overwrite_payload"))
    }
    async fn delete_payload(
        &self,
        _r: Request<q::DeletePayloadPoints>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("delete_payload"))
    }
    async fn clear_payload(
        &self,
        _r: Request<q::ClearPayloadPoints>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("clear_payload"))
    }
    async fn delete_field_index(
        &self,
        _r: Request<q::DeleteFieldIndexCollection>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("delete_field_index"))
    }
    async fn create_vector_name(
        &self,
        _r: Request<q::CreateVectorNameRequest>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("create_vector_name"))
    }
    async fn delete_vector_name(
        &self,
        _r: Request<q::DeleteVectorNameRequest>,
    ) -> Result<Response<q::PointsOperationResponse>, Status> {
        Err(unused("delete_vector_name"))
    }
    async fn search(
        &self,
        _r: Request<q::SearchPoints>,
    ) -> Result<Response<q::SearchResponse>, Status> {
        Err(unused("search"))
    }
    async fn search_batch(
        &self,
        _r: Request<q::SearchBatchPoints>,
    ) -> Result<Response<q::SearchBatchResponse>, Status> {
        Err(unused("search_batch"))
    }
    async fn search_groups(
        &self,
        _r: Request<q::SearchPointGroups>,
    ) -> Result<Response<q::SearchGroupsResponse>, Status> {
        Err(unused("search_groups"))
    }
    async fn recommend(
        &self,
        _r: Request<q::RecommendPoints>,
    ) -> Result<Response<q::RecommendResponse>, Status> {
        Err(unused("recommend"))
    }
    async fn recommend_batch(
        &self,
        _r: Request<q::RecommendBatchPoints>,
    ) -> Result<Response<q::RecommendBatchResponse>, Status> {
        Err(unused("recommend_batch"))
    }
    async fn recommend_groups(
        &self,
        _r: Request<q::RecommendPointGroups>,
    ) -> Result<Response<q::RecommendGroupsResponse>, Status> {
        Err(unused("recommend_groups"))
    }
    async fn discover(
        &self,
        _r: Request<q::DiscoverPoints>,
    ) -> Result<Response<q::DiscoverResponse>, Status> {
        Err(unused("discover"))
    }
    async fn discover_batch(
        &self,
        _r: Request<q::DiscoverBatchPoints>,
    ) -> Result<Response<q::DiscoverBatchResponse>, Status> {
        Err(unused("discover_batch"))
    }
    async fn update_batch(
        &self,
        _r: Request<q::UpdateBatchPoints>,
    ) -> Result<Response<q::UpdateBatchResponse>, Status> {
        Err(unused("update_batch"))
    }
    async fn query_batch(
        &self,
        _r: Request<q::QueryBatchPoints>,
    ) -> Result<Response<q::QueryBatchResponse>, Status> {
        Err(unused("query_batch"))
    }
    async fn query_groups(
        &self,
        _r: Request<q::QueryPointGroups>,
    ) -> Result<Response<q::QueryGroupsResponse>, Status> {
        Err(unused("query_groups"))
    }
    async fn facet(
        &self,
        _r: Request<q::FacetCounts>,
    ) -> Result<Response<q::FacetResponse>, Status> {
        Err(unused("facet"))
    }
    async fn search_matrix_pairs(
        &self,
        _r: Request<q::SearchMatrixPoints>,
    ) -> Result<Response<q::SearchMatrixPairsResponse>, Status> {
        Err(unused("search_matrix_pairs"))
    }
    async fn search_matrix_offsets(
        &self,
        _r: Request<q::SearchMatrixPoints>,
    ) -> Result<Response<q::SearchMatrixOffsetsResponse>, Status> {
        Err(unused("search_matrix_offsets"))
    }
}
