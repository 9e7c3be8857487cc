//! The embedded store: post-mortems and vectors in SQLite under `state_dir`, searched exactly in memory.

use super::doc::{normalize, Filter, Hit, MemoryDoc, Record, Vector};
use super::error::MemoryError;
use super::flat::Reader;
use super::index::{category_code, RowMeta, VectorIndex};
use super::index_file::{self, Indexes, Miss, Stamp};
use super::lexical::LexicalIndex;
use super::services::Services;
use super::store::{check_batch, check_query, VectorStore};
use crate::core::category::Category;
use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// How long a write waits for another process's write (the daemon remembering, an import).
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

const MODEL_KEY: &str = "model";
/// A random token that SQLite triggers replace on every row written to or deleted from `docs`
/// or `vectors` (by this build or any other: the triggers are in the database), so an index
/// file built before a write, or from a restored copy of the store, never matches.
const STATE_KEY: &str = "state";

/// Tables `docs` (id -> JSON), `vectors` (id -> encoded row) and `meta` (model id and dim), in
/// SQLite with `journal_mode = WAL` and `synchronous = FULL`: a write is on disk when it
/// returns, a crash or a full disk leaves the last committed state, and `akashic ask` reads
/// while the daemon writes. The indexes searches need are read from `memory.idx` when it
/// holds the store's current state, else rebuilt from the tables and written there.
pub struct EmbeddedStore {
    path: PathBuf,
    conn: std::sync::Mutex<Connection>,
    model: Option<(String, usize)>,
    /// The three are loaded together on the first search, lexical search or question read:
    /// remembering a post-mortem never pays for them. The vector index.
    index: OnceLock<VectorIndex>,
    /// The words of every doc.
    lexical: OnceLock<LexicalIndex>,
    /// The service names and the words that point at each, for reading questions.
    services: OnceLock<Services>,
}

