//! File checks (`log_stale`, and `artifact` globs) that remember what they read and read
//! again only what the operating system says changed.
//!
//! Every answer still comes from `stat`: a [`ChangeFeed`] (inotify on Linux) only marks a
//! check's cached modification times as out of date. The cache can lag the file system
//! (a missed event) but never run ahead of it, since mtimes only move forward when a
//! service writes, and every backward change (removal, rename, `touch -d`) is an event.
//! So an answer from the cache is trusted only when it is healthy; an unhealthy one is
//! read again from the file system before it is reported. On top of that, each check reads
//! everything afresh at least once a [`REVALIDATE`] period, and wherever events cannot be
//! trusted (no feed, a directory that cannot be watched, symlinked files, a lost queue) a
//! check reads everything every time, as a plain poll would.
//!
//! An event never stands in for a stat: setting a file's mtime alone (`touch -m -d`, how one
//! fakes a stale log) arrives as the same `IN_MODIFY` a write does, so an event cannot say the
//! file is fresh, only that it must be read.

mod at;
pub mod feed;
#[cfg(target_os = "linux")]
mod inotify;

pub use at::raise_open_files_limit;
pub use feed::{Change, ChangeFeed, NoFeed, WatchId};

use super::artifact::{judge_newest, list_dir, newest_detail, newest_file, newest_of, split_glob};
use super::log_stale;
use super::ProbeResult;
use crate::config::{ArtifactSpec, CheckKind};
use crate::core::machine::{Progress, Verdict};
use at::{entry_by_path, DirHandle, Entry};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The longest a check answers from its cache without reading everything again.
pub const REVALIDATE: Duration = Duration::from_secs(60);

/// Names a glob check collects between two runs before it just lists the directory again.
const MAX_PENDING_NAMES: usize = 64;

/// What the feed said about one check since the check last ran.
#[derive(Debug, Default)]
struct Inbox {
    /// The check's directory is being watched, so silence means "unchanged".
    watched: bool,
    /// Read everything: changes were lost, or too many came to list them.
    all: bool,
    /// Log checks: the log changed.
    changed: bool,
    /// Glob checks: the matching entries that changed.
    names: Vec<OsString>,
}

type SharedInbox = Arc<Mutex<Inbox>>;

fn lock(inbox: &SharedInbox) -> std::sync::MutexGuard<'_, Inbox> {
    inbox.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which entries of a directory a check cares about.
enum Filter {
    Name(OsString),
    Pattern(glob::Pattern),
}

struct Subscriber {
    filter: Filter,
    inbox: SharedInbox,
}

struct Dir {
    path: PathBuf,
    watch: Option<WatchId>,
    subscribers: Vec<Subscriber>,
}

struct Table {
    feed: Box<dyn ChangeFeed>,
    dirs: Vec<Dir>,
    by_path: HashMap<PathBuf, usize>,
    /// Watch to directories (two paths to one directory share a watch).
    by_watch: HashMap<WatchId, Vec<usize>>,
}

/// Hands one change to the checks it concerns.
fn file(dirs: &mut [Dir], by_watch: &mut HashMap<WatchId, Vec<usize>>, change: Change<'_>) {
    match change {
        Change::Entry { watch, name } => {
            for &dir in by_watch.get(&watch).into_iter().flatten() {
                let d = &dirs[dir];
                for s in &d.subscribers {
                    let wanted = match &s.filter {
                        Filter::Name(n) => {
                            if n == name {
                                lock(&s.inbox).changed = true;
                            }
                            false
                        }
                        Filter::Pattern(p) => name.to_str().is_some_and(|n| p.matches(n)),
                    };
                    if wanted {
                        let mut inbox = lock(&s.inbox);
                        if inbox.all || inbox.names.iter().any(|x| x == name) {
                            continue;
                        }
                        if inbox.names.len() >= MAX_PENDING_NAMES {
                            inbox.all = true;
                            inbox.names.clear();
                        } else {
                            inbox.names.push(name.to_os_string());
                        }
                    }
                }
            }
        }
        Change::Gone { watch } => {
            for dir in by_watch.remove(&watch).unwrap_or_default() {
                let d = &mut dirs[dir];
                d.watch = None;
                for s in &d.subscribers {
                    let mut inbox = lock(&s.inbox);
                    inbox.watched = false;
                    inbox.all = true;
                }
            }
        }
        Change::Overflow => {
            for s in dirs.iter().flat_map(|d| &d.subscribers) {
                lock(&s.inbox).all = true;
            }
        }
    }
}

