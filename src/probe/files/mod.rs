//! File checks (`log_stale`, and `artifact` globs) that remember what they read and read
//! again only what the operating system says changed.
//!
//! Every answer still comes from `stat`; a [`ChangeFeed`] (inotify on Linux) only says what
//! must be read again:
//! - A log check keeps a handle on its log and stats it through the handle every run, which
//!   costs no path walk. The feed only has to say when the log's *name* moves (created,
//!   removed, renamed onto): then the check opens the name afresh. Its directory is watched
//!   for name changes only, so a busy log raises no events at all.
//! - A glob check keeps the matching names and their mtimes, and its directory is watched for
//!   writes and touches too: a run stats only the names the feed reported.
//!
//! Either cache can lag the file system (a missed event) but never run ahead of it, since
//! mtimes only move forward when a service writes, and every backward change in the watched
//! directory (removal, rename, `touch -d`) is an event. So an answer from a cache is trusted
//! only when it is healthy; an unhealthy one is read again from the file system before it is
//! reported. What no event reports (an ancestor directory renamed or a symlinked parent
//! swapped, permissions changed above, a writer on another machine of a network file system)
//! is caught by a full read: each check reads everything afresh at least once a
//! [`REVALIDATE`] period, and wherever events cannot be trusted (no feed, a directory that
//! cannot be watched, symlinked files, a lost queue) a check reads everything every time, as
//! a plain poll would.
//!
//! An event never stands in for a stat: setting a file's mtime alone (`touch -m -d`, how one
//! fakes a stale log) arrives as the same `IN_MODIFY` a write does, so an event cannot say the
//! file is fresh, only that it must be read.

mod at;
pub mod feed;
#[cfg(target_os = "linux")]
mod inotify;

pub use at::{open_files_limit, raise_open_files_limit};
pub use feed::{Change, ChangeFeed, NoFeed, WatchId};

use super::artifact::{judge_newest, list_dir, newest_detail, newest_file, newest_of, split_glob};
use super::log_stale;
use super::{since, ProbeResult};
use crate::config::{ArtifactSpec, CheckKind};
use crate::core::machine::{Progress, Verdict};
use at::{entry_by_path, DirHandle, FileHandle, Stat};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::hash::BuildHasherDefault;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// The longest a check answers from its cache without reading everything again.
pub const REVALIDATE: Duration = Duration::from_secs(60);

/// Names a glob check collects between two runs before it just lists the directory again.
const MAX_PENDING_NAMES: usize = 64;

/// What the feed said about one check since the check last ran. The table keeps one per
/// check, side by side; a batch takes its checks' out when it drains the feed.
#[derive(Debug, Default)]
struct News {
    /// The check's directory is being watched, so silence means "unchanged".
    watched: bool,
    /// Read everything: changes were lost, or too many came to list them.
    all: bool,
    /// Log checks: the log's name moved (it may be another file now, or none).
    moved: bool,
    /// Glob checks: the matching entries that changed.
    names: Names,
}

/// Entry names, each with whether it moved, in one buffer: a busy fleet's events are filed
/// and read without allocating (a check and the table swap buffers, each keeping its room).
#[derive(Debug, Default)]
struct Names {
    bytes: Vec<u8>,
    /// Each name's end in `bytes`, and whether it moved.
    ends: Vec<(usize, bool)>,
}

impl Names {
    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }
    fn iter(&self) -> impl Iterator<Item = (&OsStr, bool)> {
        let mut start = 0;
        self.ends.iter().map(move |&(end, moved)| {
            let name = OsStr::from_bytes(&self.bytes[start..end]);
            start = end;
            (name, moved)
        })
    }
    /// Notes a change to `name`; a name noted already keeps one place. False when the name
    /// is new and [`MAX_PENDING_NAMES`] are noted already.
    fn note(&mut self, name: &OsStr, moved: bool) -> bool {
        let mut start = 0;
        for (end, m) in &mut self.ends {
            if &self.bytes[start..*end] == name.as_bytes() {
                *m |= moved;
                return true;
            }
            start = *end;
        }
        if self.ends.len() >= MAX_PENDING_NAMES {
            return false;
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.ends.push((self.bytes.len(), moved));
        true
    }
}

/// The last component of a glob. The common shape, one `*` between literal ends (`*.json`,
/// `report-*.csv`), is matched by its ends; anything else by the glob crate.
enum NamePattern {
    Star { prefix: String, suffix: String },
    Glob(glob::Pattern),
}