impl EmbeddedStore {
    /// Where the store lives under a state dir (apart from the incident store).
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("memory.db")
    }

    /// The sled store of earlier versions, imported once on first open.
    pub fn legacy_path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("memory.sled")
    }

    /// Opens (creating) the store under `state_dir`; a write waits up to `lock_wait` for
    /// another process's write.
    pub async fn open(state_dir: &Path, lock_wait: Duration) -> Result<Self, MemoryError> {
        let state_dir = state_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&state_dir, lock_wait))
            .await
            .map_err(|e| MemoryError::Task(e.to_string()))?
    }

    fn open_blocking(state_dir: &Path, lock_wait: Duration) -> Result<Self, MemoryError> {
        let path = Self::path_in(state_dir);
        let open_err = |source| MemoryError::StoreOpen {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(|e| MemoryError::Io {
            path: state_dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let conn = connect(&path, lock_wait).map_err(open_err)?;
        let mut store = EmbeddedStore {
            path: path.clone(),
            conn: std::sync::Mutex::new(conn),
            model: None,
            index: OnceLock::new(),
            lexical: OnceLock::new(),
            services: OnceLock::new(),
        };
        store.import_legacy(state_dir)?;
        store.model = store.read_model()?;
        store.ensure_state()?;
        Ok(store)
    }

    /// Gives a store made by an earlier version (or just created) its state token; a store
    /// that has one is only read, so an `ask` does not wait for the daemon's write lock.
    fn ensure_state(&mut self) -> Result<(), MemoryError> {
        let has: bool = self
            .conn
            .get_mut()
            .unwrap()
            .query_row("SELECT count(*) FROM meta WHERE k = ?1", [STATE_KEY], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| self.io(e))?;
        if has {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO meta (k, v) VALUES (?1, randomblob(16))",
                [STATE_KEY],
            )
            .map(|_| ())
        })
    }

    /// The state the store is at, read inside the caller's transaction; `None` for a store
    /// without a state token.
    fn stamp(&self, conn: &Connection) -> Result<Option<Stamp>, MemoryError> {
        let get = |k: &str| {
            conn.query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .optional()
            .map_err(|e| self.io(e))
        };
        use rusqlite::types::Value;
        let Some(Value::Blob(state)) = get(STATE_KEY)? else {
            return Ok(None);
        };
        let (model, dim) = match get(MODEL_KEY)? {
            Some(Value::Blob(b)) => decode_model(&b)?,
            _ => (String::new(), 0),
        };
        Ok(Some(Stamp { state, model, dim }))
    }

    fn read_model(&self) -> Result<Option<(String, usize)>, MemoryError> {
        let v: Option<Vec<u8>> = self
            .conn
            .lock()
            .unwrap()
            .query_row("SELECT v FROM meta WHERE k = ?1", [MODEL_KEY], |r| r.get(0))
            .optional()
            .map_err(|e| self.io(e))?;
        v.map(|b| decode_model(&b)).transpose()
    }

    fn io(&self, e: rusqlite::Error) -> MemoryError {
        store_err(&self.path, e)
    }

    /// Loads the vector index, the lexical index and the service cues: read from the index
    /// file when it holds the store's current state, else rebuilt from one consistent read of
    /// the tables and written to the file for the next process. Indexes already loaded (and
    /// kept current by this store's own writes) stay as they are.
    fn load(&self) -> Result<(), MemoryError> {
        if self.index.get().is_some() && self.lexical.get().is_some() {
            return Ok(());
        }
        let file = index_file::path_in(self.path.parent().unwrap_or(Path::new(".")));
        let conn = self.conn.lock().unwrap();
        // One read transaction: the stamp and the rows are of the same committed state.
        let tx = conn.unchecked_transaction().map_err(|e| self.io(e))?;
        let stamp = self.stamp(&tx)?;
        if let Some(stamp) = &stamp {
            match index_file::read(&file, stamp) {
                Ok(ix) => {
                    drop(tx);
                    self.fill(ix);
                    return Ok(());
                }
                Err(Miss::Unreadable(why)) => {
                    tracing::info!(file = %file.display(), %why, "the index file is not readable; rebuilding it from the store")
                }
                Err(Miss::Missing | Miss::Stale) => {}
            }
        }
        let vectors = self.read_vectors(&tx, stamp.as_ref())?;
        let mut lexical = LexicalIndex::new();
        {
            let mut stmt = tx
                .prepare("SELECT id, body FROM docs")
                .map_err(|e| self.io(e))?;
            let mut rows = stmt.query([]).map_err(|e| self.io(e))?;
            while let Some(r) = rows.next().map_err(|e| self.io(e))? {
                let id = r.get_ref(0).and_then(|v| Ok(v.as_str()?.to_string()));
                let body = r
                    .get_ref(1)
                    .map(|v| v.as_bytes().unwrap_or_default().to_vec());
                let (id, body) = (id.map_err(|e| self.io(e))?, body.map_err(|e| self.io(e))?);
                lexical.upsert(&decode_doc(&id, &body)?)?;
            }
        }
        drop(tx);
        drop(conn);
        let services = Services::new(&lexical.services(), &lexical.word_services()?);
        let ix = Indexes {
            vectors,
            lexical,
            services,
        };
        if let Some(stamp) = &stamp {
            if let Err(e) = index_file::write(&file, stamp, &ix) {
                tracing::warn!(file = %file.display(), error = %e, "could not write the index file; the next process rebuilds the indexes from the store");
            }
        }
        self.fill(ix);
        Ok(())
    }

    /// Forgets the loaded indexes (after a write they could not follow).
    fn unload(&mut self) {
        self.index = OnceLock::new();
        self.lexical = OnceLock::new();
        self.services = OnceLock::new();
    }

    fn fill(&self, ix: Indexes) {
        let _ = self.index.set(ix.vectors);
        let _ = self.lexical.set(ix.lexical);
        let _ = self.services.set(ix.services);
    }

    /// Reads every vector row, checking each is of the state's model.
    fn read_vectors(
        &self,
        conn: &Connection,
        stamp: Option<&Stamp>,
    ) -> Result<VectorIndex, MemoryError> {
        let model = match stamp {
            Some(s) if s.dim > 0 => Some((s.model.clone(), s.dim)),
            Some(_) => None,
            None => self.model.clone(),
        };
        let mut index = VectorIndex::new(model.as_ref().map_or(0, |m| m.1));
        let mut stmt = conn
            .prepare("SELECT id, row FROM vectors")
            .map_err(|e| self.io(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.io(e))?;
        while let Some(r) = rows.next().map_err(|e| self.io(e))? {
            let id: String = r.get(0).map_err(|e| self.io(e))?;
            let bytes = r.get_ref(1).map_err(|e| self.io(e))?;
            let row = decode_row(&id, bytes.as_blob().unwrap_or_default())?;
            if model
                .as_ref()
                .is_some_and(|(m, d)| *m != row.model_id || *d != row.values.len())
            {
                return Err(MemoryError::Corrupt {
                    id,
                    detail: "vector model differs from the store's model".into(),
                });
            }
            index
                .upsert(&id, &row.meta, &row.values)
                .map_err(|e| MemoryError::Io {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })?;
        }
        Ok(index)
    }

    /// The in-memory vector index, loading the indexes on first use.
    pub fn index(&self) -> Result<&VectorIndex, MemoryError> {
        self.load()?;
        Ok(self.index.get().expect("loaded"))
    }

    /// The lexical index of every doc, loading the indexes on first use.
    pub fn lexical_index(&self) -> Result<&LexicalIndex, MemoryError> {
        self.load()?;
        Ok(self.lexical.get().expect("loaded"))
    }

    /// How many docs have a vector.
    pub fn vector_count(&self) -> usize {
        self.conn
            .lock()
            .unwrap()
            .query_row("SELECT count(*) FROM vectors", [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| n as usize)
    }

    /// Every doc with its vector when it has one (for `memory migrate`).
    pub fn records(&self) -> Result<Vec<Record>, MemoryError> {
        let model = self.model.as_ref().map(|m| m.0.clone()).unwrap_or_default();
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare("SELECT d.id, d.body, v.row FROM docs d LEFT JOIN vectors v ON v.id = d.id ORDER BY d.id")
            .map_err(|e| self.io(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.io(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.io(e))? {
            let id: String = r.get(0).map_err(|e| self.io(e))?;
            let body: String = r.get(1).map_err(|e| self.io(e))?;
            let row: Option<Vec<u8>> = r.get(2).map_err(|e| self.io(e))?;
            let doc = decode_doc(&id, body.as_bytes())?;
            let vector = match row {
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

    fn docs_where(&self, sql: &str) -> Result<Vec<MemoryDoc>, MemoryError> {
        let conn = self.conn.lock().unwrap();
        let mut stmt = conn.prepare(sql).map_err(|e| self.io(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.io(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(|e| self.io(e))?;
            out.push(decode_doc(&id, body.as_bytes())?);
        }
        Ok(out)
    }

    /// Imports `memory.sled` of an earlier version once, then renames it `.imported`. A sled
    /// store that cannot be read (sled 0.34's known snapshot failure after a full disk) is
    /// left where it is and said so; post-mortems are also kept with their incidents.
    fn import_legacy(&mut self, state_dir: &Path) -> Result<(), MemoryError> {
        let legacy = Self::legacy_path_in(state_dir);
        if !legacy.is_dir() {
            return Ok(());
        }
        let failed = |detail: String| {
            MemoryError::Io {
            path: legacy.clone(),
            detail: format!("cannot import the memory store of an earlier version ({detail}); it was left as it is"),
        }
        };
        let db = sled::Config::new()
            .path(&legacy)
            .open()
            .map_err(|e| failed(e.to_string()))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| failed(e.to_string()));
        let (docs, vectors, meta) = (tree("docs")?, tree("vectors")?, tree("meta")?);
        let path = self.path.clone();
        let tx = self
            .conn
            .get_mut()
            .unwrap()
            .transaction()
            .map_err(|e| store_err(&path, e))?;
        let mut n = 0usize;
        for kv in docs.iter() {
            let (k, v) = kv.map_err(|e| failed(e.to_string()))?;
            tx.execute(
                "INSERT OR REPLACE INTO docs (id, body) VALUES (?1, ?2)",
                params![String::from_utf8_lossy(&k), String::from_utf8_lossy(&v)],
            )
            .map_err(|e| store_err(&path, e))?;
            n += 1;
        }
        for kv in vectors.iter() {
            let (k, v) = kv.map_err(|e| failed(e.to_string()))?;
            tx.execute(
                "INSERT OR REPLACE INTO vectors (id, row) VALUES (?1, ?2)",
                params![String::from_utf8_lossy(&k), v.as_ref()],
            )
            .map_err(|e| store_err(&path, e))?;
        }
        if let Some(m) = meta
            .get(MODEL_KEY.as_bytes())
            .map_err(|e| failed(e.to_string()))?
        {
            tx.execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
                params![MODEL_KEY, m.as_ref()],
            )
            .map_err(|e| store_err(&path, e))?;
        }
        tx.commit().map_err(|e| store_err(&path, e))?;
        drop(db);
        std::fs::rename(&legacy, state_dir.join("memory.sled.imported"))
            .map_err(|e| failed(e.to_string()))?;
        tracing::info!(docs = n, from = %legacy.display(), "imported the memory store of an earlier version");
        Ok(())
    }

    /// Runs one write transaction.
    fn write(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
    ) -> Result<(), MemoryError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .get_mut()
            .unwrap()
            .transaction()
            .map_err(|e| store_err(&path, e))?;
        f(&tx).map_err(|e| store_err(&path, e))?;
        tx.commit().map_err(|e| store_err(&path, e))
    }
}

fn connect(path: &Path, lock_wait: Duration) -> rusqlite::Result<Connection> {
    crate::secure::prepare_sqlite(path).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(e.to_string()),
        )
    })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )?;
    conn.busy_timeout(lock_wait)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY NOT NULL, row BLOB NOT NULL) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID;
         CREATE TRIGGER IF NOT EXISTS state_docs_insert AFTER INSERT ON docs BEGIN INSERT OR REPLACE INTO meta (k, v) VALUES ('state', randomblob(16)); END;
         CREATE TRIGGER IF NOT EXISTS state_docs_update AFTER UPDATE ON docs BEGIN INSERT OR REPLACE INTO meta (k, v) VALUES ('state', randomblob(16)); END;
         CREATE TRIGGER IF NOT EXISTS state_docs_delete AFTER DELETE ON docs BEGIN INSERT OR REPLACE INTO meta (k, v) VALUES ('state', randomblob(16)); END;
         CREATE TRIGGER IF NOT EXISTS state_vectors_insert AFTER INSERT ON vectors BEGIN INSERT OR REPLACE INTO meta (k, v) VALUES ('state', randomblob(16)); END;
         CREATE TRIGGER IF NOT EXISTS state_vectors_update AFTER UPDATE ON vectors BEGIN INSERT OR REPLACE INTO meta (k, v) VALUES ('state', randomblob(16)); END;
         CREATE TRIGGER IF NOT EXISTS state_vectors_delete AFTER DELETE ON vectors BEGIN INSERT OR REPLACE INTO meta (k, v) VALUES ('state', randomblob(16)); END;",
    )?;
    Ok(conn)
}

