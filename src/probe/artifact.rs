//! `artifact`: proof of value production — newest file of a glob, a sqlite timestamp or count, or a command's counter.

use super::fmt::{age, limit};
use super::{since, Clocks, CounterHistory, ProbeResult};
use crate::config::ArtifactSpec;
use crate::core::machine::Progress;
use chrono::{DateTime, Utc};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub async fn probe(spec: &ArtifactSpec, history: &mut CounterHistory, now: Clocks) -> ProbeResult {
    match spec {
        ArtifactSpec::Glob { pattern, max_age } => {
            let pattern = pattern.clone();
            let max_age = *max_age;
            blocking(move || newest_file(&pattern, max_age, now.wall)).await
        }
        ArtifactSpec::SqliteTimestamp { db, query, max_age } => {
            let (db, query, max_age) = (db.clone(), query.clone(), *max_age);
            blocking(move || match sqlite_value(&db, &query) {
                Ok(v) => judge_timestamp(&db, v, max_age, now.wall),
                Err(e) => ProbeResult::bad("error", e),
            })
            .await
        }
        ArtifactSpec::SqliteCount {
            db,
            query,
            min_growth,
            within,
        } => {
            let (dbc, q) = (db.clone(), query.clone());
            match blocking(move || sqlite_value(&dbc, &q)).await {
                Ok(v) => judge_growth(
                    history,
                    v as i64,
                    *min_growth,
                    *within,
                    now,
                    &format!("rows in {}", file_name(db)),
                ),
                Err(e) => ProbeResult::bad("error", e),
            }
        }
        ArtifactSpec::Command {
            command,
            min_growth,
            within,
            timeout,
        } => match run_counter(command, *timeout).await {
            Ok(v) => judge_growth(history, v, *min_growth, *within, now, "count"),
            Err(r) => r,
        },
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a probe's blocking task does not panic")
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A glob whose wildcards are all in its last component (the usual `dir/*.json`): its
/// directory and the pattern of that component. `None` for anything else.
pub(super) fn split_glob(pattern: &str) -> Option<(PathBuf, glob::Pattern)> {
    let p = Path::new(pattern);
    let (dir, name) = (p.parent()?, p.file_name()?.to_str()?);
    if dir.to_string_lossy().contains(['*', '?', '[']) {
        return None;
    }
    Some((dir.to_path_buf(), glob::Pattern::new(name).ok()?))
}

/// The regular files in `dir` whose names match `pat`, with their modification times, and
/// whether any of them is a symlink (followed, like the glob crate does). A missing
/// directory is no files.
pub(super) fn list_dir(
    dir: &Path,
    pat: &glob::Pattern,
) -> Result<(Vec<(OsString, SystemTime)>, bool), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    let mut symlink = false;
    let files = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| pat.matches(n)))
        .filter_map(|e| {
            let meta = match e.file_type() {
                Ok(t) if t.is_symlink() => {
                    symlink = true;
                    std::fs::metadata(e.path()).ok()?
                }
                _ => e.metadata().ok()?,
            };
            Some((e.file_name(), mtime_of_file(&meta)?))
        })
        .collect();
    Ok((files, symlink))
}

/// A regular file's modification time; `None` for directories and the like.
pub(super) fn mtime_of_file(meta: &std::fs::Metadata) -> Option<SystemTime> {
    meta.is_file().then(|| meta.modified().ok()).flatten()
}

/// The regular files matching `pattern`, by name, with their modification times.
fn matching_files(pattern: &str) -> Result<Vec<(OsString, SystemTime)>, String> {
    if let Some((dir, pat)) = split_glob(pattern) {
        return list_dir(&dir, &pat).map(|(files, _)| files);
    }
    let paths = glob::glob(pattern).map_err(|e| format!("invalid glob {pattern}: {e}"))?;
    Ok(paths
        .flatten()
        .filter_map(|p| {
            let m = mtime_of_file(&std::fs::metadata(&p).ok()?)?;
            Some((p.file_name()?.to_os_string(), m))
        })
        .collect())
}

