//! The index file beside the embedded store (`memory.idx`): the vector index, the lexical index
//! and the service cues of one committed state of the store, so that a new process (a cold
//! `ask`) reads them in place of rebuilding them from every row, and leaves the f32 rows in the
//! file until a search scores them.
//!
//! SQLite stays the only truth. Triggers in the store replace a random state token in its
//! `meta` table on every row written or deleted; the file carries the token (and the model) it
//! was built at, and a file of another state is never read: the indexes are rebuilt from
//! SQLite and the file written anew (a private temp file, synced, then renamed over the old
//! one, so a file a reader holds open is never changed under it, and a crash leaves the old
//! file or none).

use super::flat::{Reader, Writer};
use super::index::VectorIndex;
use super::lexical::LexicalIndex;
use super::services::Services;
use crate::secure::{self, Open};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"AKASHIX1";
const END: &[u8; 8] = b"AKIXEND.";
/// The build that wrote a file: postings depend on the tokenizer and the cues on their rules,
/// so a file written by another version is rebuilt rather than read.
const BUILDER: &str = concat!("akashic ", env!("CARGO_PKG_VERSION"));

/// Which state of the store a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The store's state token when the indexes were built.
    pub state: Vec<u8>,
    /// The vectors' model id and dimension ("" and 0 before any vector).
    pub model: String,
    pub dim: usize,
}

/// What the file holds.
#[derive(Debug)]
pub struct Indexes {
    pub vectors: VectorIndex,
    pub lexical: LexicalIndex,
    pub services: Services,
}

/// Why a file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    Missing,
    /// Built at another state of the store, or by another version.
    Stale,
    /// Not a whole index file of this version.
    Unreadable(String),
}

/// Where the file of the store under `state_dir` lives.
pub fn path_in(state_dir: &Path) -> PathBuf {
    state_dir.join("memory.idx")
}

/// Reads the file at `path` if it holds exactly the state `want`. The vector rows stay in the
/// file, read as a search scores them.
pub fn read(path: &Path, want: &Stamp) -> Result<Indexes, Miss> {
    let file = match secure::open(path, Open::Read) {
        Ok(f) => Arc::new(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Missing),
        Err(e) => return Err(Miss::Unreadable(e.to_string())),
    };
    let len = file
        .metadata()
        .map_err(|e| Miss::Unreadable(e.to_string()))?
        .len();
    let bad = |what: &str| Miss::Unreadable(format!("bad {what}"));
    let mut r = Reader::new(BufReader::with_capacity(1 << 16, &*file), len);
    if r.array::<8>().as_ref() != Some(MAGIC) {
        return Err(bad("header"));
    }
    let (builder, stamp) = (|| {
        let builder = r.str()?;
        let state = r.len().and_then(|n| r.bytes(n))?;
        let stamp = Stamp {
            state,
            model: r.str()?,
            dim: r.len()?,
        };
        Some((builder, stamp))
    })()
    .ok_or_else(|| bad("header"))?;
    if builder != BUILDER || stamp != *want {
        return Err(Miss::Stale);
    }
    let vectors = VectorIndex::decode(&mut r, &file).ok_or_else(|| bad("vector index"))?;
    let lexical = LexicalIndex::decode(&mut r, &file).ok_or_else(|| bad("lexical index"))?;
    let services = Services::decode(&mut r).ok_or_else(|| bad("service cues"))?;
    if r.array::<8>().as_ref() != Some(END) || !r.at_end() || vectors.dim() != want.dim {
        return Err(bad("end"));
    }
    Ok(Indexes {
        vectors,
        lexical,
        services,
    })
}

