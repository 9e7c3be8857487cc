//! Faults injected into a real daemon watching a real service that freezes again and again:
//! kill -9 of akashic at random moments, and a state_dir that fills up and frees.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::*;

/// A small xorshift generator: the seed is printed, `AKASHIC_FAULT_SEED` replays a run.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("AKASHIC_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("fault seed {seed} (AKASHIC_FAULT_SEED={seed} replays it)");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The service: freezes 3 s after each start while `{DIR}/freezing` exists; each freeze is
/// one line in `{DIR}/freezing.froze` with the frozen pid.
fn freezing_fleet(state_dir: &str) -> Fleet {
    let port = free_port();
    let toml = format!(
        "[daemon]\nstate_dir = \"{state_dir}\"\ntick = \"250ms\"\nforensics_budget = \"1s\"\n{}",
        demo_service(
            "bot",
            port,
            r#", "--freeze-after", "3s", "--freeze-while", "{DIR}/freezing""#,
            r#"{ max = 1000, within = "1h" }"#,
            "30s"
        )
    );
    let f = Fleet::new(&toml);
    std::fs::write(f.path("freezing"), "").unwrap();
    f
}

/// Pids of frozen instances, in order.
fn freezes(f: &Fleet) -> Vec<u32> {
    froze_at(f).into_iter().map(|(pid, _)| pid).collect()
}

/// Each freeze: the pid and when it froze (the line's time stamp).
fn froze_at(f: &Fleet) -> Vec<(u32, DateTime<Utc>)> {
    std::fs::read_to_string(f.path("freezing.froze"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let at = l.split(' ').next()?.parse().ok()?;
            Some((l.rsplit(' ').next()?.parse().ok()?, at))
        })
        .collect()
}

/// Live (not zombie) processes running the fleet's service.
fn copies(log: &Path) -> Vec<u32> {
    let needle = log.display().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            cmd.contains("demo-service") && cmd.contains(&needle) && state != Some('Z')
        })
        .collect()
}