impl NamePattern {
    fn new(p: &glob::Pattern) -> Self {
        let s = p.as_str();
        match s.split_once('*') {
            Some((prefix, suffix)) if !s.contains(['?', '[', ']']) && !suffix.contains('*') => {
                NamePattern::Star {
                    prefix: prefix.into(),
                    suffix: suffix.into(),
                }
            }
            _ => NamePattern::Glob(p.clone()),
        }
    }

    fn matches(&self, name: &OsStr) -> bool {
        match self {
            NamePattern::Star { prefix, suffix } => {
                let n = name.as_bytes();
                n.len() >= prefix.len() + suffix.len()
                    && n.starts_with(prefix.as_bytes())
                    && n.ends_with(suffix.as_bytes())
                    && name.to_str().is_some()
            }
            NamePattern::Glob(p) => name.to_str().is_some_and(|n| p.matches(n)),
        }
    }
}

/// Which entries of a directory a check cares about.
enum Filter {
    Name(OsString),
    Pattern(NamePattern),
}

struct Subscriber {
    filter: Filter,
    /// The check's place in the table's `news`.
    news: usize,
}

struct Dir {
    path: PathBuf,
    watch: Option<WatchId>,
    /// The watch reports writes and touches too (a glob check needs them).
    content: bool,
    subscribers: Vec<Subscriber>,
    /// How many subscribers are globs.
    globs: usize,
    /// The drain that last tried to watch it, so a directory that cannot be watched is
    /// tried once a drain, not once per check in it.
    tried: u64,
}

/// Watch numbers are small integers the kernel picks: FNV is plenty for them.
type ByWatch = HashMap<WatchId, Vec<usize>, BuildHasherDefault<crate::fnv::Fnv>>;

struct Table {
    feed: Box<dyn ChangeFeed>,
    dirs: Vec<Dir>,
    by_path: HashMap<PathBuf, usize>,
    /// Watch to directories (two paths to one directory share a watch).
    by_watch: ByWatch,
    news: Vec<News>,
    /// Drains so far.
    drains: u64,
}

/// Hands one change to the checks it concerns.
fn file(dirs: &mut [Dir], by_watch: &mut ByWatch, news: &mut [News], change: Change<'_>) {
    match change {
        Change::Entry { watch, name, moved } => {
            for &dir in by_watch.get(&watch).into_iter().flatten() {
                for s in &dirs[dir].subscribers {
                    let n = &mut news[s.news];
                    match &s.filter {
                        // A write or touch is read through the log's handle anyway.
                        Filter::Name(log) => n.moved |= moved && log == name,
                        Filter::Pattern(p) if p.matches(name) => {
                            if !n.all && !n.names.note(name, moved) {
                                // Too many to list: just list the directory again.
                                n.all = true;
                                n.names.clear();
                            }
                        }
                        Filter::Pattern(_) => {}
                    }
                }
            }
        }
        Change::Gone { watch } => {
            for dir in by_watch.remove(&watch).unwrap_or_default() {
                let d = &mut dirs[dir];
                d.watch = None;
                for s in &d.subscribers {
                    let n = &mut news[s.news];
                    n.watched = false;
                    n.all = true;
                }
            }
        }
        Change::Overflow => {
            for n in news {
                n.all = true;
            }
        }
    }
}

