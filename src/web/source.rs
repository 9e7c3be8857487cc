//! What the web shows, read the way the CLI reads it: the live status from the watchdog's loop
//! (at most once a second, however many clients ask), incidents from the store (redacted on
//! every read), answers from memory.

use crate::cmd::status::{self, StatusView};
use crate::config::Config;
use crate::daemon::control::{LoopAnswer, LoopAsk, LoopRequest};
use crate::incident::{Incident, IncidentStore};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex, Semaphore};
use tokio::time::Instant;

/// A snapshot is served for this long before the loop is asked again.
const FRESH: Duration = Duration::from_secs(1);
/// A snapshot older than [`FRESH`] but younger than this is served at once while a new one is
/// taken in the background: no request waits for a refresh but the first after a quiet spell.
const STALE_OK: Duration = Duration::from_secs(5);
/// The memory's document count is read again after this.
const MEMORY_FRESH: Duration = Duration::from_secs(30);
/// How long the loop may take to answer before the services are read from `services.json`.
const LOOP_WAIT: Duration = Duration::from_secs(2);

/// Everything the page and `/metrics` show, as of `at`.
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub status: StatusView,
    pub incidents: Arc<Vec<Incident>>,
    pub memory_docs: Option<usize>,
    /// `/metrics` of this snapshot, rendered once: by the refresh that took it when a scraper
    /// asked lately, else by the first request.
    pub metrics: std::sync::OnceLock<Arc<String>>,
}

/// See [`Source::reader`].
#[derive(Default)]
struct Reader {
    store: Option<IncidentStore>,
    version: Option<i64>,
    list: Arc<Vec<Incident>>,
}

pub struct Source {
    pub cfg: Arc<Config>,
    store: Arc<IncidentStore>,
    to_loop: mpsc::Sender<LoopRequest>,
    cache: std::sync::Mutex<Option<(Instant, Arc<Snapshot>)>>,
    /// Held while a snapshot is taken: one at a time.
    taking: Mutex<()>,
    /// A background refresh is under way.
    refreshing: AtomicBool,
    memory_docs: Mutex<Option<(Instant, Option<usize>)>>,
    /// The page's and `/metrics`' own read-only connection to the store (WAL readers never
    /// block the daemon's writes, nor wait on its connection), the `data_version` it last
    /// listed at, and that list: incidents are listed (and redacted) again only after a write.
    reader: Arc<std::sync::Mutex<Reader>>,
    /// One question answered at a time (it loads the embedding model).
    pub asks: Semaphore,
    /// `/metrics` was asked for: refreshes render it ahead, off the request's path.
    scraped: AtomicBool,
}

