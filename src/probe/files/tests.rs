use super::*;
use crate::core::machine::Progress;
use std::sync::atomic::{AtomicBool, Ordering};

const MAX_AGE: Duration = Duration::from_secs(60);

/// A feed the test drives: it reports exactly the changes the test queues.
#[derive(Clone, Default)]
struct FakeFeed {
    queue: Arc<Mutex<Vec<Fake>>>,
    refuse: Arc<AtomicBool>,
    /// Every watch asked for: the directory's name, and whether with content.
    asked: Arc<Mutex<Vec<(String, bool)>>>,
}

#[derive(Clone)]
enum Fake {
    /// The named file was written or touched.
    Entry(&'static str),
    /// The name was created, removed or renamed.
    Moved(&'static str),
    Gone,
    Overflow,
}

impl FakeFeed {
    fn push(&self, f: Fake) {
        self.queue.lock().unwrap().push(f);
    }
}

impl ChangeFeed for FakeFeed {
    fn watch(&mut self, dir: &Path, content: bool) -> std::io::Result<WatchId> {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        self.asked
            .lock()
            .unwrap()
            .push((name.into_owned(), content));
        if self.refuse.load(Ordering::SeqCst) {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        Ok(1)
    }
    fn drain(&mut self, f: &mut dyn FnMut(Change<'_>)) {
        for c in std::mem::take(&mut *self.queue.lock().unwrap()) {
            match c {
                Fake::Entry(n) | Fake::Moved(n) => f(Change::Entry {
                    watch: 1,
                    name: std::ffi::OsStr::new(n),
                    moved: matches!(c, Fake::Moved(_)),
                }),
                Fake::Gone => f(Change::Gone { watch: 1 }),
                Fake::Overflow => f(Change::Overflow),
            }
        }
    }
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Puts a new file with mtime `t` under `path`'s name (write beside, rename onto), as log
/// rotation or an atomic writer does; the fake feed hears of it only if the test says so.
fn replace(path: &Path, t: SystemTime) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, "x").unwrap();
    set_mtime(&tmp, t);
    std::fs::rename(&tmp, path).unwrap();
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn progress_secs(r: &ProbeResult) -> i64 {
    match r.progress {
        Some(Progress::At(t)) => t.timestamp() - 1_800_000_000,
        ref p => panic!("no time progress: {p:?}"),
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    feed: FakeFeed,
    watch: FileWatch,
    mono: Instant,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let feed = FakeFeed::default();
        let watch = FileWatch::new(Box::new(feed.clone()));
        Rig {
            _dir: dir,
            root,
            feed,
            watch,
            mono: Instant::now(),
        }
    }
    fn log(&self, name: &str) -> FileCheck {
        let kind = CheckKind::LogStale {
            path: self.root.join(name),
            max_age: MAX_AGE,
        };
        FileCheck::new(&kind, &self.watch).unwrap()
    }
    fn glob(&self, pattern: &str) -> FileCheck {
        let kind = CheckKind::Artifact(ArtifactSpec::Glob {
            pattern: format!("{}/{pattern}", self.root.display()),
            max_age: MAX_AGE,
        });
        FileCheck::new(&kind, &self.watch).unwrap()
    }
    /// One batch at wall time `now` (seconds), `after` seconds of monotonic time in.
    fn run(&self, c: &mut FileCheck, now: u64, after: u64) -> ProbeResult {
        let trusted = self.watch.drain([&mut *c]);
        c.run(trusted, at(now), self.mono + Duration::from_secs(after))
    }
}

/// Linux: elsewhere there are no handles and every run reads by path.
#[cfg(target_os = "linux")]
#[test]
fn a_log_is_read_through_its_handle_until_the_feed_says_its_name_moved() {
    let rig = Rig::new();
    let log = rig.root.join("bot.log");
    std::fs::write(&log, "x").unwrap();
    set_mtime(&log, at(100));
    let mut c = rig.log("bot.log");
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 0)), 100);

    // Written, with no event at all: the handle reads the file every run.
    set_mtime(&log, at(105));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 1)), 105);
    // Rotated: another file under the name. Until the feed says the name moved, the
    // handle reads the file it was opened on; a write event does not reopen it.
    replace(&log, at(107));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 2)), 105);
    rig.feed.push(Fake::Entry("bot.log"));
    rig.feed.push(Fake::Moved("other.log"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 3)), 105);
    rig.feed.push(Fake::Moved("bot.log"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 4)), 107);
    // And from then on the new file is the one read.
    set_mtime(&log, at(108));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 5)), 108);
}

