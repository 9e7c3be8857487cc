//! File checks in groups: the daemon schedules a group, not each check, and a group tells the
//! state machines only what they need to hear.
//!
//! Checks with the same interval on the same file system form a group that runs as one batch
//! on a blocking thread. Most answers of a large fleet are "still healthy": such an answer goes to
//! the group's shared `latest` table (which `status` reads) and not to the service's machine,
//! which only needs a check's answer when it changes between ok and unhealthy, when it is
//! unhealthy, or while the service is not steadily healthy ([`Gate`]). A slow file system
//! stalls only the group on it (as file systems were mounted when the daemon started).

use crate::probe::files::{Answer, FileCheck, FileWatch};
use crate::probe::ProbeResult;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Per service: whether its machine must see every answer (it is not steadily healthy).
pub struct Gate(Vec<AtomicBool>);

impl Gate {
    pub fn new(services: usize) -> Self {
        Gate((0..services).map(|_| AtomicBool::new(true)).collect())
    }
    pub fn set(&self, svc: usize, wants_all: bool) {
        self.0[svc].store(wants_all, Ordering::Relaxed);
    }
    fn wants_all(&self, svc: usize) -> bool {
        self.0[svc].load(Ordering::Relaxed)
    }
}

/// The last answer of every check in a group, as `status` shows them.
pub type Latest = Arc<Mutex<Vec<Option<Answer>>>>;

pub fn lock(l: &Latest) -> MutexGuard<'_, Vec<Option<Answer>>> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

struct Entry {
    svc: usize,
    check: usize,
    probe: FileCheck,
    /// Whether the last answer the machine saw was ok.
    told_ok: Option<bool>,
}

/// A batch of file checks that run together.
pub struct Group {
    pub interval: Duration,
    entries: Vec<Entry>,
    pub latest: Latest,
    /// The table `latest` held before the last run.
    spare: Vec<Option<Answer>>,
}

/// An answer a machine must see: service, check, answer.
pub type Told = (usize, usize, ProbeResult);

impl Group {
    pub fn new(interval: Duration) -> Self {
        Group {
            interval,
            entries: Vec::new(),
            latest: Latest::default(),
            spare: Vec::new(),
        }
    }

    /// Adds a check; returns its place in `latest`.
    pub fn push(&mut self, svc: usize, check: usize, probe: FileCheck) -> usize {
        self.entries.push(Entry {
            svc,
            check,
            probe,
            told_ok: None,
        });
        lock(&self.latest).push(None);
        self.entries.len() - 1
    }

    /// Runs every check once; returns the answers the machines must see.
    pub fn run(&mut self, watch: &FileWatch, gate: &Gate) -> Vec<Told> {
        let trusted = watch.drain(self.entries.iter_mut().map(|e| &mut e.probe));
        let (wall, mono) = (std::time::SystemTime::now(), Instant::now());
        let mut told = Vec::new();
        // The answers fill last run's table (kept to reuse its memory), which is then swapped
        // in: `status` never waits on a probe, and no run allocates a table.
        let mut answers = std::mem::take(&mut self.spare);
        answers.clear();
        for e in &mut self.entries {
            let a = e.probe.answer(trusted, wall, mono);
            let ok = a.is_ok();
            if !ok || e.told_ok != Some(ok) || gate.wants_all(e.svc) {
                e.told_ok = Some(ok);
                answers.push(Some(a.clone()));
                told.push((e.svc, e.check, a.into_result()));
            } else {
                // Still healthy: kept for status, its detail not written.
                answers.push(Some(a));
            }
        }
        std::mem::swap(&mut *lock(&self.latest), &mut answers);
        self.spare = answers;
        told
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckKind;
    use crate::probe::files::NoFeed;

    #[test]
    fn machines_hear_changes_failures_and_everything_while_not_steady() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("bot.log");
        std::fs::write(&log, "x").unwrap();
        let watch = FileWatch::new(Box::new(NoFeed));
        let kind = CheckKind::LogStale {
            path: log.clone(),
            max_age: Duration::from_secs(60),
        };
        let mut g = Group::new(Duration::from_secs(1));
        let at = g.push(0, 2, FileCheck::new(&kind, &watch).unwrap());
        let gate = Gate::new(1);
        let told = |g: &mut Group| g.run(&watch, &gate).len();

        // Not steady yet (a machine starts wanting everything): told.
        assert_eq!(told(&mut g), 1);
        gate.set(0, false);
        // The first answer was told ok; more of the same is not told, but is kept for status.
        assert_eq!(told(&mut g), 0);
        assert!(lock(&g.latest)[at].as_ref().unwrap().is_ok());
        // Stale: told, every time.
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&log)
            .and_then(|f| f.set_modified(hour_ago))
            .unwrap();
        let t = g.run(&watch, &gate);
        assert_eq!((t.len(), t[0].0, t[0].1), (1, 0, 2));
        assert_eq!(told(&mut g), 1);
        // Healthy again: told once.
        std::fs::write(&log, "y").unwrap();
        assert_eq!(told(&mut g), 1);
        assert_eq!(told(&mut g), 0);
        // The machine wants everything (say, it is confirming a recovery): told.
        gate.set(0, true);
        assert_eq!(told(&mut g), 1);
    }
}