/// A failure to read what a route shows.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read the incident store")]
    Store(#[from] crate::incident::StoreError),
    #[error("the reading task failed")]
    Task(#[from] tokio::task::JoinError),
}

impl Source {
    pub fn new(
        cfg: Arc<Config>,
        store: Arc<IncidentStore>,
        to_loop: mpsc::Sender<LoopRequest>,
    ) -> Self {
        Source {
            cfg,
            store,
            to_loop,
            cache: std::sync::Mutex::new(None),
            taking: Mutex::new(()),
            refreshing: AtomicBool::new(false),
            memory_docs: Mutex::new(None),
            reader: Arc::new(std::sync::Mutex::new(Reader::default())),
            asks: Semaphore::new(1),
            scraped: AtomicBool::new(false),
        }
    }

    /// The cached snapshot if it is younger than `max`.
    fn cached(&self, max: Duration) -> Option<Arc<Snapshot>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .as_ref()
            .filter(|(at, _)| at.elapsed() < max)
            .map(|(_, s)| s.clone())
    }

    /// The snapshot: at most [`FRESH`] old, or at most [`STALE_OK`] old while a newer one is
    /// taken in the background; concurrent callers share one refresh.
    pub async fn snapshot(self: &Arc<Self>) -> Result<Arc<Snapshot>, SourceError> {
        if let Some(s) = self.cached(FRESH) {
            return Ok(s);
        }
        if let Some(s) = self.cached(STALE_OK) {
            if !self.refreshing.swap(true, Ordering::AcqRel) {
                let me = self.clone();
                tokio::spawn(async move {
                    let _ = me.take().await;
                    me.refreshing.store(false, Ordering::Release);
                });
            }
            return Ok(s);
        }
        self.take().await
    }

    /// Takes a new snapshot (unless one was taken while this waited its turn).
    async fn take(&self) -> Result<Arc<Snapshot>, SourceError> {
        let _turn = self.taking.lock().await;
        if let Some(s) = self.cached(FRESH) {
            return Ok(s);
        }
        let live = match self.ask_loop(LoopAsk::Status).await {
            Ok(LoopAnswer::Status(hb)) => Some(*hb),
            _ => None,
        };
        let state_dir = self.cfg.daemon.state_dir.clone();
        let status = tokio::task::spawn_blocking(move || status::view(&state_dir, || live)).await?;
        let incidents = self.listed().await?;
        let snap = Arc::new(Snapshot {
            at: Utc::now(),
            status,
            incidents,
            memory_docs: self.memory_docs().await,
            metrics: std::sync::OnceLock::new(),
        });
        if self.scraped.load(Ordering::Acquire) {
            let (cfg, ahead) = (self.cfg.clone(), snap.clone());
            tokio::task::spawn_blocking(move || {
                ahead
                    .metrics
                    .get_or_init(|| Arc::new(super::metrics::render(cfg, ahead.clone())));
            })
            .await?;
        }
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), snap.clone()));
        Ok(snap)
    }

    /// `/metrics` of the current snapshot: rendered ahead by the refresh that took it once a
    /// scraper has asked, so a scrape is served from memory (rendered here, off the async
    /// threads, only by the first).
    pub async fn metrics(self: &Arc<Self>) -> Result<Arc<String>, SourceError> {
        self.scraped.store(true, Ordering::Release);
        let snap = self.snapshot().await?;
        if let Some(text) = snap.metrics.get() {
            return Ok(text.clone());
        }
        let cfg = self.cfg.clone();
        Ok(tokio::task::spawn_blocking(move || {
            snap.metrics
                .get_or_init(|| Arc::new(super::metrics::render(cfg, snap.clone())))
                .clone()
        })
        .await?)
    }

    /// Every incident, newest first, through the snapshot's own connection (listed again only
    /// when the store changed since), with those the daemon holds in memory while the disk
    /// refuses writes.
    async fn listed(&self) -> Result<Arc<Vec<Incident>>, SourceError> {
        let on_disk = self.on_disk().await?;
        let held = self.store.held_incidents();
        if held.is_empty() {
            return Ok(on_disk);
        }
        let mut all: Vec<Incident> = on_disk
            .iter()
            .filter(|i| !held.iter().any(|h| h.id == i.id))
            .cloned()
            .collect();
        all.extend(held);
        all.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(Arc::new(all))
    }

    async fn on_disk(&self) -> Result<Arc<Vec<Incident>>, SourceError> {
        let me = self.cfg.daemon.state_dir.clone();
        let reader = self.reader.clone();
        // Off the async threads: a `data_version` query, and a listing only after a write.
        tokio::task::spawn_blocking(move || {
            let mut r = reader.lock().unwrap_or_else(|p| p.into_inner());
            if r.store.is_none() {
                if !IncidentStore::path_in(&me).exists() {
                    return Ok(Arc::new(Vec::new()));
                }
                r.store = Some(IncidentStore::open_read_only(&me)?);
            }
            let store = r.store.as_ref().expect("opened above");
            let Some(version) = store.data_version()? else {
                // No tables yet: open again next time, when the daemon has made them.
                r.store = None;
                return Ok(Arc::new(Vec::new()));
            };
            if r.version != Some(version) {
                let list = Arc::new(store.list(None)?);
                r.list = list;
                r.version = Some(version);
            }
            Ok(r.list.clone())
        })
        .await?
    }

    /// Incidents, newest first, as `incidents` lists them.
    pub async fn incidents(&self, service: Option<String>) -> Result<Vec<Incident>, SourceError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || store.list(service.as_deref())).await??)
    }

    /// One incident, as `show` reads it.
    pub async fn incident(&self, id: String) -> Result<Option<Incident>, SourceError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || store.get(&id)).await??)
    }

    /// Asks the watchdog's loop, waiting at most [`LOOP_WAIT`] (a stalled loop is not waited on).
    pub async fn ask_loop(&self, ask: LoopAsk) -> Result<LoopAnswer, String> {
        let (reply, rx) = oneshot::channel();
        let busy = || "the watchdog did not answer within 2 s".to_string();
        self.to_loop
            .send_timeout(LoopRequest { ask, reply }, LOOP_WAIT)
            .await
            .map_err(|_| busy())?;
        match tokio::time::timeout(LOOP_WAIT, rx).await {
            Ok(Ok(answer)) => answer,
            _ => Err(busy()),
        }
    }

    async fn memory_docs(&self) -> Option<usize> {
        let mut m = self.memory_docs.lock().await;
        if let Some((at, n)) = *m {
            if at.elapsed() < MEMORY_FRESH {
                return n;
            }
        }
        let n = async {
            let memory = crate::memory::Memory::open(&self.cfg).ok()?;
            let store = memory.open_store().await.ok()?;
            store.count().await.ok()
        };
        let n = tokio::time::timeout(LOOP_WAIT, n).await.ok().flatten();
        *m = Some((Instant::now(), n));
        n
    }
}