/// Every check in a directory uses the one watch, however it joined: logs that came after
/// the first still read through their handles.
#[cfg(target_os = "linux")]
#[test]
fn checks_that_join_a_watched_directory_are_watched_too() {
    let rig = Rig::new();
    let mut checks: Vec<_> = ["a.log", "b.log", "c.log"]
        .into_iter()
        .map(|n| {
            std::fs::write(rig.root.join(n), "x").unwrap();
            set_mtime(&rig.root.join(n), at(100));
            rig.log(n)
        })
        .collect();
    for c in &mut checks {
        assert_eq!(progress_secs(&rig.run(c, 110, 0)), 100);
    }
    // Replaced without word: every check still reads the file it holds.
    for n in ["a.log", "b.log", "c.log"] {
        replace(&rig.root.join(n), at(105));
    }
    for c in &mut checks {
        assert_eq!(progress_secs(&rig.run(c, 110, 1)), 100);
    }
}

#[test]
fn a_directory_that_cannot_be_watched_is_tried_once_a_drain() {
    let rig = Rig::new();
    rig.feed.refuse.store(true, Ordering::SeqCst);
    let mut checks: Vec<_> = (0..5).map(|i| rig.log(&format!("{i}.log"))).collect();
    rig.feed.asked.lock().unwrap().clear();
    assert!(rig.watch.drain(checks.iter_mut()));
    assert_eq!(rig.feed.asked.lock().unwrap().len(), 1);
    assert!(rig.watch.drain(checks.iter_mut()));
    assert_eq!(rig.feed.asked.lock().unwrap().len(), 2);
}

#[test]
fn a_logs_directory_is_watched_for_names_and_a_globs_for_writes_too() {
    let rig = Rig::new();
    let _log = rig.log("bot.log");
    let name = rig.root.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(*rig.feed.asked.lock().unwrap(), [(name.clone(), false)]);
    // A glob in the same directory needs writes: the watch is widened, once.
    let _glob = rig.glob("*.json");
    let _log2 = rig.log("other.log");
    assert_eq!(
        *rig.feed.asked.lock().unwrap(),
        [(name.clone(), false), (name, true)]
    );
}

#[test]
fn a_stale_answer_is_never_taken_from_the_cache() {
    let rig = Rig::new();
    let out = rig.root.join("a.json");
    std::fs::write(&out, "x").unwrap();
    set_mtime(&out, at(100));
    let mut c = rig.glob("*.json");
    assert!(rig.run(&mut c, 110, 0).verdict.is_ok());
    // Written without an event (an mmap write, a network file system); by the cache the
    // output would now be stale, so the check reads it and finds it fresh.
    set_mtime(&out, at(150));
    let r = rig.run(&mut c, 200, 1);
    assert!(r.verdict.is_ok(), "{r:?}");
    assert_eq!(progress_secs(&r), 150);
    // Really stale: said so, with the real age.
    let r = rig.run(&mut c, 300, 2);
    assert_eq!(
        r.verdict.detail(),
        "newest output a.json is 2m30s old (max 1m)"
    );

    // A log rotated without an event: its handle reads the old file, now stale, so the
    // check reads the name again and finds the new one.
    let log = rig.root.join("bot.log");
    std::fs::write(&log, "x").unwrap();
    set_mtime(&log, at(100));
    let mut c = rig.log("bot.log");
    assert!(rig.run(&mut c, 110, 3).verdict.is_ok());
    replace(&log, at(190));
    let r = rig.run(&mut c, 200, 4);
    assert!(r.verdict.is_ok(), "{r:?}");
    assert_eq!(progress_secs(&r), 190);
}