impl Table {
    /// Watches `dir` for what its checks need, if it is not watched for that yet; true when
    /// it is watched afterwards.
    fn watch(&mut self, dir: usize) -> bool {
        let d = &mut self.dirs[dir];
        let content = d.globs > 0;
        if d.watch.is_some() && (d.content || !content) {
            return true;
        }
        let old = d.watch.take();
        let new = self.feed.watch(&d.path, content).ok();
        if old != new {
            if let Some(o) = old {
                if let Some(v) = self.by_watch.get_mut(&o) {
                    v.retain(|&x| x != dir);
                }
            }
            if let Some(w) = new {
                self.by_watch.entry(w).or_default().push(dir);
            }
        }
        d.watch = new;
        d.content = content;
        for s in &d.subscribers {
            let n = &mut self.news[s.news];
            n.watched = new.is_some();
            // Changes before the watch began were not seen: read everything once.
            n.all = true;
        }
        new.is_some()
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
                by_watch: ByWatch::default(),
                news: Vec::new(),
                drains: 0,
            }),
        }
    }

    /// The platform's feed (inotify on Linux; none elsewhere).
    pub fn platform() -> Self {
        Self::new(feed::platform())
    }

    /// Files everything the feed reported with the checks it concerns, and hands `checks`
    /// their news (a directory that could not be watched is tried again first). False when
    /// another batch holds the table: `checks` then read everything from the file system.
    pub fn drain<'a>(&self, checks: impl IntoIterator<Item = &'a mut FileCheck>) -> bool {
        let Ok(mut t) = self.table.try_lock() else {
            return false;
        };
        let t = &mut *t;
        t.feed
            .drain(&mut |c| file(&mut t.dirs, &mut t.by_watch, &mut t.news, c));
        t.drains += 1;
        for c in checks {
            if let Some((dir, at)) = c.inbox {
                if !t.news[at].watched && t.dirs[dir].tried != t.drains {
                    // It may exist by now; once watched, its checks read everything once.
                    t.dirs[dir].tried = t.drains;
                    t.watch(dir);
                }
                let n = &mut t.news[at];
                c.news.watched = n.watched;
                c.news.all = std::mem::take(&mut n.all);
                c.news.moved = std::mem::take(&mut n.moved);
                // The check's buffer was emptied when it last ran: swapped, both keep room.
                std::mem::swap(&mut c.news.names, &mut n.names);
            }
        }
        true
    }

    /// Registers a check's interest in `dir`'s entries; returns the directory's number and
    /// the check's place in `news`.
    fn subscribe(&self, dir: &Path, filter: Filter) -> (usize, usize) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let next = t.dirs.len();
        let i = *t.by_path.entry(dir.to_path_buf()).or_insert(next);
        if i == next {
            t.dirs.push(Dir {
                path: dir.to_path_buf(),
                watch: None,
                content: false,
                subscribers: Vec::new(),
                globs: 0,
                tried: 0,
            });
        }
        let at = t.news.len();
        t.news.push(News::default());
        let d = &mut t.dirs[i];
        d.globs += usize::from(matches!(filter, Filter::Pattern(_)));
        d.subscribers.push(Subscriber { filter, news: at });
        // Whether this widened the watch or found it as it needs it, the check is watched
        // (or not) from here, and its first run reads everything.
        let watched = t.watch(i);
        t.news[at] = News {
            watched,
            all: true,
            ..News::default()
        };
        (i, at)
    }
}

enum Target {
    Log {
        path: PathBuf,
        max_age: Duration,
        /// The log, opened at the last full read; `None`: read by path.
        file: Option<FileHandle>,
    },
    Glob {
        pattern: String,
        dir: PathBuf,
        pat: glob::Pattern,
        max_age: Duration,
        /// The matching regular files and their modification times; `None` until listed.
        files: Option<HashMap<Arc<OsStr>, SystemTime>>,
        /// The directory, opened at the last full read, to stat changed entries relative to it.
        handle: Option<DirHandle>,
        /// The newest file, once it is seen written in place, to stat it through a handle.
        held: Option<(Arc<OsStr>, FileHandle)>,
    },
    /// A glob with wildcards in its directories: read through the glob crate every time.
    Walk { pattern: String, max_age: Duration },
}

/// One file check and what it last read. Like a counter's history, it travels with the
/// check, so a check runs once at a time and a slow file system stalls only its own checks.
pub struct FileCheck {
    target: Target,
    /// The watched directory's number and this check's place in the table's news; `None`:
    /// not watchable (no parent directory, or a walk), read every time.
    inbox: Option<(usize, usize)>,
    /// What the feed said, handed over by [`FileWatch::drain`].
    news: News,
    /// Events cannot speak for this target (it is or holds a symlink): read every time.
    symlinked: bool,
    last_full: Option<Instant>,
    /// This check's revalidate period: between half and all of [`REVALIDATE`], fixed per
    /// target, so a fleet's full reads spread out instead of coming all at once.
    revalidate: Duration,
}