impl Table {
    /// Starts watching `dir` if it is not watched yet; true when it is watched afterwards.
    fn watch(&mut self, dir: usize) -> bool {
        let d = &mut self.dirs[dir];
        if d.watch.is_some() {
            return true;
        }
        let Ok(w) = self.feed.watch(&d.path) else {
            return false;
        };
        d.watch = Some(w);
        for s in &d.subscribers {
            let mut inbox = lock(&s.inbox);
            inbox.watched = true;
            // Changes before the watch began were not seen: read everything once.
            inbox.all = true;
        }
        self.by_watch.entry(w).or_default().push(dir);
        true
    }
}

/// The watches of every file check, shared by the batches that run them.
pub struct FileWatch {
    table: Mutex<Table>,
}

impl FileWatch {
    pub fn new(feed: Box<dyn ChangeFeed>) -> Self {
        FileWatch {
            table: Mutex::new(Table {
                feed,
                dirs: Vec::new(),
                by_path: HashMap::new(),
                by_watch: HashMap::new(),
            }),
        }
    }

    /// The platform's feed (inotify on Linux; none elsewhere).
    pub fn platform() -> Self {
        Self::new(feed::platform())
    }

    /// Files everything the feed reported with the checks it concerns. False when another
    /// batch holds the table: this batch then reads everything from the file system.
    pub fn drain(&self) -> bool {
        let Ok(mut t) = self.table.try_lock() else {
            return false;
        };
        let Table {
            feed,
            dirs,
            by_watch,
            ..
        } = &mut *t;
        feed.drain(&mut |c| file(dirs, by_watch, c));
        true
    }

    /// Registers a check's interest in `dir`'s entries; returns the directory's number.
    fn subscribe(&self, dir: &Path, filter: Filter) -> (usize, SharedInbox) {
        let inbox = SharedInbox::default();
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let next = t.dirs.len();
        let i = *t.by_path.entry(dir.to_path_buf()).or_insert(next);
        if i == next {
            t.dirs.push(Dir {
                path: dir.to_path_buf(),
                watch: None,
                subscribers: Vec::new(),
            });
        }
        t.dirs[i].subscribers.push(Subscriber {
            filter,
            inbox: inbox.clone(),
        });
        t.watch(i);
        (i, inbox)
    }

    /// Tries again to watch a directory that is not watched (it may exist by now).
    fn rewatch(&self, dir: usize) -> bool {
        match self.table.try_lock() {
            Ok(mut t) => t.watch(dir),
            Err(_) => false,
        }
    }
}

enum Target {
    Log {
        path: PathBuf,
        max_age: Duration,
        /// The last modification time read; `None` until a stat succeeds.
        mtime: Option<SystemTime>,
    },
    Glob {
        pattern: String,
        dir: PathBuf,
        pat: glob::Pattern,
        max_age: Duration,
        /// The matching regular files and their modification times; `None` until listed.
        files: Option<HashMap<OsString, SystemTime>>,
    },
    /// A glob with wildcards in its directories: read through the glob crate every time.
    Walk { pattern: String, max_age: Duration },
}

/// One file check and what it last read. Like a counter's history, it travels with the
/// check, so a check runs once at a time and a slow file system stalls only its own checks.
pub struct FileCheck {
    target: Target,
    /// The watched directory's number and this check's inbox; `None`: not watchable (no
    /// parent directory, or a walk), read every time.
    inbox: Option<(usize, SharedInbox)>,
    /// Events cannot speak for this target (it is or holds a symlink): read every time.
    symlinked: bool,
    /// The directory, opened at the last full read, to stat changed entries relative to it.
    handle: Option<DirHandle>,
    last_full: Option<Instant>,
    /// This check's revalidate period: between half and all of [`REVALIDATE`], fixed per
    /// target, so a fleet's full reads spread out instead of coming all at once.
    revalidate: Duration,
}

/// How much a run reads from the file system.
enum Read {
    Cache,
    /// The target changed: a log is read again; a glob reads these entries.
    Changed(Vec<OsString>),
    All,
}