/// Writes `ix`, built at state `stamp`, to `path`: whole or not at all.
pub fn write(path: &Path, stamp: &Stamp, ix: &Indexes) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("memory.idx".into(), |n| n.to_string_lossy());
    remove_abandoned(dir, &name);
    // A name of its own per write: two threads of one process may rebuild at once.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let (tmp, file) = loop {
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match secure::open(&tmp, Open::CreateNew) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            other => break (tmp, other?),
        }
    };
    let written = (|| {
        let mut w = Writer::new(BufWriter::with_capacity(1 << 20, file));
        w.bytes(MAGIC)?;
        w.str(BUILDER)?;
        w.len(stamp.state.len())?;
        w.bytes(&stamp.state)?;
        w.str(&stamp.model)?;
        w.len(stamp.dim)?;
        ix.vectors.encode(&mut w)?;
        ix.lexical.encode(&mut w)?;
        ix.services.encode(&mut w)?;
        w.bytes(END)?;
        let file = w.into_inner().into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes temp files of writers that died mid-write (their pid is gone).
fn remove_abandoned(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|f| f.strip_suffix(".tmp"))
            .and_then(|f| f.split('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH);
        if gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::category::Category;
    use crate::memory::doc::{Filter, MemoryDoc};
    use crate::memory::index::RowMeta;

    fn doc(i: usize) -> MemoryDoc {
        MemoryDoc {
            id: format!("pm-{i}"),
            service: ["polymarket-bot", "orders-api"][i % 2].into(),
            date: chrono::DateTime::from_timestamp(1_700_000_000 + i as i64 * 3600, 7).unwrap(),
            category: Category::ALL[i % Category::ALL.len()],
            summary: format!("the gamma feed stalled on item {i}"),
            root_cause: "a lock held across an await".into(),
            recommendation: "release the lock before awaiting".into(),
            incident_id: None,
            confirmed_by: None,
            evidence: vec![format!("line {i}")],
        }
    }

    fn unit(dim: usize, i: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|d| ((i * 31 + d * 7) % 13) as f32 - 6.0)
            .collect();
        crate::memory::normalize(&mut v);
        v
    }

    fn built(n: usize, dim: usize) -> Indexes {
        let docs: Vec<MemoryDoc> = (0..n).map(doc).collect();
        let mut vectors = VectorIndex::new(dim);
        for (i, d) in docs.iter().enumerate() {
            let meta = RowMeta {
                service: d.service.clone(),
                category: d.category,
                date: d.date.timestamp(),
            };
            vectors.upsert(&d.id, &meta, &unit(dim, i)).unwrap();
        }
        let mut lexical = LexicalIndex::from_docs(&docs);
        // A removed doc is left out of the file.
        lexical.remove("pm-3");
        vectors.remove("pm-3").unwrap();
        let services = Services::new(&lexical.services(), &lexical.word_services().unwrap());
        Indexes {
            vectors,
            lexical,
            services,
        }
    }

    fn stamp(state: u8) -> Stamp {
        Stamp {
            state: vec![state; 16],
            model: "m".into(),
            dim: 70,
        }
    }

    #[test]
    fn a_written_file_reads_back_the_same_answers_and_leaves_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let path = path_in(tmp.path());
        let ix = built(40, 70);
        write(&path, &stamp(9), &ix).unwrap();
        let back = read(&path, &stamp(9)).unwrap();
        assert_eq!(back.vectors.len(), 39);
        let q = unit(70, 5);
        let f = Filter::default();
        assert_eq!(
            back.vectors.search(&q, 5, &f).unwrap(),
            ix.vectors.search(&q, 5, &f).unwrap()
        );
        assert_eq!(
            back.vectors.search_binary(&q, 5, &f, 10).unwrap(),
            ix.vectors.search_binary(&q, 5, &f, 10).unwrap()
        );
        let service = Filter {
            service: Some("orders-api".into()),
            ..Default::default()
        };
        assert_eq!(
            back.vectors.search(&q, 5, &service).unwrap(),
            ix.vectors.search(&q, 5, &service).unwrap()
        );
        for words in ["gamma feed item 12", "lock await", "pm"] {
            assert_eq!(
                back.lexical.search(words, 10, &f).unwrap(),
                ix.lexical.search(words, 10, &f).unwrap()
            );
        }
        assert_eq!(back.lexical.len(), 39);
        // A change reads the rows into memory first, then follows as an index built in memory.
        let mut back = back;
        let meta = RowMeta {
            service: "orders-api".into(),
            category: Category::Crash,
            date: 0,
        };
        back.vectors.upsert("new", &meta, &unit(70, 99)).unwrap();
        back.vectors.remove("pm-0").unwrap();
        let mut want = built(40, 70).vectors;
        want.upsert("new", &meta, &unit(70, 99)).unwrap();
        want.remove("pm-0").unwrap();
        let q = unit(70, 99);
        assert_eq!(
            back.vectors.search(&q, 5, &f).unwrap(),
            want.search(&q, 5, &f).unwrap()
        );
        assert_eq!(back.vectors.search(&q, 5, &f).unwrap()[0].0, "new");
        // So do the postings.
        back.lexical.upsert(&doc(100)).unwrap();
        back.lexical.remove("pm-1");
        let mut want = built(40, 70).lexical;
        want.upsert(&doc(100)).unwrap();
        want.remove("pm-1");
        for words in ["gamma item 100", "item 1", "lock"] {
            assert_eq!(
                back.lexical.search(words, 10, &f).unwrap(),
                want.search(words, 10, &f).unwrap()
            );
        }
        assert_eq!(
            back.lexical.word_services().unwrap(),
            want.word_services().unwrap()
        );
        assert_eq!(back.services.names(), ix.services.names());
        assert_eq!(
            back.services.find("the polymarket bot").map(|n| n.service),
            Some("polymarket-bot".into())
        );
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["memory.idx"]);
    }

    #[test]
    fn rows_read_from_the_file_score_as_rows_in_memory_ties_included() {
        let tmp = tempfile::tempdir().unwrap();
        let path = path_in(tmp.path());
        let ix = built(600, 70);
        write(&path, &stamp(1), &ix).unwrap();
        let back = read(&path, &stamp(1)).unwrap();
        let f = Filter::default();
        for i in [0, 17, 301] {
            let q = unit(70, i);
            // A pool of some rows and a pool of every row (599), on vectors with many ties.
            for pool in [100, 599] {
                assert_eq!(
                    back.vectors.search_binary(&q, 20, &f, pool).unwrap(),
                    ix.vectors.search_binary(&q, 20, &f, pool).unwrap()
                );
            }
            assert_eq!(
                back.vectors.search_binary(&q, 20, &f, 599).unwrap(),
                ix.vectors.search_exact(&q, 20, &f).unwrap()
            );
        }
    }

    #[test]
    fn a_file_of_another_state_or_a_damaged_file_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = path_in(tmp.path());
        assert_eq!(read(&path, &stamp(1)).unwrap_err(), Miss::Missing);
        write(&path, &stamp(1), &built(10, 70)).unwrap();
        assert_eq!(read(&path, &stamp(2)).unwrap_err(), Miss::Stale);
        let other = Stamp {
            model: "other".into(),
            ..stamp(1)
        };
        assert_eq!(read(&path, &other).unwrap_err(), Miss::Stale);
        let whole = std::fs::read(&path).unwrap();
        // Cut anywhere past the header, or one byte changed in the end mark: never read.
        for cut in [whole.len() - 1, whole.len() / 2, 60] {
            std::fs::write(&path, &whole[..cut]).unwrap();
            assert!(
                matches!(read(&path, &stamp(1)), Err(Miss::Unreadable(_))),
                "cut at {cut}"
            );
        }
        let mut bad = whole.clone();
        *bad.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(read(&path, &stamp(1)), Err(Miss::Unreadable(_))));
    }

    #[test]
    fn threads_writing_at_once_each_write_a_whole_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = path_in(tmp.path());
        let ix = built(30, 70);
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let (path, ix) = (&path, &ix);
                s.spawn(move || {
                    for _ in 0..10 {
                        write(path, &stamp(t), ix).unwrap();
                    }
                });
            }
        });
        let back = (0..4u8).filter(|t| read(&path, &stamp(*t)).is_ok()).count();
        assert_eq!(back, 1, "the last rename left one whole file");
        let names = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(names, 1, "no temp file is left");
    }

    #[test]
    fn a_dead_writers_temp_file_is_removed_and_a_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = path_in(tmp.path());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let abandoned = tmp.path().join(format!(".memory.idx.{dead}.tmp"));
        // The parent of this test is alive: its temp file stays.
        let live = tmp.path().join(format!(
            ".memory.idx.{}.tmp",
            std::os::unix::process::parent_id()
        ));
        std::fs::write(&abandoned, "half").unwrap();
        std::fs::write(&live, "half").unwrap();
        write(&path, &stamp(1), &built(4, 70)).unwrap();
        assert!(!abandoned.exists());
        assert!(live.exists());
        assert!(read(&path, &stamp(1)).is_ok());
    }
}
