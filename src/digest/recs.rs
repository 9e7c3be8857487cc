//! The recommendation lifecycle: stable ids, and the closed ones kept in a small JSON file under `state_dir`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RecError {
    #[error("cannot read closed recommendations from {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("closed recommendations in {} are not valid JSON", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write closed recommendations to {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A stable, short id: `r-` and 8 hex digits of an FNV-1a hash of service, pattern and text.
pub fn rec_id(service: &str, pattern: &str, text: &str) -> String {
    use std::hash::Hasher;
    let mut f = crate::fnv::Fnv::default();
    for part in [
        service.as_bytes(),
        &[0],
        pattern.as_bytes(),
        &[0],
        text.trim().as_bytes(),
    ] {
        f.write(part);
    }
    let h = f.finish();
    format!("r-{:08x}", (h >> 32) as u32 ^ (h as u32))
}

/// A recommendation someone marked done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedRec {
    pub id: String,
    pub service: String,
    pub pattern: String,
    pub text: String,
    pub closed_at: DateTime<Utc>,
}

/// The closed recommendations, as stored in `<state_dir>/recommendations.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecBook {
    pub closed: Vec<ClosedRec>,
}

impl RecBook {
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("recommendations.json")
    }

    /// The stored book; none stored yet is an empty one.
    pub fn load(state_dir: &Path) -> Result<RecBook, RecError> {
        let path = Self::path_in(state_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RecBook::default()),
            Err(source) => return Err(RecError::Read { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| RecError::Parse { path, source })
    }

    /// Writes the book whole or not at all.
    pub fn save(&self, state_dir: &Path) -> Result<(), RecError> {
        let path = Self::path_in(state_dir);
        let text = serde_json::to_string_pretty(self).expect("recommendations serialize");
        crate::atomic::write(&path, &text).map_err(|source| RecError::Write { path, source })
    }

    pub fn get(&self, id: &str) -> Option<&ClosedRec> {
        self.closed.iter().find(|c| c.id == id)
    }

    /// Closes a recommendation; closing it again keeps the first close. Returns whether it was new.
    pub fn close(&mut self, rec: ClosedRec) -> bool {
        if self.get(&rec.id).is_some() {
            return false;
        }
        self.closed.push(rec);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rec_ids_are_stable_short_and_distinct() {
        let a = rec_id("bot", "deadlock", "Add a watchdog timer");
        assert_eq!(a, rec_id("bot", "deadlock", "  Add a watchdog timer "));
        assert_eq!(a.len(), 10);
        assert!(a.starts_with("r-"));
        // Ids are kept in recommendations.json: this one must never change.
        assert_eq!(a, "r-80aac17c");
        assert_ne!(a, rec_id("bot2", "deadlock", "Add a watchdog timer"));
        assert_ne!(a, rec_id("bot", "crash", "Add a watchdog timer"));
    }

    #[test]
    fn the_book_round_trips_and_a_missing_file_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(RecBook::load(tmp.path()).unwrap(), RecBook::default());
        let mut book = RecBook::default();
        let rec = ClosedRec {
            id: "r-1".into(),
            service: "bot".into(),
            pattern: "deadlock".into(),
            text: "t".into(),
            closed_at: Utc::now(),
        };
        assert!(book.close(rec.clone()));
        assert!(!book.close(rec));
        book.save(tmp.path()).unwrap();
        assert_eq!(RecBook::load(tmp.path()).unwrap(), book);
    }

    #[test]
    fn a_corrupt_book_names_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(RecBook::path_in(tmp.path()), "{").unwrap();
        let msg = RecBook::load(tmp.path()).unwrap_err().to_string();
        assert!(msg.contains("recommendations.json"), "{msg}");
    }
}