/// The newest file matching `pattern` must be younger than `max_age`.
pub fn newest_file(pattern: &str, max_age: Duration, now: SystemTime) -> ProbeResult {
    match matching_files(pattern) {
        Ok(files) => judge_newest(
            pattern,
            files.iter().map(|(n, m)| (n.as_os_str(), *m)),
            max_age,
            now,
        ),
        Err(e) => ProbeResult::bad("error", e),
    }
}

/// The pure judgement over the matching files' names and modification times.
pub(super) fn judge_newest<'a>(
    pattern: &str,
    files: impl Iterator<Item = (&'a OsStr, SystemTime)>,
    max_age: Duration,
    now: SystemTime,
) -> ProbeResult {
    let Some((mtime, name, recent)) = newest_of(files, max_age, now) else {
        return ProbeResult::bad("missing", format!("no file matches {pattern}"));
    };
    let a = since(now, mtime);
    let progress = Progress::At(mtime.into());
    if a > max_age {
        ProbeResult::bad(
            "stale",
            format!(
                "newest output {} is {} old (max {})",
                name.to_string_lossy(),
                age(a),
                limit(max_age)
            ),
        )
        .with_progress(progress)
    } else {
        ProbeResult::ok(newest_detail(name, a, recent, max_age)).with_progress(progress)
    }
}

/// The newest of `files` (ties go to the greater name, so the answer does not depend on
/// listing order), and how many are younger than `max_age`.
pub(super) fn newest_of<'a, N: AsRef<OsStr> + ?Sized + 'a>(
    files: impl Iterator<Item = (&'a N, SystemTime)>,
    max_age: Duration,
    now: SystemTime,
) -> Option<(SystemTime, &'a N, usize)> {
    let mut newest: Option<(SystemTime, &N)> = None;
    let mut recent = 0usize;
    for (name, m) in files {
        if since(now, m) <= max_age {
            recent += 1;
        }
        if newest.is_none_or(|(t, n)| (m, name.as_ref()) > (t, n.as_ref())) {
            newest = Some((m, name));
        }
    }
    newest.map(|(m, n)| (m, n, recent))
}

/// What a healthy glob check says: its newest file `name`, written `a` ago.
pub(super) fn newest_detail(name: &OsStr, a: Duration, recent: usize, max_age: Duration) -> String {
    format!(
        "newest output {} written {} ago ({recent} in the last {})",
        name.to_string_lossy(),
        age(a),
        limit(max_age)
    )
}

/// Runs a query that returns one number (a unix timestamp or a count).
fn sqlite_value(db: &Path, query: &str) -> Result<f64, String> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open sqlite {}: {e}", db.display()))?;
    let _ = conn.busy_timeout(Duration::from_secs(1));
    let v: rusqlite::types::Value = conn
        .query_row(query, [], |r| r.get(0))
        .map_err(|e| format!("query on {} failed: {e}", db.display()))?;
    match v {
        rusqlite::types::Value::Integer(i) => Ok(i as f64),
        rusqlite::types::Value::Real(f) => Ok(f),
        rusqlite::types::Value::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("query on {} returned {t:?}, not a number", db.display())),
        rusqlite::types::Value::Null => Err(format!(
            "query on {} returned NULL (no rows yet?)",
            db.display()
        )),
        rusqlite::types::Value::Blob(_) => Err(format!(
            "query on {} returned a blob, not a number",
            db.display()
        )),
    }
}

/// A unix timestamp (seconds, or milliseconds when it is that large) must be younger than `max_age`.
pub fn judge_timestamp(db: &Path, v: f64, max_age: Duration, now: SystemTime) -> ProbeResult {
    let secs = if v > 1e12 { v / 1000.0 } else { v };
    let Some(at) = DateTime::<Utc>::from_timestamp(secs as i64, 0) else {
        return ProbeResult::bad(
            "error",
            format!(
                "query on {} returned {v}, not a unix timestamp",
                db.display()
            ),
        );
    };
    let a = since(now, at.into());
    let progress = Progress::At(at);
    if a > max_age {
        ProbeResult::bad(
            "stale",
            format!(
                "newest row in {} is {} old (max {})",
                file_name(db),
                age(a),
                limit(max_age)
            ),
        )
        .with_progress(progress)
    } else {
        ProbeResult::ok(format!(
            "newest row in {} written {} ago",
            file_name(db),
            age(a)
        ))
        .with_progress(progress)
    }
}