impl FileCheck {
    /// The check for `kind`, subscribed to `watch`; `None` for kinds that are not file checks.
    pub fn new(kind: &CheckKind, watch: &FileWatch) -> Option<FileCheck> {
        let (target, inbox) = match kind {
            CheckKind::LogStale { path, max_age } => {
                let inbox = match (path.parent(), path.file_name()) {
                    (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => {
                        Some(watch.subscribe(dir, Filter::Name(name.to_os_string())))
                    }
                    _ => None,
                };
                let target = Target::Log {
                    path: path.clone(),
                    max_age: *max_age,
                    mtime: None,
                };
                (target, inbox)
            }
            CheckKind::Artifact(ArtifactSpec::Glob { pattern, max_age }) => {
                match split_glob(pattern) {
                    Some((dir, pat)) => {
                        let inbox = watch.subscribe(&dir, Filter::Pattern(pat.clone()));
                        let target = Target::Glob {
                            pattern: pattern.clone(),
                            dir,
                            pat,
                            max_age: *max_age,
                            files: None,
                        };
                        (target, Some(inbox))
                    }
                    None => (
                        Target::Walk {
                            pattern: pattern.clone(),
                            max_age: *max_age,
                        },
                        None,
                    ),
                }
            }
            _ => return None,
        };
        Some(FileCheck {
            target,
            inbox,
            symlinked: false,
            handle: None,
            last_full: None,
            revalidate: spread(&target_key(kind)),
        })
    }

    /// Runs the check, its answer written out. `trusted`: this batch drained the feed (see
    /// [`FileWatch::drain`]). The daemon uses [`FileCheck::answer`]; the tests compare this
    /// with fresh reads.
    #[cfg(test)]
    pub fn run(
        &mut self,
        watch: &FileWatch,
        trusted: bool,
        wall: SystemTime,
        mono: Instant,
    ) -> ProbeResult {
        self.answer(watch, trusted, wall, mono).into_result()
    }

    /// Runs the check; a healthy answer's detail is left unwritten until asked for.
    /// `trusted`: this batch drained the feed (see [`FileWatch::drain`]).
    pub fn answer(
        &mut self,
        watch: &FileWatch,
        trusted: bool,
        wall: SystemTime,
        mono: Instant,
    ) -> Answer {
        let read = self.plan(watch, trusted, mono);
        let cached = matches!(read, Read::Cache | Read::Changed(_));
        let a = self.read_and_judge(read, wall, mono);
        if cached && !a.is_ok() {
            // Only a healthy answer is taken from the cache.
            return self.read_and_judge(Read::All, wall, mono);
        }
        a
    }

    fn plan(&mut self, watch: &FileWatch, trusted: bool, mono: Instant) -> Read {
        let Some((dir, inbox)) = &self.inbox else {
            return Read::All;
        };
        let (watched, all, changed, names) = {
            let mut i = lock(inbox);
            let i = &mut *i;
            (
                i.watched,
                std::mem::take(&mut i.all),
                std::mem::take(&mut i.changed),
                std::mem::take(&mut i.names),
            )
        };
        // A directory that could not be watched may exist by now; once watched, the next
        // run reads everything once more (the watch asks for it), then trusts the feed.
        let watched = watched || watch.rewatch(*dir);
        let due = self
            .last_full
            .is_none_or(|t| mono.saturating_duration_since(t) >= self.revalidate);
        if !trusted || !watched || all || self.symlinked || due {
            return Read::All;
        }
        match &self.target {
            Target::Log { mtime: None, .. } | Target::Glob { files: None, .. } => Read::All,
            Target::Log { .. } if changed => Read::Changed(Vec::new()),
            Target::Glob { .. } if !names.is_empty() => Read::Changed(names),
            _ => Read::Cache,
        }
    }

    fn read_and_judge(&mut self, read: Read, wall: SystemTime, mono: Instant) -> Answer {
        if matches!(read, Read::All) {
            self.last_full = Some(mono);
            // The old handle goes first: handles are budgeted (see `at`).
            self.handle = None;
            self.handle = match &self.target {
                Target::Log { path, .. } => path.parent().and_then(DirHandle::open),
                Target::Glob { dir, .. } => DirHandle::open(dir),
                Target::Walk { .. } => None,
            };
        }
        let handle = self.handle.as_ref();
        match &mut self.target {
            Target::Log {
                path,
                max_age,
                mtime,
            } => {
                let seen = match read {
                    Read::Cache => Ok(*mtime),
                    Read::Changed(_) => {
                        match entry(handle, path.file_name().unwrap_or_default(), || {
                            path.clone()
                        }) {
                            Ok(Entry { symlink: true, .. }) => {
                                return self.read_and_judge(Read::All, wall, mono)
                            }
                            Ok(e) => Ok(e.mtime),
                            Err(e) => Err(e),
                        }
                    }
                    Read::All => {
                        let (seen, link) = stat_log(path);
                        self.symlinked = link;
                        seen
                    }
                };
                *mtime = seen.as_ref().ok().copied().flatten();
                match seen {
                    Ok(Some(m)) if age(wall, m) <= *max_age => Answer::Fresh {
                        mtime: m,
                        at: wall,
                        of: Fresh::Log,
                    },
                    seen => Answer::Done(log_stale::judge(path, seen, *max_age, wall)),
                }
            }
            Target::Glob {
                pattern,
                dir,
                pat,
                max_age,
                files,
            } => {
                match read {
                    Read::Cache => {}
                    Read::Changed(names) => {
                        let files = files.get_or_insert_default();
                        for name in names {
                            match entry(handle, &name, || dir.join(&name)) {
                                Ok(Entry { symlink: true, .. }) => self.symlinked = true,
                                Ok(Entry { mtime: Some(t), .. }) => {
                                    files.insert(name, t);
                                }
                                _ => {
                                    files.remove(&name);
                                }
                            }
                        }
                        if self.symlinked {
                            // A symlink appeared: list properly (it follows links).
                            return self.read_and_judge(Read::All, wall, mono);
                        }
                    }
                    Read::All => match list_dir(dir, pat) {
                        Ok((listed, link)) => {
                            self.symlinked = link;
                            *files = Some(listed.into_iter().collect());
                        }
                        Err(e) => {
                            *files = None;
                            return Answer::Done(ProbeResult::bad("error", e));
                        }
                    },
                }
                let files = files.get_or_insert_default();
                let listed = || files.iter().map(|(n, t)| (n.as_os_str(), *t));
                match newest_of(listed(), *max_age, wall) {
                    Some((m, name, recent)) if age(wall, m) <= *max_age => Answer::Fresh {
                        mtime: m,
                        at: wall,
                        of: Fresh::Newest {
                            name: name.to_os_string(),
                            recent,
                            max_age: *max_age,
                        },
                    },
                    _ => Answer::Done(judge_newest(pattern, listed(), *max_age, wall)),
                }
            }
            Target::Walk { pattern, max_age } => Answer::Done(newest_file(pattern, *max_age, wall)),
        }
    }
}

fn target_key(kind: &CheckKind) -> String {
    match kind {
        CheckKind::LogStale { path, .. } => path.display().to_string(),
        CheckKind::Artifact(ArtifactSpec::Glob { pattern, .. }) => pattern.clone(),
        _ => String::new(),
    }
}

/// A period in [REVALIDATE / 2, REVALIDATE), fixed by `key`.
fn spread(key: &str) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    let half = REVALIDATE / 2;
    half + half.mul_f64((h.finish() % 1024) as f64 / 1024.0)
}