/// Samples the service's copies every 10 ms on a thread; the most seen at once.
struct CopyWatch {
    stop: Arc<AtomicBool>,
    most: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CopyWatch {
    fn start(log: PathBuf) -> CopyWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let most = Arc::new(AtomicUsize::new(0));
        let (s, m) = (stop.clone(), most.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                m.fetch_max(copies(&log).len(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        CopyWatch {
            stop,
            most,
            thread: Some(thread),
        }
    }

    fn most(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.most.load(Ordering::SeqCst)
    }
}

/// Where the incident was when akashic was killed: the last event of the open incident.
fn phase(f: &Fleet) -> String {
    let open = f
        .incidents()
        .into_iter()
        .find(|i| i["recovered"] == false && i["escalated"] != true);
    match open.and_then(|i| i["id"].as_str().map(|id| f.show(id))) {
        None if freezes(f).len() > f.incidents().len() => "frozen, not yet detected".into(),
        None => "healthy".into(),
        Some(i) => i["timeline"]
            .as_array()
            .and_then(|t| t.last())
            .and_then(|e| e["event"].as_str())
            .unwrap_or("detected")
            .to_string(),
    }
}

/// How long the last daemon may take to meet every freeze (generous: CI machines are busy).
const SETTLE: Duration = Duration::from_secs(180);

/// Turns freezing off and lets the last daemon settle: every freeze has met its incident and
/// every incident is recovered. Returns the incidents and the daemon's log as it was just
/// before they were listed: an incident logged as opened after the list (a freeze caught
/// while the harness was listing) is not missing from it.
fn settle(f: &Fleet) -> (Vec<Value>, String) {
    std::fs::remove_file(f.path("freezing")).unwrap();
    let start = Instant::now();
    loop {
        let log = std::fs::read_to_string(f.path("daemon.log")).unwrap_or_default();
        // One list per round (`show` of each only once it is settled): on a loaded machine
        // 70 `show` processes a round would take longer than the daemon needs.
        let incidents = f.incidents();
        if incidents.iter().all(|i| i["recovered"] == true) {
            let shown: Vec<Value> = incidents
                .iter()
                .filter_map(|i| i["id"].as_str().map(|id| f.show(id)))
                .collect();
            let froze = froze_at(f);
            if froze
                .iter()
                .all(|(p, at)| !accounting(&shown, *p as u64, *at).is_empty())
            {
                return (shown, log);
            }
        }
        if start.elapsed() > SETTLE {
            let shown: Vec<Value> = incidents
                .iter()
                .filter_map(|i| i["id"].as_str().map(|id| f.show(id)))
                .collect();
            let unmet: Vec<String> = froze_at(f)
                .into_iter()
                .filter(|(p, at)| accounting(&shown, *p as u64, *at).is_empty())
                .map(|(p, at)| {
                    let log = std::fs::read_to_string(f.path("daemon.log")).unwrap_or_default();
                    let about: Vec<&str> = log
                        .lines()
                        .filter(|l| l.contains(&format!("pid={p} ")))
                        .collect();
                    format!("pid {p} froze at {at}; daemon log: {about:#?}")
                })
                .collect();
            eprintln!("freezes no incident accounts for:\n{}", unmet.join("\n"));
            let brief: Vec<String> = shown
                .iter()
                .map(|i| {
                    let ev: Vec<&str> = i["timeline"]
                        .as_array()
                        .map(|t| t.iter().filter_map(|e| e["event"].as_str()).collect())
                        .unwrap_or_default();
                    format!(
                        "{} pid {} detected {} recovered {} {:?}",
                        i["id"],
                        i["process"]["pid"],
                        i["detected_at"],
                        i["recovery_confirmed_at"],
                        ev
                    )
                })
                .collect();
            panic!(
                "timed out after {SETTLE:?}: freezes {:?}\nincidents:\n{}\ndaemon log tail:\n{}",
                freezes(f),
                brief.join("\n"),
                std::fs::read_to_string(f.path("daemon.log"))
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The incidents that account for the freeze of `pid` at `at`: the one that detected it (its
/// process at detection); else the one open when it froze: an instance its restart started
/// that froze before the recovery was confirmed ("still failing after restart") is that
/// incident's, not a new one, even when akashic died before its restart was written down.
fn accounting(incidents: &[Value], pid: u64, at: DateTime<Utc>) -> Vec<String> {
    let id = |i: &Value| i["id"].as_str().map(str::to_string);
    let detected: Vec<String> = incidents
        .iter()
        .filter(|i| i["process"]["pid"].as_u64() == Some(pid))
        .filter_map(id)
        .collect();
    if !detected.is_empty() {
        return detected;
    }
    let time = |v: &Value| v.as_str().and_then(|s| s.parse::<DateTime<Utc>>().ok());
    incidents
        .iter()
        .filter(|i| {
            time(&i["detected_at"]).is_some_and(|d| d <= at)
                && time(&i["recovery_confirmed_at"]).is_none_or(|r| at <= r)
        })
        .filter_map(id)
        .collect()
}

/// Runs `check`; when it fails, the fleet's directory (config, daemon log, state) is copied
/// beside the temp dir and named, so the failure can be read after the run.
fn keep_on_failure(f: &Fleet, check: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        let kept = std::env::temp_dir().join(format!("akashic-fault-kept-{}", std::process::id()));
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(f.dir.path())
            .arg(&kept)
            .status();
        eprintln!(
            "the fleet's directory is kept at {} ({copied:?})",
            kept.display()
        );
        std::panic::resume_unwind(panic);
    }
}

/// The invariants every fault run must keep.
fn check_invariants(f: &Fleet, incidents: &[Value], log: &str, most_copies: usize) {
    let froze = froze_at(f);
    let mut lost = Vec::new();
    let mut twice = Vec::new();
    let mut accounted: BTreeSet<String> = BTreeSet::new();
    for (pid, at) in &froze {
        let ids = accounting(incidents, *pid as u64, *at);
        match ids.len() {
            0 => lost.push(*pid),
            1 => {}
            _ => twice.push((*pid, ids.clone())),
        }
        accounted.extend(ids);
    }
    assert!(lost.is_empty(), "freezes with no incident (lost): {lost:?}");
    assert!(twice.is_empty(), "freezes with two incidents: {twice:?}");
    let idle: Vec<_> = incidents
        .iter()
        .filter_map(|i| i["id"].as_str())
        .filter(|id| !accounted.contains(*id))
        .collect();
    assert!(
        idle.is_empty(),
        "incidents without a freeze (duplicates): {idle:?}"
    );
    // Every incident the daemon's log named as opened before the list was taken is in it.
    let ids: BTreeSet<&str> = incidents.iter().filter_map(|i| i["id"].as_str()).collect();
    for line in log.lines().filter(|l| l.contains("incident opened")) {
        let named = line
            .split("incident=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_default();
        assert!(ids.contains(named), "logged but not stored: {line}");
    }
    assert_eq!(
        count_lines(&f.path("bot/service.log"), "cannot bind"),
        0,
        "a second copy of the service was started beside the first"
    );
    assert!(
        most_copies <= 1,
        "{most_copies} copies of the service ran at once"
    );
}

/// Stops akashic cleanly and checks that it left no copy of the service behind.
fn stop_and_count_orphans(f: &mut Fleet) -> usize {
    f.signal(Signal::SIGTERM);
    f.wait_exit();
    copies(&f.path("bot/service.log")).len()
}

/// Issue #14: at least 50 kill -9 of akashic at random moments across detection, restart,
/// confirmation and drafting, and freezes that happen while akashic is down. Every freeze has
/// exactly one incident; none is lost or duplicated; no orphan; never two copies at once.
#[test]
fn kill_9_at_random_moments_loses_nothing_and_never_starts_a_second_copy() {
    let kills: usize = std::env::var("AKASHIC_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let mut rng = Rng::from_env();
    let mut f = freezing_fleet("{DIR}/state");
    let watch = CopyWatch::start(f.path("bot/service.log"));
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    for n in 0..kills {
        f.watch();
        // One cycle (output, freeze, detection, restart, confirmation) takes about 7 s.
        std::thread::sleep(Duration::from_millis(rng.below(7000)));
        let at = phase(&f);
        f.signal(Signal::SIGKILL);
        f.wait_exit();
        if n % 5 == 4 {
            // Down long enough for the running instance to freeze unwatched.
            std::thread::sleep(Duration::from_secs(4));
            *phases.entry(format!("{at}, then down 4s")).or_default() += 1;
        } else {
            *phases.entry(at).or_default() += 1;
        }
    }
    f.watch();
    let (incidents, log_then) = settle(&f);
    let orphans = stop_and_count_orphans(&mut f);
    let most = watch.most();
    eprintln!(
        "{kills} kills in {:?}: {} freezes, {} incidents, most copies at once {most}, orphans {orphans}; killed at: {phases:?}",
        started.elapsed(),
        freezes(&f).len(),
        incidents.len()
    );
    keep_on_failure(&f, || check_invariants(&f, &incidents, &log_then, most));
    assert_eq!(
        orphans, 0,
        "akashic's clean stop left a copy of the service"
    );
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None (with one line saying why) where this user cannot mount.
    fn mount(at: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&at).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(at)),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here ({}); the full-disk test needs root",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount ({e}); the full-disk test needs root");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills a file system to ENOSPC with one file; the bytes written.
fn fill(file: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(file).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.sync_all();
    written
}

fn integrity(db: &Path) -> String {
    if !db.exists() {
        return "ok".into();
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Issue #14: 20 fill-and-free cycles of a small tmpfs state_dir while a service freezes
/// again and again: no store corrupted, no incident lost, restarts never stop, and akashic
/// says it is holding incidents while the disk is full.
#[test]
fn a_state_dir_that_fills_and_frees_20_times_loses_nothing() {
    let probe = tempfile::tempdir().unwrap();
    let Some(_probe_fs) = Tmpfs::mount(probe.path().join("m"), "1m") else {
        return;
    };
    drop(_probe_fs);
    let mut rng = Rng::from_env();
    let mut f = freezing_fleet("{DIR}/state");
    let state = f.path("state");
    let _fs = Tmpfs::mount(state.clone(), "8m").expect("mounted once already");
    let watch = CopyWatch::start(f.path("bot/service.log"));
    f.watch();
    let started = Instant::now();
    let (mut filled, mut held_while_full) = (0u64, 0usize);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(500 + rng.below(2500)));
        filled += fill(&state.join("filler"));
        std::thread::sleep(Duration::from_millis(1000 + rng.below(3000)));
        let status = f.json(&["status", "--json"]);
        if status["degraded"].as_array().is_some_and(|d| !d.is_empty()) {
            held_while_full += 1;
        }
        std::fs::remove_file(state.join("filler")).unwrap();
    }
    let (incidents, log_then) = settle(&f);
    let most = watch.most();
    let log = std::fs::read_to_string(f.path("daemon.log")).unwrap_or_default();
    let refused = log
        .lines()
        .filter(|l| l.contains("incident store refuses writes"))
        .count();
    eprintln!(
        "20 fill-and-free cycles in {:?} ({} MiB written by the filler): {} freezes, {} incidents; \
         status degraded at {held_while_full} of 20 full moments; store refused writes {refused} times",
        started.elapsed(),
        filled >> 20,
        freezes(&f).len(),
        incidents.len()
    );
    keep_on_failure(&f, || check_invariants(&f, &incidents, &log_then, most));
    assert!(
        incidents.iter().all(|i| i["restarts"].as_u64() >= Some(1)),
        "every freeze was restarted"
    );
    assert!(
        refused > 0,
        "the disk was full while incidents were written"
    );
    for db in ["incidents.db", "memory.db"] {
        assert_eq!(integrity(&state.join(db)), "ok", "{db} after 20 fills");
    }
    let orphans = stop_and_count_orphans(&mut f);
    assert_eq!(orphans, 0);
}