/// A counter must grow by `min_growth` within `within`; until a whole window has been seen it is given the benefit of the doubt.
pub fn judge_growth(
    h: &mut CounterHistory,
    v: i64,
    min_growth: i64,
    within: Duration,
    now: Clocks,
    what: &str,
) -> ProbeResult {
    let progress = Progress::Count(v);
    if h.samples.back().is_some_and(|(_, last)| v < *last) {
        // The counter went backwards (a file was rotated or a table cleaned): start a new window.
        h.samples.clear();
    }
    h.samples.push_back((now.mono, v));
    // Keep exactly one sample at least `within` old: the anchor the growth is measured from.
    while h.samples.len() >= 2 && now.mono.duration_since(h.samples[1].0) >= within {
        h.samples.pop_front();
    }
    let (t0, v0) = h.samples[0];
    let span = now.mono.duration_since(t0);
    let grew = v - v0;
    if span < within {
        return ProbeResult::ok(format!(
            "{what} {v} (+{grew} in {}, window {})",
            age(span),
            limit(within)
        ))
        .with_progress(progress);
    }
    if grew >= min_growth {
        ProbeResult::ok(format!(
            "{what} {v} (+{grew} in the last {})",
            limit(within)
        ))
        .with_progress(progress)
    } else {
        ProbeResult::bad(
            "stale",
            format!(
                "{what} {v} grew by {grew} in the last {} (needs {min_growth})",
                limit(within)
            ),
        )
        .with_progress(progress)
    }
}

