//! The durable incident store (SQLite in WAL mode under `state_dir`), with the post-mortem queue,
//! and a hold for writes the disk refused (a full disk): they are kept, served and written later.

use super::model::Incident;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the incident store at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("incident store I/O failed")]
    Io(#[from] rusqlite::Error),
    #[error("stored incident {id} is not valid JSON")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot import the old incident store at {}: {detail}; it was left as it is", path.display())]
    Migrate { path: PathBuf, detail: String },
}

/// Whether a write reached the disk or is held in memory until the disk takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Durable,
    Held,
}

/// At most this many incidents are held in memory while the disk refuses writes; past it the
/// oldest held incident is dropped (and said so in the log), so a long outage cannot grow the
/// daemon without bound.
const HOLD_MAX: usize = 10_000;

/// Writes the disk refused: the newest version of each incident, and queue changes.
#[derive(Default)]
struct Held {
    incidents: BTreeMap<String, Incident>,
    enqueued: BTreeSet<String>,
    dequeued: BTreeSet<String>,
    /// Why the last write failed; `None` while everything is on disk.
    reason: Option<String>,
    dropped: usize,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.enqueued.is_empty() && self.dequeued.is_empty()
    }
}

/// Incidents by id (ids sort by detection time), and the post-mortem queue.
///
/// SQLite with `journal_mode = WAL` and `synchronous = FULL`: a commit is on disk when it
/// returns, a crash or kill -9 at any moment leaves the last committed state, and a full disk
/// fails the transaction (`SQLITE_FULL`) without touching what is stored. Several processes may
/// open it at once (the daemon writes, the CLI reads).
pub struct IncidentStore {
    path: PathBuf,
    /// `None` while the file cannot be opened (a daemon that started on a full disk).
    conn: Mutex<Option<Connection>>,
    held: Mutex<Held>,
    /// Taken for each read-modify-write, so two tasks changing one incident at once (a
    /// restart being recorded while another service's incident joins it to a group) cannot
    /// write back a copy that misses the other's change.
    rmw: Mutex<()>,
}

