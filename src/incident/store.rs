//! The durable incident store (sled under `state_dir`), with the queue of incidents awaiting a post-mortem.

use super::model::Incident;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the incident store at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("the incident store at {} is in use by a running akashic (pid {pid}); ask it through `akashic status`, or stop it first", path.display())]
    Locked { path: PathBuf, pid: String },
    #[error("incident store I/O failed")]
    Io(#[from] sled::Error),
    #[error("stored incident {id} is not valid JSON")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Incidents by id (ids sort by detection time), and the post-mortem queue.
pub struct IncidentStore {
    db: sled::Db,
    incidents: sled::Tree,
    queue: sled::Tree,
}

impl IncidentStore {
    /// Where the store lives under a state dir.
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("incidents.sled")
    }

    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path_in(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            source: e.into(),
        })?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(2 * 1024 * 1024)
            .flush_every_ms(None)
            .open()
            .map_err(|source| match &source {
                sled::Error::Io(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::EWOULDBLOCK) =>
                {
                    StoreError::Locked {
                        path: path.clone(),
                        pid: crate::daemon::heartbeat::read_pid(state_dir)
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "unknown".into()),
                    }
                }
                _ => StoreError::Open {
                    path: path.clone(),
                    source,
                },
            })?;
        let incidents = db.open_tree("incidents")?;
        let queue = db.open_tree("postmortem_queue")?;
        Ok(IncidentStore {
            db,
            incidents,
            queue,
        })
    }

    /// Writes an incident and makes it durable before returning.
    pub fn put(&self, inc: &Incident) -> Result<(), StoreError> {
        self.incidents.insert(inc.id.as_bytes(), to_json(inc))?;
        self.db.flush()?;
        Ok(())
    }

    /// Writes an incident and queues it for a post-mortem, atomically and durably.
    pub fn put_and_enqueue(&self, inc: &Incident) -> Result<(), StoreError> {
        let bytes = to_json(inc);
        let res: Result<(), TransactionError<()>> =
            (&self.incidents, &self.queue).transaction(|(i, q)| {
                i.insert(inc.id.as_bytes(), bytes.clone())?;
                q.insert(inc.id.as_bytes(), &[])?;
                Ok::<(), ConflictableTransactionError<()>>(())
            });
        res.map_err(|e| match e {
            TransactionError::Storage(s) => StoreError::Io(s),
            TransactionError::Abort(()) => {
                StoreError::Io(sled::Error::Unsupported("aborted".into()))
            }
        })?;
        self.db.flush()?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        match self.incidents.get(id.as_bytes())? {
            Some(v) => Ok(Some(from_json(id, &v)?)),
            None => Ok(None),
        }
    }

    /// Incidents, newest first, optionally of one service.
    pub fn list(&self, service: Option<&str>) -> Result<Vec<Incident>, StoreError> {
        let mut out = Vec::new();
        for kv in self.incidents.iter().rev() {
            let (k, v) = kv?;
            let inc = from_json(&String::from_utf8_lossy(&k), &v)?;
            if service.is_none_or(|s| s == inc.service) {
                out.push(inc);
            }
        }
        Ok(out)
    }

    /// Reads, changes and durably rewrites one incident.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Incident),
    ) -> Result<Option<Incident>, StoreError> {
        let Some(mut inc) = self.get(id)? else {
            return Ok(None);
        };
        f(&mut inc);
        self.put(&inc)?;
        Ok(Some(inc))
    }

    /// Queues an incident for a post-mortem (idempotent).
    pub fn enqueue_postmortem(&self, id: &str) -> Result<(), StoreError> {
        self.queue.insert(id.as_bytes(), &[])?;
        self.db.flush()?;
        Ok(())
    }

    /// Incident ids still waiting for a post-mortem, oldest first.
    pub fn pending_postmortems(&self) -> Result<Vec<String>, StoreError> {
        self.queue
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// Removes an incident from the post-mortem queue.
    pub fn postmortem_done(&self, id: &str) -> Result<(), StoreError> {
        self.queue.remove(id.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}

fn to_json(inc: &Incident) -> Vec<u8> {
    serde_json::to_vec(inc).expect("an incident always serializes")
}

fn from_json(id: &str, bytes: &[u8]) -> Result<Incident, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
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
