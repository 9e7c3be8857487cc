//! `log_stale`: the log's modification time must be younger than `max_age`.

use super::fmt::{age, limit};
use super::{since, ProbeResult};
use crate::core::machine::Progress;
use std::path::Path;
use std::time::{Duration, SystemTime};

pub async fn probe(path: &Path, max_age: Duration, now: SystemTime) -> ProbeResult {
    let meta = tokio::fs::metadata(path).await;
    judge(path, meta.map(|m| m.modified().ok()), max_age, now)
}

/// The pure judgement over what `stat` found.
///
/// A rotated or truncated log is a fresh file with a fresh mtime, so it reads as activity;
/// a missing log is unhealthy (grace covers a service that has not written it yet).
pub fn judge(
    path: &Path,
    meta: std::io::Result<Option<SystemTime>>,
    max_age: Duration,
    now: SystemTime,
) -> ProbeResult {
    match meta {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ProbeResult::bad("missing", format!("log {} does not exist", path.display()))
        }
        Err(e) => ProbeResult::bad("error", format!("cannot stat log {}: {e}", path.display())),
        Ok(None) => ProbeResult::bad(
            "error",
            format!("no modification time for {}", path.display()),
        ),
        Ok(Some(mtime)) => {
            let a = since(now, mtime);
            let progress = Progress::At(mtime.into());
            if a > max_age {
                ProbeResult::bad(
                    "stale",
                    format!("log unchanged for {} (max {})", age(a), limit(max_age)),
                )
                .with_progress(progress)
            } else {
                ProbeResult::ok(fresh_detail(a)).with_progress(progress)
            }
        }
    }
}

/// What a healthy log check says, `a` after the log was written.
pub fn fresh_detail(a: Duration) -> String {
    format!("log written {} ago", age(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::machine::Verdict;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn fresh_log_is_ok_and_stale_log_says_how_long() {
        let p = Path::new("/var/log/bot.log");
        let ok = judge(p, Ok(Some(t(0))), Duration::from_secs(600), t(30));
        assert_eq!(
            ok.verdict,
            Verdict::Ok {
                detail: "log written 30s ago".into()
            }
        );
        let stale = judge(p, Ok(Some(t(0))), Duration::from_secs(600), t(724));
        assert_eq!(
            stale.verdict,
            Verdict::Unhealthy {
                failure: "stale",
                detail: "log unchanged for 12m04s (max 10m)".into()
            }
        );
        assert_eq!(stale.progress, Some(Progress::At(t(0).into())));
    }

    #[test]
    fn missing_log_is_its_own_failure_kind() {
        let r = judge(
            Path::new("/x.log"),
            Err(std::io::ErrorKind::NotFound.into()),
            Duration::from_secs(60),
            t(0),
        );
        assert!(matches!(
            r.verdict,
            Verdict::Unhealthy {
                failure: "missing",
                ..
            }
        ));
    }

    #[test]
    fn mtime_in_the_future_counts_as_fresh() {
        let r = judge(
            Path::new("/x.log"),
            Ok(Some(t(100))),
            Duration::from_secs(60),
            t(0),
        );
        assert!(r.verdict.is_ok());
    }

    #[tokio::test]
    async fn rotated_log_reads_as_activity() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("svc.log");
        std::fs::write(&log, "old\n").unwrap();
        // Rotation: the old file moves away, a new one appears with a fresh mtime.
        std::fs::rename(&log, dir.path().join("svc.log.1")).unwrap();
        std::fs::write(&log, "").unwrap();
        let r = probe(&log, Duration::from_secs(60), SystemTime::now()).await;
        assert!(r.verdict.is_ok(), "{r:?}");
    }
}