/// Linux: elsewhere there are no handles and every run reads by path.
#[cfg(target_os = "linux")]
#[test]
fn everything_is_read_again_after_a_lost_queue_a_lost_watch_and_the_revalidate_period() {
    let rig = Rig::new();
    let log = rig.root.join("bot.log");
    std::fs::write(&log, "x").unwrap();
    set_mtime(&log, at(100));
    let mut c = rig.log("bot.log");
    rig.run(&mut c, 110, 0);

    // Each `replace` below is unannounced: only a full read (by name) sees it.
    replace(&log, at(101));
    rig.feed.push(Fake::Overflow);
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 1)), 101);

    // The directory's watch ended and cannot be set again: every run reads.
    rig.feed.refuse.store(true, Ordering::SeqCst);
    rig.feed.push(Fake::Gone);
    rig.run(&mut c, 110, 2);
    replace(&log, at(102));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 3)), 102);
    replace(&log, at(103));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 4)), 103);

    // Watchable again: one more full read, then the feed is trusted.
    rig.feed.refuse.store(false, Ordering::SeqCst);
    rig.run(&mut c, 110, 5);
    rig.run(&mut c, 110, 6);
    replace(&log, at(104));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 7)), 103);
    // A whole revalidate period after the last full read: read everything.
    let later = 6 + REVALIDATE.as_secs();
    assert_eq!(progress_secs(&rig.run(&mut c, 110, later)), 104);
}

#[test]
fn a_glob_reads_only_the_entries_the_feed_names() {
    let rig = Rig::new();
    for (n, t) in [("a.json", 100), ("b.json", 90), ("c.txt", 50)] {
        std::fs::write(rig.root.join(n), "{}").unwrap();
        set_mtime(&rig.root.join(n), at(t));
    }
    let mut c = rig.glob("*.json");
    let r = rig.run(&mut c, 110, 0);
    assert_eq!(
        r.verdict.detail(),
        "newest output a.json written 10s ago (2 in the last 1m)"
    );

    // b.json written and named; a.json also changed but unnamed; c.txt does not match.
    set_mtime(&rig.root.join("b.json"), at(108));
    set_mtime(&rig.root.join("a.json"), at(109));
    rig.feed.push(Fake::Entry("b.json"));
    rig.feed.push(Fake::Entry("c.txt"));
    let r = rig.run(&mut c, 110, 1);
    assert_eq!(progress_secs(&r), 108);

    // A new file and a removed one, each named.
    std::fs::write(rig.root.join("d.json"), "{}").unwrap();
    set_mtime(&rig.root.join("d.json"), at(110));
    std::fs::remove_file(rig.root.join("b.json")).unwrap();
    rig.feed.push(Fake::Moved("d.json"));
    rig.feed.push(Fake::Moved("b.json"));
    let r = rig.run(&mut c, 110, 2);
    assert_eq!(
        r.verdict.detail(),
        "newest output d.json written 0.0s ago (2 in the last 1m)"
    );
    std::fs::remove_file(rig.root.join("d.json")).unwrap();
    rig.feed.push(Fake::Moved("d.json"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 3)), 100);
}

/// Linux: elsewhere there are no handles and every run reads by path.
#[cfg(target_os = "linux")]
#[test]
fn a_glob_stats_its_newest_file_through_a_handle_once_it_is_written_in_place() {
    let rig = Rig::new();
    let out = rig.root.join("out.json");
    std::fs::write(&out, "{}").unwrap();
    set_mtime(&out, at(100));
    let mut c = rig.glob("*.json");
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 0)), 100);
    // Written in place: read by name, then held.
    set_mtime(&out, at(101));
    rig.feed.push(Fake::Entry("out.json"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 1)), 101);
    // Replaced without word of the move: a write event reads the held file, the old one.
    replace(&out, at(105));
    rig.feed.push(Fake::Entry("out.json"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 2)), 101);
    // The move is heard: read by name again, the new file.
    rig.feed.push(Fake::Moved("out.json"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 3)), 105);
    set_mtime(&out, at(106));
    rig.feed.push(Fake::Entry("out.json"));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 4)), 106);
}