/// One entry, through the directory handle when there is one.
fn entry(
    handle: Option<&DirHandle>,
    name: &std::ffi::OsStr,
    path: impl FnOnce() -> PathBuf,
) -> std::io::Result<Entry> {
    match handle {
        Some(h) => h.entry(name),
        None => entry_by_path(&path()),
    }
}

/// How long ago `mtime` was at `now`; a time in the future (a clock step) counts as now.
fn age(now: SystemTime, mtime: SystemTime) -> Duration {
    now.duration_since(mtime).unwrap_or_default()
}

/// A file check's answer. A healthy one keeps what it found and writes its detail only when
/// asked: a large fleet's answers are mostly "still healthy", and most are never shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Healthy: the newest modification time found, and when.
    Fresh {
        mtime: SystemTime,
        at: SystemTime,
        of: Fresh,
    },
    /// Anything else, written out.
    Done(ProbeResult),
}

/// What a healthy answer was about.
#[derive(Debug, Clone, PartialEq)]
pub enum Fresh {
    Log,
    Newest {
        name: OsString,
        recent: usize,
        max_age: Duration,
    },
}

impl Answer {
    pub fn is_ok(&self) -> bool {
        match self {
            Answer::Fresh { .. } => true,
            Answer::Done(r) => r.verdict.is_ok(),
        }
    }

    /// The verdict, its detail written now.
    pub fn verdict(&self) -> Verdict {
        match self {
            Answer::Done(r) => r.verdict.clone(),
            Answer::Fresh { mtime, at, of } => {
                let a = age(*at, *mtime);
                let detail = match of {
                    Fresh::Log => log_stale::fresh_detail(a),
                    Fresh::Newest {
                        name,
                        recent,
                        max_age,
                    } => newest_detail(name, a, *recent, *max_age),
                };
                Verdict::Ok { detail }
            }
        }
    }

    /// The answer as a probe result, as the judges write it.
    pub fn into_result(self) -> ProbeResult {
        let progress = match &self {
            Answer::Fresh { mtime, .. } => Some(Progress::At((*mtime).into())),
            Answer::Done(_) => None,
        };
        match self {
            Answer::Done(r) => r,
            fresh => ProbeResult {
                verdict: fresh.verdict(),
                progress,
                http_status: None,
            },
        }
    }
}

/// Stats a log without following a symlink first, so a symlinked log is known to be one.
fn stat_log(path: &Path) -> (std::io::Result<Option<SystemTime>>, bool) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            (std::fs::metadata(path).map(|m| m.modified().ok()), true)
        }
        Ok(m) => (Ok(m.modified().ok()), false),
        Err(e) => (Err(e), false),
    }
}

#[cfg(test)]
mod tests;