/// How much a run reads from the file system.
enum Read {
    /// Nothing moved: a log is read through its handle; a glob answers from its table.
    Known,
    /// A glob reads the entries named in its news.
    Changed,
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
                    file: None,
                };
                (target, inbox)
            }
            CheckKind::Artifact(ArtifactSpec::Glob { pattern, max_age }) => {
                match split_glob(pattern) {
                    Some((dir, pat)) => {
                        let inbox = watch.subscribe(&dir, Filter::Pattern(NamePattern::new(&pat)));
                        let target = Target::Glob {
                            pattern: pattern.clone(),
                            dir,
                            pat,
                            max_age: *max_age,
                            files: None,
                            handle: None,
                            held: None,
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
            news: News::default(),
            symlinked: false,
            last_full: None,
            revalidate: spread(&target_key(kind)),
        })
    }

    /// The file system the check reads: its directory's, or the nearest existing ancestor's.
    pub fn device(&self) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let start = match &self.target {
            Target::Log { path, .. } => path.parent().unwrap_or(path),
            Target::Glob { dir, .. } => dir,
            Target::Walk { pattern, .. } => Path::new(pattern),
        };
        start
            .ancestors()
            .find_map(|d| std::fs::metadata(d).ok())
            .map(|m| m.dev())
    }

    /// Runs the check, its answer written out. `trusted`: this batch drained the feed (see
    /// [`FileWatch::drain`]). The daemon uses [`FileCheck::answer`]; the tests compare this
    /// with fresh reads.
    #[cfg(test)]
    pub fn run(&mut self, trusted: bool, wall: SystemTime, mono: Instant) -> ProbeResult {
        self.answer(trusted, wall, mono).into_result()
    }

    /// Runs the check; a healthy answer's detail is left unwritten until asked for.
    /// `trusted`: this batch drained the feed and handed this check its news (see
    /// [`FileWatch::drain`]).
    pub fn answer(&mut self, trusted: bool, wall: SystemTime, mono: Instant) -> Answer {
        let read = self.plan(trusted, mono);
        let cached = !matches!(read, Read::All);
        // The names this run reads, emptied and given back to the news after (keeping room).
        let mut names = std::mem::take(&mut self.news.names);
        let mut a = self.read_and_judge(read, &names, wall, mono);
        if cached && !a.is_ok() {
            // Only a healthy answer is taken from the cache.
            a = self.read_and_judge(Read::All, &names, wall, mono);
        }
        names.clear();
        self.news.names = names;
        a
    }

    fn plan(&mut self, trusted: bool, mono: Instant) -> Read {
        let n = &mut self.news;
        let watched = std::mem::take(&mut n.watched);
        let all = std::mem::take(&mut n.all);
        let moved = std::mem::take(&mut n.moved);
        let due = self
            .last_full
            .is_none_or(|t| mono.saturating_duration_since(t) >= self.revalidate);
        let read = if self.inbox.is_none() || !trusted || !watched || all || self.symlinked || due {
            Read::All
        } else {
            match &self.target {
                Target::Log { file: None, .. } | Target::Glob { files: None, .. } => Read::All,
                Target::Log { .. } if moved => Read::All,
                Target::Glob { .. } if !n.names.is_empty() => Read::Changed,
                _ => Read::Known,
            }
        };
        if !matches!(read, Read::Changed) {
            n.names.clear();
        }
        read
    }

    /// `names`: the entries a glob's news named (read when `read` is `Changed`).
    fn read_and_judge(
        &mut self,
        read: Read,
        names: &Names,
        wall: SystemTime,
        mono: Instant,
    ) -> Answer {
        let all = matches!(read, Read::All);
        if all {
            self.last_full = Some(mono);
        }
        match &mut self.target {
            Target::Log {
                path,
                max_age,
                file,
            } => {
                let seen = match file.as_ref().filter(|_| !all).map(FileHandle::stat) {
                    Some(read) => read.map(|s| s.mtime),
                    None => {
                        // The old handle goes first: handles are budgeted (see `at`).
                        *file = None;
                        let (seen, link, handle) = read_log(path);
                        self.symlinked = link;
                        *file = handle;
                        seen
                    }
                };
                match seen {
                    Ok(Some(m)) if since(wall, m) <= *max_age => Answer::Fresh {
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
                handle,
                held,
            } => {
                match read {
                    Read::Known => {}
                    Read::Changed => {
                        let files = files.get_or_insert_default();
                        for (name, moved) in names.iter() {
                            let seen = match held {
                                // The same file as when it was opened.
                                Some((h, f)) if !moved && **h == *name => f.stat(),
                                _ => {
                                    if held.as_ref().is_some_and(|(h, _)| **h == *name) {
                                        *held = None;
                                    }
                                    entry(handle.as_ref(), name, || dir.join(name))
                                }
                            };
                            match seen {
                                Ok(Stat { symlink: true, .. }) => self.symlinked = true,
                                Ok(Stat {
                                    regular: true,
                                    mtime: Some(t),
                                    ..
                                }) => match files.get_mut(name) {
                                    Some(at) => *at = t,
                                    None => {
                                        files.insert(Arc::from(name), t);
                                    }
                                },
                                _ => {
                                    files.remove(name);
                                }
                            }
                        }
                        if self.symlinked {
                            // A symlink appeared: list properly (it follows links).
                            return self.read_and_judge(Read::All, names, wall, mono);
                        }
                    }
                    Read::All => {
                        // The old handles go first: handles are budgeted (see `at`).
                        *held = None;
                        *handle = None;
                        *handle = DirHandle::open(dir);
                        match list_dir(dir, pat) {
                            Ok((listed, link)) => {
                                self.symlinked = link;
                                *files = Some(
                                    listed.into_iter().map(|(n, t)| (Arc::from(n), t)).collect(),
                                );
                            }
                            Err(e) => {
                                *files = None;
                                return Answer::Done(ProbeResult::bad("error", e));
                            }
                        }
                    }
                }
                let files = files.get_or_insert_default();
                match newest_of(files.iter().map(|(n, t)| (n, *t)), *max_age, wall) {
                    Some((m, name, recent)) if since(wall, m) <= *max_age => {
                        let name = name.clone();
                        // The newest file is written in place (an output that grows): stat
                        // it through a handle from now on, until its name moves.
                        if names.iter().any(|(n, moved)| !moved && n == &*name)
                            && held.as_ref().is_none_or(|(h, _)| *h != name)
                        {
                            *held = None;
                            *held = handle
                                .as_ref()
                                .and_then(|d| d.open_file(&name))
                                .map(|f| (name.clone(), f));
                        }
                        Answer::Fresh {
                            mtime: m,
                            at: wall,
                            of: Fresh::Newest {
                                name,
                                recent,
                                max_age: *max_age,
                            },
                        }
                    }
                    _ => Answer::Done(judge_newest(
                        pattern,
                        files.iter().map(|(n, t)| (&**n, *t)),
                        *max_age,
                        wall,
                    )),
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
) -> std::io::Result<Stat> {
    match handle {
        Some(h) => h.entry(name),
        None => entry_by_path(&path()),
    }
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
        name: Arc<OsStr>,
        recent: usize,
        max_age: Duration,
    },
}

impl Answer {
    /// When the newest output it saw was written, if it saw one.
    pub fn output_at(&self) -> Option<SystemTime> {
        match self {
            Answer::Fresh { mtime, .. } => Some(*mtime),
            Answer::Done(r) => match r.progress {
                Some(crate::core::machine::Progress::At(t)) => Some(t.into()),
                _ => None,
            },
        }
    }

    pub fn is_ok(&self) -> bool {
        match self {
            Answer::Fresh { .. } => true,
            Answer::Done(r) => r.verdict.is_ok(),
        }
    }

    /// Whether it passed; `None` for a blind answer (akashic could not look).
    pub fn passed(&self) -> Option<bool> {
        match self {
            Answer::Fresh { .. } => Some(true),
            Answer::Done(r) => (!r.verdict.is_blind()).then(|| r.verdict.is_ok()),
        }
    }

    /// The verdict, its detail written now.
    pub fn verdict(&self) -> Verdict {
        match self {
            Answer::Done(r) => r.verdict.clone(),
            Answer::Fresh { mtime, at, of } => {
                let a = since(*at, *mtime);
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

/// Reads a log afresh by path: its mtime, whether it is a symlink, and a handle to read the
/// same file by next time (none for a symlink, whose target may change under it).
fn read_log(
    path: &Path,
) -> (
    std::io::Result<Option<SystemTime>>,
    bool,
    Option<FileHandle>,
) {
    match FileHandle::open(path).map(|h| h.map(|h| (h.stat(), h))) {
        Ok(Some((Ok(s), h))) if !s.symlink => return (Ok(s.mtime), false, Some(h)),
        Ok(Some((Err(e), _))) => return (Err(e), false, None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Err(e), false, None),
        // A symlink, no handle to spare, or one could not be opened: read by path.
        _ => {}
    }
    let (seen, link) = stat_log(path);
    (seen, link, None)
}

/// Stats a log without following a symlink first, so a symlinked log is known to be one.
fn stat_log(path: &Path) -> (std::io::Result<Option<SystemTime>>, bool) {
    match entry_by_path(path) {
        Ok(s) if s.symlink => (std::fs::metadata(path).map(|m| m.modified().ok()), true),
        seen => (seen.map(|s| s.mtime), false),
    }
}

#[cfg(test)]
mod tests;