#[test]
fn a_check_knows_the_file_system_it_reads() {
    use std::os::unix::fs::MetadataExt;
    let rig = Rig::new();
    let here = std::fs::metadata(&rig.root).unwrap().dev();
    assert_eq!(rig.log("bot.log").device(), Some(here));
    assert_eq!(rig.glob("out/*.json").device(), Some(here));
    // Not there yet: the nearest folder that is.
    assert_eq!(rig.log("not/yet/bot.log").device(), Some(here));
    #[cfg(target_os = "linux")]
    {
        let proc = CheckKind::LogStale {
            path: "/proc/self/status".into(),
            max_age: MAX_AGE,
        };
        let other = FileCheck::new(&proc, &rig.watch).unwrap().device();
        assert!(other.is_some() && other != Some(here), "{other:?}");
    }
}

#[test]
fn a_symlinked_log_is_read_every_time() {
    let rig = Rig::new();
    let real = rig.root.join("real.log");
    std::fs::write(&real, "x").unwrap();
    set_mtime(&real, at(100));
    std::os::unix::fs::symlink(&real, rig.root.join("bot.log")).unwrap();
    let mut c = rig.log("bot.log");
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 0)), 100);
    // The link's directory hears nothing of writes to its target.
    set_mtime(&real, at(105));
    assert_eq!(progress_secs(&rig.run(&mut c, 110, 1)), 105);
}

#[test]
fn without_a_feed_every_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let watch = FileWatch::new(Box::new(NoFeed));
    let log = dir.path().join("bot.log");
    std::fs::write(&log, "x").unwrap();
    set_mtime(&log, at(100));
    let kind = CheckKind::LogStale {
        path: log.clone(),
        max_age: MAX_AGE,
    };
    let mut c = FileCheck::new(&kind, &watch).unwrap();
    let mono = Instant::now();
    let trusted = watch.drain([&mut c]);
    assert_eq!(progress_secs(&c.run(trusted, at(110), mono)), 100);
    set_mtime(&log, at(104));
    let trusted = watch.drain([&mut c]);
    assert_eq!(progress_secs(&c.run(trusted, at(110), mono)), 104);
}

/// With the real feed, a check that answers from what it holds says exactly what a fresh read
/// says, through a long run of writes, appends, touches (forwards and backwards: setting
/// only an mtime is an `IN_MODIFY`, like a write), renames, removals, symlinks and a
/// directory that is removed and made again. Once with the log beside the outputs (its
/// directory watched for writes too), once with the log alone (watched for names only).
#[cfg(target_os = "linux")]
#[test]
fn with_inotify_cached_answers_equal_fresh_reads() {
    fuzz(true);
    fuzz(false);
}