impl IncidentStore {
    /// Where the store lives under a state dir.
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("incidents.db")
    }

    /// The sled store of earlier versions, imported once on first open.
    pub fn legacy_path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("incidents.sled")
    }

    /// Opens (creating) the store; fails when the file cannot be opened.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path_in(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("cannot create {}: {e}", state_dir.display())),
            ),
        })?;
        let conn = connect(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let store = IncidentStore {
            path,
            conn: Mutex::new(Some(conn)),
            held: Mutex::new(Held::default()),
            rmw: Mutex::new(()),
        };
        store.import_legacy(state_dir)?;
        Ok(store)
    }

    /// Opens the store for the daemon: when the file cannot be opened (a full disk), the store
    /// starts empty and holds every write, and [`flush_held`](Self::flush_held) keeps trying.
    pub fn open_or_hold(state_dir: &Path) -> (Self, Option<StoreError>) {
        match Self::open(state_dir) {
            Ok(s) => (s, None),
            Err(e @ StoreError::Migrate { .. }) => {
                let path = Self::path_in(state_dir);
                let conn = connect(&path).ok();
                let held = Held {
                    reason: conn.is_none().then(|| crate::errors::chain(&e)),
                    ..Held::default()
                };
                let s = IncidentStore {
                    path,
                    conn: Mutex::new(conn),
                    held: Mutex::new(held),
                    rmw: Mutex::new(()),
                };
                (s, Some(e))
            }
            Err(e) => {
                let s = IncidentStore {
                    path: Self::path_in(state_dir),
                    conn: Mutex::new(None),
                    held: Mutex::new(Held {
                        reason: Some(crate::errors::chain(&e)),
                        ..Held::default()
                    }),
                    rmw: Mutex::new(()),
                };
                (s, Some(e))
            }
        }
    }

    /// Opens an existing store read-only (the CLI, while no daemon answers).
    pub fn open_read_only(state_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path_in(state_dir);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(c)
        })
        .map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        // A store whose creator has not yet made its tables reads as empty.
        let has_tables: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'incidents'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)?;
        Ok(IncidentStore {
            path,
            conn: Mutex::new(has_tables.then_some(conn)),
            held: Mutex::new(Held::default()),
            rmw: Mutex::new(()),
        })
    }

    /// SQLite's `data_version` of this connection: it changes when another connection (the
    /// daemon's, `label`'s) commits, so a reader can tell its last read is still current.
    /// `None` for a store with no tables yet.
    pub fn data_version(&self) -> Result<Option<i64>, StoreError> {
        let guard = self.conn.lock().unwrap();
        let Some(conn) = guard.as_ref() else {
            return Ok(None);
        };
        Ok(Some(
            conn.query_row("PRAGMA data_version", [], |r| r.get(0))?,
        ))
    }

    /// Writes an incident; it is on disk when this returns `Durable`, held in memory when `Held`.
    pub fn put(&self, inc: &Incident) -> Result<Durability, StoreError> {
        self.write(|tx| upsert(tx, inc), |h| hold(h, inc.clone()))
    }

    /// Writes an incident and queues it for a post-mortem, in one transaction.
    pub fn put_and_enqueue(&self, inc: &Incident) -> Result<Durability, StoreError> {
        self.write(
            |tx| {
                upsert(tx, inc)?;
                tx.execute(
                    "INSERT OR IGNORE INTO postmortem_queue (id) VALUES (?1)",
                    [&inc.id],
                )?;
                Ok(())
            },
            |h| {
                hold(h, inc.clone());
                h.dequeued.remove(&inc.id);
                h.enqueued.insert(inc.id.clone());
            },
        )
    }

    pub fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        if let Some(inc) = self.held.lock().unwrap().incidents.get(id) {
            return Ok(Some(inc.clone()));
        }
        let guard = self.conn.lock().unwrap();
        let Some(conn) = guard.as_ref() else {
            return Ok(None);
        };
        let body: Option<String> = conn
            .query_row("SELECT body FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        body.map(|b| from_json(id, &b)).transpose()
    }

    /// Incidents, newest first, optionally of one service (held ones included).
    pub fn list(&self, service: Option<&str>) -> Result<Vec<Incident>, StoreError> {
        let mut by_id: BTreeMap<String, Incident> = BTreeMap::new();
        {
            let guard = self.conn.lock().unwrap();
            if let Some(conn) = guard.as_ref() {
                let mut stmt = match service {
                    Some(_) => conn.prepare_cached(
                        "SELECT id, body FROM incidents WHERE service = ?1 ORDER BY id DESC",
                    )?,
                    None => {
                        conn.prepare_cached("SELECT id, body FROM incidents ORDER BY id DESC")?
                    }
                };
                let rows = match service {
                    Some(s) => stmt.query(params![s])?,
                    None => stmt.query([])?,
                };
                let rows = rows.mapped(|r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)));
                for row in rows {
                    let (id, body) = row?;
                    let inc = from_json(&id, &body)?;
                    by_id.insert(id, inc);
                }
            }
        }
        for (id, inc) in &self.held.lock().unwrap().incidents {
            if service.is_none_or(|s| s == inc.service) {
                by_id.insert(id.clone(), inc.clone());
            }
        }
        Ok(by_id.into_values().rev().collect())
    }

    /// Reads, changes and rewrites one incident.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Incident),
    ) -> Result<Option<Incident>, StoreError> {
        let _one_at_a_time = self.rmw.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut inc) = self.get(id)? else {
            return Ok(None);
        };
        f(&mut inc);
        self.put(&inc)?;
        Ok(Some(inc))
    }

    /// Reads, changes and rewrites one incident and queues it for a post-mortem, in one
    /// transaction: a kill between the two can leave neither half behind.
    pub fn update_and_enqueue(
        &self,
        id: &str,
        f: impl FnOnce(&mut Incident),
    ) -> Result<Option<Incident>, StoreError> {
        let _one_at_a_time = self.rmw.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut inc) = self.get(id)? else {
            return Ok(None);
        };
        f(&mut inc);
        self.put_and_enqueue(&inc)?;
        Ok(Some(inc))
    }

    /// Incident ids still waiting for a post-mortem, oldest first.
    pub fn pending_postmortems(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: BTreeSet<String> = BTreeSet::new();
        {
            let guard = self.conn.lock().unwrap();
            if let Some(conn) = guard.as_ref() {
                let mut stmt =
                    conn.prepare_cached("SELECT id FROM postmortem_queue ORDER BY id")?;
                for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
                    ids.insert(id?);
                }
            }
        }
        let held = self.held.lock().unwrap();
        ids.extend(held.enqueued.iter().cloned());
        for id in &held.dequeued {
            ids.remove(id);
        }
        Ok(ids.into_iter().collect())
    }

    /// Removes an incident from the post-mortem queue.
    pub fn postmortem_done(&self, id: &str) -> Result<Durability, StoreError> {
        self.write(
            |tx| {
                tx.execute("DELETE FROM postmortem_queue WHERE id = ?1", [id])?;
                Ok(())
            },
            |h| {
                h.enqueued.remove(id);
                h.dequeued.insert(id.to_string());
            },
        )
    }

    /// The incidents held in memory while the disk refuses writes (newest version of each).
    pub fn held_incidents(&self) -> Vec<Incident> {
        self.held
            .lock()
            .unwrap()
            .incidents
            .values()
            .cloned()
            .collect()
    }

    /// Why writes are being held (`None` when everything is on disk), and how many incidents are.
    pub fn degraded(&self) -> Option<(String, usize)> {
        let held = self.held.lock().unwrap();
        held.reason
            .clone()
            .map(|r| (r, held.incidents.len()))
            .or_else(|| (!held.is_empty()).then(|| ("writes held".into(), held.incidents.len())))
    }

    /// Tries to write what is held, in one transaction. `Ok(n)` = n incidents written now.
    pub fn flush_held(&self) -> Result<usize, StoreError> {
        let snapshot = {
            let held = self.held.lock().unwrap();
            if held.is_empty() && held.reason.is_none() {
                return Ok(0);
            }
            (
                held.incidents.values().cloned().collect::<Vec<_>>(),
                held.enqueued.clone(),
                held.dequeued.clone(),
            )
        };
        let mut guard = self.conn.lock().unwrap();
        if guard.is_none() {
            match connect(&self.path) {
                Ok(c) => *guard = Some(c),
                Err(e) => {
                    self.held.lock().unwrap().reason = Some(crate::errors::chain(&e));
                    return Err(StoreError::Open {
                        path: self.path.clone(),
                        source: e,
                    });
                }
            }
        }
        let conn = guard.as_mut().expect("connected above");
        let res = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for inc in &snapshot.0 {
                upsert(&tx, inc)?;
            }
            for id in &snapshot.1 {
                tx.execute(
                    "INSERT OR IGNORE INTO postmortem_queue (id) VALUES (?1)",
                    [id],
                )?;
            }
            for id in &snapshot.2 {
                tx.execute("DELETE FROM postmortem_queue WHERE id = ?1", [id])?;
            }
            tx.commit()
        })();
        let mut held = self.held.lock().unwrap();
        match res {
            Ok(()) => {
                // Only what was written leaves the hold: a newer version held meanwhile stays.
                for inc in &snapshot.0 {
                    if held.incidents.get(&inc.id) == Some(inc) {
                        held.incidents.remove(&inc.id);
                    }
                }
                for id in &snapshot.1 {
                    held.enqueued.remove(id);
                }
                for id in &snapshot.2 {
                    held.dequeued.remove(id);
                }
                if held.is_empty() {
                    held.reason = None;
                }
                Ok(snapshot.0.len())
            }
            Err(e) => {
                held.reason = Some(crate::errors::chain(&e));
                Err(e.into())
            }
        }
    }

    /// Runs one write transaction; when the disk refuses it, `hold` keeps it in memory instead.
    fn write(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
        hold: impl FnOnce(&mut Held),
    ) -> Result<Durability, StoreError> {
        // While anything is held, new writes join the hold so they cannot overtake it
        // (a queue entry written before its incident, an older version over a newer one).
        if self.degraded().is_some() && self.flush_held().is_err() {
            hold(&mut self.held.lock().unwrap());
            return Ok(Durability::Held);
        }
        let mut guard = self.conn.lock().unwrap();
        let res = match guard.as_mut() {
            Some(conn) => (|| {
                let tx = conn.transaction()?;
                f(&tx)?;
                tx.commit()
            })(),
            None => Err(rusqlite::Error::InvalidPath(self.path.clone())),
        };
        drop(guard);
        match res {
            Ok(()) => Ok(Durability::Durable),
            Err(e) => {
                let mut held = self.held.lock().unwrap();
                held.reason = Some(crate::errors::chain(&e));
                hold(&mut held);
                Ok(Durability::Held)
            }
        }
    }

    /// Imports `incidents.sled` of an earlier version once, then renames it `.imported`.
    fn import_legacy(&self, state_dir: &Path) -> Result<(), StoreError> {
        let legacy = Self::legacy_path_in(state_dir);
        if !legacy.is_dir() {
            return Ok(());
        }
        let failed = |detail: String| StoreError::Migrate {
            path: legacy.clone(),
            detail,
        };
        let db = sled::Config::new()
            .path(&legacy)
            .open()
            .map_err(|e| failed(e.to_string()))?;
        let incidents = db
            .open_tree("incidents")
            .map_err(|e| failed(e.to_string()))?;
        let queue = db
            .open_tree("postmortem_queue")
            .map_err(|e| failed(e.to_string()))?;
        let mut guard = self.conn.lock().unwrap();
        let conn = guard.as_mut().expect("open connects");
        let tx = conn.transaction()?;
        let mut n = 0usize;
        for kv in incidents.iter() {
            let (k, v) = kv.map_err(|e| failed(e.to_string()))?;
            let id = String::from_utf8_lossy(&k).into_owned();
            let inc: Incident =
                serde_json::from_slice(&v).map_err(|source| StoreError::Corrupt { id, source })?;
            upsert(&tx, &inc)?;
            n += 1;
        }
        for k in queue.iter().keys() {
            let k = k.map_err(|e| failed(e.to_string()))?;
            tx.execute(
                "INSERT OR IGNORE INTO postmortem_queue (id) VALUES (?1)",
                [String::from_utf8_lossy(&k).as_ref()],
            )?;
        }
        tx.commit()?;
        drop(db);
        let done = state_dir.join("incidents.sled.imported");
        std::fs::rename(&legacy, &done).map_err(|e| failed(e.to_string()))?;
        tracing::info!(incidents = n, from = %legacy.display(), "imported the incident store of an earlier version");
        Ok(())
    }
}

