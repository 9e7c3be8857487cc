//! What the web shows, read the way the CLI reads it: the live status from the watchdog's loop
//! (at most once a second, however many clients ask; `/metrics` asks for the lean vitals, not
//! the page's details), incidents from the store (redacted on every read), answers from memory.

use super::metrics;
use crate::cmd::status::{self, StatusView};
use crate::config::Config;
use crate::daemon::control::{LoopAnswer, LoopAsk, LoopRequest};
use crate::incident::{Incident, IncidentStore};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
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

/// Everything the page shows, as of `at`.
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub status: StatusView,
    pub incidents: Arc<Vec<Incident>>,
    pub memory_docs: Option<usize>,
}

/// A value taken at most once per [`FRESH`] however many ask, one taking at a time (see
/// [`Source::kept`]).
struct Kept<T> {
    cache: std::sync::Mutex<Option<(Instant, Arc<T>)>>,
    /// Held while a value is taken: one at a time.
    taking: Mutex<()>,
    /// A background refresh is under way.
    refreshing: AtomicBool,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept {
            cache: std::sync::Mutex::new(None),
            taking: Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }
}

impl<T> Kept<T> {
    /// The kept value if it is younger than `max`.
    fn cached(&self, max: Duration) -> Option<Arc<T>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .as_ref()
            .filter(|(at, _)| at.elapsed() < max)
            .map(|(_, s)| s.clone())
    }
}

/// Which [`Kept`] of a [`Source`], and how its value is taken.
type Field<T> = fn(&Source) -> &Kept<T>;
type Take<T> = for<'a> fn(
    &'a Source,
)
    -> Pin<Box<dyn Future<Output = Result<Arc<T>, SourceError>> + Send + 'a>>;

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
    /// The page's snapshot.
    snapshot: Kept<Snapshot>,
    /// `/metrics`' text, taken from the loop's vitals (never from the page's snapshot).
    exposition: Kept<metrics::Exposition>,
    /// What wrote the last exposition, kept for the next (made at the first scrape).
    writer: Arc<std::sync::Mutex<Option<metrics::Writer>>>,
    memory_docs: Mutex<Option<(Instant, Option<usize>)>>,
    /// The page's and `/metrics`' own read-only connection to the store (WAL readers never
    /// block the daemon's writes, nor wait on its connection), the `data_version` it last
    /// listed at, and that list: incidents are listed (and redacted) again only after a write.
    reader: Arc<std::sync::Mutex<Reader>>,
    /// One question answered at a time (it loads the embedding model).
    pub asks: Semaphore,
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
            snapshot: Kept::default(),
            exposition: Kept::default(),
            writer: Arc::new(std::sync::Mutex::new(None)),
            memory_docs: Mutex::new(None),
            reader: Arc::new(std::sync::Mutex::new(Reader::default())),
            asks: Semaphore::new(1),
        }
    }

    /// The page's snapshot: at most [`FRESH`] old, or at most [`STALE_OK`] old while a newer
    /// one is taken in the background; concurrent callers share one refresh.
    pub async fn snapshot(self: &Arc<Self>) -> Result<Arc<Snapshot>, SourceError> {
        self.kept(|s| &s.snapshot, |s| Box::pin(s.take_snapshot()))
            .await
    }

    /// `/metrics`' text, kept as the snapshot is (at most [`FRESH`] old, or [`STALE_OK`] while
    /// a newer one is written in the background, so a scraper every second is served from
    /// memory), but taken from the loop's vitals: a scrape never makes the loop write every
    /// check's detail for a page nobody asked for.
    pub async fn metrics(self: &Arc<Self>) -> Result<Arc<metrics::Exposition>, SourceError> {
        self.kept(|s| &s.exposition, |s| Box::pin(s.take_exposition()))
            .await
    }

    /// A kept value: the cached one while fresh, else a stale one while a refresh runs in the
    /// background, else a new one.
    async fn kept<T: Send + Sync + 'static>(
        self: &Arc<Self>,
        field: Field<T>,
        take: Take<T>,
    ) -> Result<Arc<T>, SourceError> {
        let kept = field(self);
        if let Some(v) = kept.cached(FRESH) {
            return Ok(v);
        }
        if let Some(v) = kept.cached(STALE_OK) {
            if !kept.refreshing.swap(true, Ordering::AcqRel) {
                let me = self.clone();
                tokio::spawn(async move {
                    let _ = me.refresh(field, take).await;
                    field(&me).refreshing.store(false, Ordering::Release);
                });
            }
            return Ok(v);
        }
        self.refresh(field, take).await
    }

    /// Takes a new value (unless one was taken while this waited its turn).
    async fn refresh<T>(&self, field: Field<T>, take: Take<T>) -> Result<Arc<T>, SourceError> {
        let kept = field(self);
        let _turn = kept.taking.lock().await;
        if let Some(v) = kept.cached(FRESH) {
            return Ok(v);
        }
        let v = take(self).await?;
        *kept.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), v.clone()));
        Ok(v)
    }

    async fn take_snapshot(&self) -> Result<Arc<Snapshot>, SourceError> {
        let live = match self.ask_loop(LoopAsk::Status).await {
            Ok(LoopAnswer::Status(hb)) => Some(*hb),
            _ => None,
        };
        let state_dir = self.cfg.daemon.state_dir.clone();
        let status = tokio::task::spawn_blocking(move || status::view(&state_dir, || live)).await?;
        Ok(Arc::new(Snapshot {
            at: Utc::now(),
            status,
            incidents: self.listed().await?,
            memory_docs: self.memory_docs().await,
        }))
    }

    async fn take_exposition(&self) -> Result<Arc<metrics::Exposition>, SourceError> {
        let vitals = match self.ask_loop(LoopAsk::Vitals).await {
            Ok(LoopAnswer::Vitals(v)) => Some(Arc::from(v)),
            _ => None,
        };
        let at = Utc::now();
        let incidents = self.listed().await?;
        let memory_docs = self.memory_docs().await;
        let (cfg, writer) = (self.cfg.clone(), self.writer.clone());
        // Off the async threads: reading `services.json` if the loop did not answer, and writing.
        let text = tokio::task::spawn_blocking(move || {
            let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
            let writer = writer
                .get_or_insert_with(|| metrics::Writer::new(Arc::new(metrics::Layout::of(&cfg))));
            let vitals = vitals.unwrap_or_else(|| {
                // A stalled loop: the services as it last wrote them, as the page shows them.
                let status = status::view(&cfg.daemon.state_dir, || None);
                Arc::new(writer.layout().vitals_of(&status.services))
            });
            writer.render(at, vitals, incidents, memory_docs)
        })
        .await?;
        Ok(Arc::new(text))
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