#[cfg(target_os = "linux")]
fn fuzz(log_beside_outputs: bool) {
    use crate::probe::artifact::newest_file;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let logs = if log_beside_outputs {
        out.clone()
    } else {
        dir.path().join("logs")
    };
    std::fs::create_dir_all(&logs).unwrap();
    let watch = FileWatch::platform();
    let log_path = logs.join("svc.log");
    let pattern = format!("{}/*.json", out.display());
    let mut log = FileCheck::new(
        &CheckKind::LogStale {
            path: log_path.clone(),
            max_age: MAX_AGE,
        },
        &watch,
    )
    .unwrap();
    let mut glob = FileCheck::new(
        &CheckKind::Artifact(ArtifactSpec::Glob {
            pattern: pattern.clone(),
            max_age: MAX_AGE,
        }),
        &watch,
    )
    .unwrap();

    let names = ["a.json", "b.json", "c.json", "svc.log", "x.txt"];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mono = Instant::now();
    // Real times: plain writes stamp the real clock.
    let base = SystemTime::now();
    let (mut ok, mut appended) = (0, 0);
    for step in 0..600u64 {
        let name = names[rnd(names.len() as u64) as usize];
        let place = |name: &str| {
            if name.ends_with(".log") {
                logs.join(name)
            } else {
                out.join(name)
            }
        };
        let p = place(name);
        let t = base - Duration::from_secs(rnd(200));
        match rnd(11) {
            0..=2 => {
                let _ = std::fs::write(&p, "x");
                if p.is_file() {
                    set_mtime(&p, t);
                }
            }
            3 | 4 => {
                if p.is_file() {
                    set_mtime(&p, t);
                }
            }
            5 => {
                let _ = std::fs::remove_file(&p);
            }
            6 => {
                let to = place(names[rnd(names.len() as u64) as usize]);
                let _ = std::fs::rename(&p, to);
            }
            7 => {
                let target = dir.path().join(format!("target-{step}"));
                std::fs::write(&target, "x").unwrap();
                set_mtime(&target, t);
                let _ = std::fs::remove_file(&p);
                let _ = std::os::unix::fs::symlink(&target, &p);
            }
            8 | 9 => {
                if p.is_file() {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
                    f.write_all(b"more\n").unwrap();
                    appended += 1;
                }
            }
            _ => {
                if rnd(10) == 0 {
                    let d = if rnd(2) == 0 { &out } else { &logs };
                    let _ = std::fs::remove_dir_all(d);
                    std::fs::create_dir(d).unwrap();
                }
            }
        }
        let now = SystemTime::now() + Duration::from_secs(rnd(60));
        let m = mono + Duration::from_millis(step * 10);
        let trusted = watch.drain([&mut log, &mut glob]);
        let got = log.run(trusted, now, m);
        let meta = std::fs::metadata(&log_path).map(|m| m.modified().ok());
        let want = log_stale::judge(&log_path, meta, MAX_AGE, now);
        assert_eq!(got, want, "log, step {step}");
        let got = glob.run(trusted, now, m);
        assert_eq!(
            got,
            newest_file(&pattern, MAX_AGE, now),
            "glob, step {step}"
        );
        ok += usize::from(got.verdict.is_ok());
    }
    // The run exercised what it claims to: appends, and healthy answers from the cache.
    assert!(appended > 50 && ok > 50, "{appended} appends, {ok} ok");
}

#[test]
fn a_star_pattern_matches_exactly_what_the_glob_crate_matches() {
    let patterns = [
        "*.json",
        "report-*.csv",
        "*",
        "out*",
        "a*a",
        ".*",
        "*.tar.gz",
        "x?.json",
        "[ab]*.json",
        "*.j*n",
        "*[.]json",
    ];
    let names = [
        "a.json",
        ".json",
        "json",
        "a.jsonx",
        "report-1.csv",
        "report-.csv",
        "report.csv",
        "out",
        "outer",
        "a",
        "aa",
        "aba",
        ".hidden",
        "x.tar.gz",
        "x1.json",
        "a1.json",
        "b.json",
        "",
        "a.jon",
    ];
    let mut fast = 0;
    for p in patterns {
        let glob = glob::Pattern::new(p).unwrap();
        let ours = NamePattern::new(&glob);
        fast += usize::from(matches!(ours, NamePattern::Star { .. }));
        for n in names {
            assert_eq!(ours.matches(OsStr::new(n)), glob.matches(n), "{p} vs {n:?}");
        }
    }
    // The shapes with one star and no brackets or question marks take the fast path.
    assert_eq!(fast, 7);
}

#[test]
fn names_keep_one_place_each_and_remember_a_move() {
    let mut n = Names::default();
    n.note(OsStr::new("a.json"), false);
    n.note(OsStr::new("b.json"), false);
    n.note(OsStr::new("a.json"), true);
    n.note(OsStr::new("a.json"), false);
    let seen: Vec<_> = n.iter().map(|(x, m)| (x.to_owned(), m)).collect();
    assert_eq!(
        seen,
        [("a.json".into(), true), ("b.json".into(), false)] as [(OsString, bool); 2]
    );
    n.clear();
    assert!(n.is_empty() && n.iter().next().is_none());
}