/// Opens (creating) the database with the durability settings, and its schema.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
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
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS incidents (
             id TEXT PRIMARY KEY NOT NULL,
             service TEXT NOT NULL,
             body TEXT NOT NULL
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS incidents_by_service ON incidents (service, id);
         CREATE TABLE IF NOT EXISTS postmortem_queue (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

fn upsert(tx: &rusqlite::Transaction, inc: &Incident) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO incidents (id, service, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET service = excluded.service, body = excluded.body",
    )?
    .execute(params![inc.id, inc.service, to_json(&inc.redacted())])?;
    Ok(())
}

fn hold(h: &mut Held, inc: Incident) {
    h.incidents.insert(inc.id.clone(), inc.redacted());
    while h.incidents.len() > HOLD_MAX {
        let oldest = h.incidents.keys().next().cloned().expect("non-empty");
        h.incidents.remove(&oldest);
        h.dropped += 1;
        tracing::error!(incident = %oldest, "disk still refuses writes: dropped the oldest held incident");
    }
}

fn to_json(inc: &Incident) -> String {
    serde_json::to_string(inc).expect("an incident always serializes")
}

fn from_json(id: &str, body: &str) -> Result<Incident, StoreError> {
    serde_json::from_str::<Incident>(body)
        .map(|inc| inc.redacted())
        .map_err(|source| StoreError::Corrupt {
            id: id.to_string(),
            source,
        })
}

/// A new incident id: sortable by detection time, unique.
pub fn new_id(detected_at: chrono::DateTime<chrono::Utc>) -> String {
    let rand = ulid::Ulid::new().random() as u16;
    format!(
        "inc-{}-{:04x}",
        detected_at.format("%Y%m%dT%H%M%S%3f"),
        rand
    )
}

#[cfg(test)]
mod tests;