async fn run_counter(argv: &[String], timeout: Duration) -> Result<i64, ProbeResult> {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let shown = crate::agent::redact::redact(&argv.join(" "));
    let out = match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => {
            return Err(ProbeResult::bad(
                "timeout",
                format!("command `{shown}` did not finish within {}", age(timeout)),
            ))
        }
        Ok(Err(e)) => {
            return Err(ProbeResult::bad(
                "error",
                format!("cannot run `{shown}`: {e}"),
            ))
        }
        Ok(Ok(o)) => o,
    };
    if !out.status.success() {
        // Redacted whole before it is cut, so no secret is cut past recognition.
        let err = crate::agent::redact::redact(&String::from_utf8_lossy(&out.stderr));
        let tail: String = err
            .trim()
            .chars()
            .rev()
            .take(200)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ProbeResult::bad(
            "error",
            format!("command `{shown}` failed ({}): {tail}", out.status),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse::<f64>().map(|f| f as i64).map_err(|_| {
        let printed: String = crate::agent::redact::redact(text.trim())
            .chars()
            .take(200)
            .collect();
        ProbeResult::bad(
            "error",
            format!("command `{shown}` printed {printed:?}, not a number"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::machine::Verdict;
    use tokio::time::Instant;

    #[test]
    fn counter_is_judged_over_its_window() {
        let mut h = CounterHistory::default();
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let at = |s: u64| Clocks {
            wall,
            mono: t0 + Duration::from_secs(s),
        };
        let w = Duration::from_secs(60);
        // Warming up: benefit of the doubt.
        assert!(judge_growth(&mut h, 10, 1, w, at(0), "count")
            .verdict
            .is_ok());
        assert!(judge_growth(&mut h, 10, 1, w, at(30), "count")
            .verdict
            .is_ok());
        // A whole window without growth: stale.
        let r = judge_growth(&mut h, 10, 1, w, at(61), "count");
        assert_eq!(
            r.verdict,
            Verdict::Unhealthy {
                failure: "stale",
                detail: "count 10 grew by 0 in the last 1m (needs 1)".into()
            }
        );
        // Growth inside the window: healthy again.
        assert!(judge_growth(&mut h, 12, 1, w, at(90), "count")
            .verdict
            .is_ok());
        assert!(!judge_growth(&mut h, 12, 1, w, at(200), "count")
            .verdict
            .is_ok());
    }

    #[test]
    fn newest_file_of_a_glob_decides() {
        let dir = tempfile::tempdir().unwrap();
        let pat = format!("{}/*.json", dir.path().display());
        assert!(matches!(
            newest_file(&pat, Duration::from_secs(60), SystemTime::now()).verdict,
            Verdict::Unhealthy {
                failure: "missing",
                ..
            }
        ));
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        let now = SystemTime::now();
        assert!(newest_file(&pat, Duration::from_secs(60), now)
            .verdict
            .is_ok());
        let later = now + Duration::from_secs(3600);
        let r = newest_file(&pat, Duration::from_secs(60), later);
        assert!(
            matches!(
                r.verdict,
                Verdict::Unhealthy {
                    failure: "stale",
                    ..
                }
            ),
            "{r:?}"
        );
        assert!(
            r.verdict
                .detail()
                .starts_with("newest output a.json is 1h00m old (max 1m)"),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn sqlite_timestamp_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bot.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "create table trades(ts integer); insert into trades values (strftime('%s','now'));",
        )
        .unwrap();
        let spec = ArtifactSpec::SqliteTimestamp {
            db: db.clone(),
            query: "select max(ts) from trades".into(),
            max_age: Duration::from_secs(60),
        };
        let r = probe(&spec, &mut CounterHistory::default(), Clocks::now()).await;
        assert!(r.verdict.is_ok(), "{r:?}");
        let bad = ArtifactSpec::SqliteTimestamp {
            db,
            query: "select max(ts) from nope".into(),
            max_age: Duration::from_secs(60),
        };
        let r = probe(&bad, &mut CounterHistory::default(), Clocks::now()).await;
        assert!(r.verdict.detail().contains("no such table"), "{r:?}");
    }

    #[tokio::test]
    async fn command_counter_reports_bad_output() {
        let spec = ArtifactSpec::Command {
            command: vec!["sh".into(), "-c".into(), "echo lots".into()],
            min_growth: 1,
            within: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        };
        let r = probe(&spec, &mut CounterHistory::default(), Clocks::now()).await;
        assert_eq!(
            r.verdict.detail(),
            "command `sh -c echo lots` printed \"lots\", not a number"
        );
    }
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    /// The one-directory fast path finds what the glob crate finds.
    #[test]
    fn fast_path_agrees_with_the_glob_crate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["a.json", "b.json", ".hidden.json", "c.txt"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        std::fs::create_dir(d.join("sub.json")).unwrap();
        std::fs::create_dir(d.join("nested")).unwrap();
        std::fs::write(d.join("nested/z.json"), "x").unwrap();
        let names = |pattern: &str| {
            let mut v: Vec<String> = matching_files(pattern)
                .unwrap()
                .into_iter()
                .map(|(n, _)| n.to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let via_crate = |pattern: &str| {
            let mut v: Vec<String> = glob::glob(pattern)
                .unwrap()
                .flatten()
                .filter(|p| p.is_file())
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        for pat in ["*.json", "?.json", "[ab].json", "*"] {
            let full = format!("{}/{pat}", d.display());
            assert_eq!(names(&full), via_crate(&full), "{pat}");
        }
        // A wildcard in a directory component falls back to the glob crate.
        let nested = format!("{}/*/z.json", d.display());
        assert_eq!(names(&nested), vec!["z.json".to_string()]);
        // A missing directory is no files, not an error.
        assert!(names(&format!("{}/missing/*.json", d.display())).is_empty());
        // Directories match but are not output files.
        let r = newest_file(
            &format!("{}/*.json", d.display()),
            Duration::from_secs(60),
            SystemTime::now(),
        );
        assert!(r.verdict.is_ok(), "{r:?}");
    }
}