/// A store error; a write that waited out the busy timeout says the store is locked.
fn store_err(path: &Path, e: rusqlite::Error) -> MemoryError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            MemoryError::StoreLocked {
                path: path.to_path_buf(),
                waited: LOCK_WAIT,
            }
        }
        _ => MemoryError::StoreIo(e),
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
            let doc = serde_json::to_string(&r.doc).map_err(|e| MemoryError::Corrupt {
                id: r.doc.id.clone(),
                detail: e.to_string(),
            })?;
            let row = r.vector.as_ref().map(|v| encode_row(&r.doc, v));
            encoded.push((r.doc.id.clone(), doc, row));
        }
        let model_bytes = new_model.as_ref().map(|(m, d)| encode_model(m, *d));
        self.write(|tx| {
            let mut put_doc =
                tx.prepare_cached("INSERT OR REPLACE INTO docs (id, body) VALUES (?1, ?2)")?;
            let mut put_row =
                tx.prepare_cached("INSERT OR REPLACE INTO vectors (id, row) VALUES (?1, ?2)")?;
            let mut del_row = tx.prepare_cached("DELETE FROM vectors WHERE id = ?1")?;
            for (id, doc, row) in &encoded {
                put_doc.execute(params![id, doc])?;
                match row {
                    Some(row) => put_row.execute(params![id, row])?,
                    None => del_row.execute(params![id])?,
                };
            }
            if let Some(m) = &model_bytes {
                tx.execute(
                    "INSERT OR REPLACE INTO meta (k, v) VALUES (?1, ?2)",
                    params![MODEL_KEY, m],
                )?;
            }
            Ok(())
        })?;
        if new_model.is_some() {
            self.model = new_model;
        }
        self.services = OnceLock::new();
        let lexical = match self.lexical.get_mut() {
            Some(ix) => records.iter().try_for_each(|r| ix.upsert(&r.doc)),
            None => Ok(()),
        };
        let vectors = match self.index.get_mut() {
            Some(ix) => records.iter().try_for_each(|r| match &r.vector {
                Some(v) => ix.upsert(&r.doc.id, &row_meta(&r.doc), &v.values),
                None => ix.remove(&r.doc.id),
            }),
            None => Ok(()),
        };
        if lexical.is_err() || vectors.is_err() {
            // The write is committed; the next search loads the indexes again.
            self.unload();
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
        let found = self.index()?.search(&q, k, filter)?;
        for (id, score) in found {
            if let Some(doc) = self.get(id).await? {
                hits.push(Hit { doc, score });
            }
        }
        Ok(hits)
    }

    async fn get(&self, id: &str) -> Result<Option<MemoryDoc>, MemoryError> {
        let body: Option<String> = self
            .conn
            .lock()
            .unwrap()
            .prepare_cached("SELECT body FROM docs WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.io(e))?;
        body.map(|b| decode_doc(id, b.as_bytes())).transpose()
    }

    async fn delete(&mut self, id: &str) -> Result<bool, MemoryError> {
        let mut existed = false;
        self.write(|tx| {
            tx.execute("DELETE FROM vectors WHERE id = ?1", [id])?;
            existed = tx.execute("DELETE FROM docs WHERE id = ?1", [id])? > 0;
            Ok(())
        })?;
        if let Some(ix) = self.lexical.get_mut() {
            ix.remove(id);
        }
        self.services = OnceLock::new();
        if self
            .index
            .get_mut()
            .is_some_and(|ix| ix.remove(id).is_err())
        {
            self.unload();
        }
        Ok(existed)
    }

    async fn count(&self) -> Result<usize, MemoryError> {
        self.conn
            .lock()
            .unwrap()
            .query_row("SELECT count(*) FROM docs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.io(e))
    }

    async fn list(&self, filter: &Filter) -> Result<Vec<MemoryDoc>, MemoryError> {
        let mut out: Vec<MemoryDoc> = self
            .docs_where("SELECT id, body FROM docs")?
            .into_iter()
            .filter(|d| filter.matches(d))
            .collect();
        out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn lexical(
        &self,
        words: &str,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(String, f32)>, MemoryError> {
        Ok(self
            .lexical_index()?
            .search(words, k, filter)?
            .into_iter()
            .map(|(id, s)| (id.to_string(), s))
            .collect())
    }

    async fn services(&self) -> Result<Services, MemoryError> {
        // Loading the indexes from the file loads the cues too; after a write they are rebuilt.
        let ix = self.lexical_index()?;
        if let Some(s) = self.services.get() {
            return Ok(s.clone());
        }
        let built = Services::new(&ix.services(), &ix.word_services()?);
        Ok(self.services.get_or_init(|| built).clone())
    }

    async fn docs_without_vector(&self) -> Result<Vec<MemoryDoc>, MemoryError> {
        self.docs_where(
            "SELECT d.id, d.body FROM docs d WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.id = d.id) ORDER BY d.id",
        )
    }

    async fn prepare_search(&self) -> Result<(), MemoryError> {
        self.load()
    }

    async fn vector_model(&self) -> Result<Option<(String, usize)>, MemoryError> {
        Ok(self.model.clone())
    }

    async fn reset_vectors(&mut self) -> Result<(), MemoryError> {
        self.write(|tx| {
            tx.execute("DELETE FROM vectors", [])?;
            tx.execute("DELETE FROM meta WHERE k = ?1", [MODEL_KEY])?;
            Ok(())
        })?;
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
    out.push(category_code(doc.category));
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
    let mut r = Reader::new(std::io::Cursor::new(b), b.len() as u64);
    if r.u8() != Some(1) {
        return Err(corrupt("version"));
    }
    let model = r.u8().and_then(|n| r.bytes(n as usize));
    let model_id = String::from_utf8_lossy(&model.ok_or_else(|| corrupt("model"))?).into_owned();
    let dim = r.u32().ok_or_else(|| corrupt("dim"))? as usize;
    let date = r.i64().ok_or_else(|| corrupt("date"))?;
    let cat = r.u8().ok_or_else(|| corrupt("category"))? as usize;
    let category = *Category::ALL.get(cat).ok_or_else(|| corrupt("category"))?;
    let service = r.u16().and_then(|n| r.bytes(n as usize));
    let service = String::from_utf8_lossy(&service.ok_or_else(|| corrupt("service"))?).into_owned();
    let raw = dim
        .checked_mul(4)
        .and_then(|n| r.bytes(n))
        .ok_or_else(|| corrupt("values"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn doc(i: usize) -> MemoryDoc {
        MemoryDoc {
            confirmed_by: None,
            evidence: Vec::new(),
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
    async fn the_index_file_is_read_while_current_and_rebuilt_after_any_write() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let file = index_file::path_in(tmp.path());
        let ino = || std::fs::metadata(&file).map(|m| m.ino()).ok();
        let q = |hot: usize| Vector {
            model_id: "m".into(),
            values: (0..8).map(|i| if i == hot { 1.0 } else { 0.0 }).collect(),
        };
        let top = |s: EmbeddedStore, hot: usize| async move {
            let hits = s.search(&q(hot), 1, &Filter::default()).await.unwrap();
            let lexical = s.lexical("summary", 50, &Filter::default()).await.unwrap();
            (hits[0].doc.id.clone(), lexical.len())
        };
        let open = || EmbeddedStore::open(tmp.path(), LOCK_WAIT);
        let mut writer = open().await.unwrap();
        writer
            .upsert((0..6).map(|i| rec(i, i, "m")).collect())
            .await
            .unwrap();
        assert_eq!(ino(), None, "remembering builds no index");
        // The first reader builds the indexes and writes the file; the next reads it as is.
        assert_eq!(top(open().await.unwrap(), 3).await, ("pm-3".into(), 6));
        let built = ino().expect("the file is written");
        assert_eq!(top(open().await.unwrap(), 4).await, ("pm-4".into(), 6));
        assert_eq!(ino(), Some(built), "a current file is not rewritten");
        // Another handle writes: the file is stale, a reader sees the write and rewrites it.
        writer.upsert(vec![rec(7, 7, "m")]).await.unwrap();
        assert_eq!(top(open().await.unwrap(), 7).await, ("pm-7".into(), 7));
        let rebuilt = ino().unwrap();
        assert_ne!(rebuilt, built);
        writer.delete("pm-7").await.unwrap();
        assert_eq!(top(open().await.unwrap(), 7).await.1, 6);
        // A write by any other program (an older akashic, the sqlite3 shell) makes it stale
        // too: the triggers that change the state are in the database.
        let raw = Connection::open(EmbeddedStore::path_in(tmp.path())).unwrap();
        raw.execute("DELETE FROM docs WHERE id = 'pm-5'", [])
            .unwrap();
        raw.execute("DELETE FROM vectors WHERE id = 'pm-5'", [])
            .unwrap();
        drop(raw);
        assert_eq!(top(open().await.unwrap(), 2).await, ("pm-2".into(), 5));
        let hits = open().await.unwrap();
        let hits = hits.search(&q(5), 6, &Filter::default()).await.unwrap();
        assert!(hits.iter().all(|h| h.doc.id != "pm-5"), "{hits:?}");
        writer.upsert(vec![rec(5, 5, "m")]).await.unwrap();
        // A damaged file is rebuilt, not trusted.
        let mut bytes = std::fs::read(&file).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(top(open().await.unwrap(), 2).await, ("pm-2".into(), 6));
        let s = open().await.unwrap();
        let stamp = s.stamp(&s.conn.lock().unwrap()).unwrap().unwrap();
        assert!(index_file::read(&file, &stamp).is_ok());
        // The service cues come from the file with the indexes: reading a question's service
        // names reads no postings (here they can no longer be read), a lexical search does.
        s.index().unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(64)
            .unwrap();
        assert_eq!(s.services().await.unwrap().names(), ["a", "b"]);
        let err = s
            .lexical("summary", 5, &Filter::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("memory.idx"), "{err}");
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
    async fn the_daemon_and_an_ask_open_the_store_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        writer.upsert(vec![rec(1, 1, "m")]).await.unwrap();
        let reader = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        assert_eq!(reader.vector_count(), 1);
        writer.upsert(vec![rec(2, 2, "m")]).await.unwrap();
        assert_eq!(reader.count().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn the_sled_store_of_an_earlier_version_is_imported_once() {
        let tmp = tempfile::tempdir().unwrap();
        let r = rec(1, 1, "m");
        {
            let db = sled::open(EmbeddedStore::legacy_path_in(tmp.path())).unwrap();
            let mut v = r.vector.clone().unwrap();
            normalize(&mut v.values);
            db.open_tree("docs")
                .unwrap()
                .insert(b"pm-1", serde_json::to_vec(&r.doc).unwrap())
                .unwrap();
            db.open_tree("vectors")
                .unwrap()
                .insert(b"pm-1", encode_row(&r.doc, &v))
                .unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert(MODEL_KEY.as_bytes(), encode_model("m", 8))
                .unwrap();
            db.flush().unwrap();
        }
        let s = EmbeddedStore::open(tmp.path(), LOCK_WAIT).await.unwrap();
        assert_eq!(s.vector_model().await.unwrap(), Some(("m".into(), 8)));
        assert_eq!(s.records().unwrap().len(), 1);
        assert!(tmp.path().join("memory.sled.imported").is_dir());
        let hits = s
            .search(&r.vector.clone().unwrap(), 1, &Filter::default())
            .await
            .unwrap();
        assert_eq!(hits[0].doc.id, "pm-1");
    }
}
