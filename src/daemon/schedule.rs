//! When checks run: checks due by time, first runs staggered over their interval, and the
//! file-check groups that run as one batch each.

use super::files;
use crate::probe::files::FileCheck;
use std::time::Duration;
use tokio::time::Instant;

/// The checks waiting to run, grouped by when they are due. Checks that ran together come
/// due together again, so a fleet's checks sit in a few groups and taking a tick's worth is
/// one map operation, not one heap operation per check.
#[derive(Default)]
pub(super) struct DueChecks {
    groups: std::collections::BTreeMap<Instant, Vec<(usize, usize)>>,
}

impl DueChecks {
    pub(super) fn push(&mut self, at: Instant, si: usize, ci: usize) {
        self.groups.entry(at).or_default().push((si, ci));
    }

    /// Removes and returns every check due at `now`.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<(usize, usize)> {
        let later = self.groups.split_off(&(now + Duration::from_nanos(1)));
        let due = std::mem::replace(&mut self.groups, later);
        let mut out = Vec::new();
        for (_, mut g) in due {
            out.append(&mut g);
        }
        out
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.groups.keys().next().copied()
    }
}

/// Slots per interval that first runs are spread over (network and counter checks, and
/// file-check groups): enough to smooth the load.
pub(super) const STAGGER_SLOTS: usize = 8;

/// A fixed slot for a check's first run, one of `STAGGER_SLOTS`.
pub(super) fn stagger_slot(si: usize, ci: usize) -> usize {
    (si.wrapping_mul(7919).wrapping_add(ci.wrapping_mul(104_729))) % STAGGER_SLOTS
}

/// A fixed offset within `interval` for a check's first run.
pub(super) fn stagger(si: usize, ci: usize, interval: Duration) -> Duration {
    slot_offset(stagger_slot(si, ci), interval)
}

/// Where `slot` (one of [`STAGGER_SLOTS`], wrapping) starts within `interval`.
pub(super) fn slot_offset(slot: usize, interval: Duration) -> Duration {
    interval.mul_f64((slot % STAGGER_SLOTS) as f64 / STAGGER_SLOTS as f64)
}

/// The file-check groups: one per interval and file system. A fleet's file checks run in a
/// few large batches (each wakes threads once, however many checks it holds), and a file
/// system that hangs stalls only the checks on it.
#[derive(Default)]
pub(super) struct FileGroups {
    /// Each group (`None` while it runs), when it is due, and its `latest` table.
    slots: Vec<(Option<files::Group>, Instant, files::Latest)>,
    by_key: std::collections::HashMap<(Duration, Option<u64>), usize>,
}

impl FileGroups {
    /// Adds a check to its group; returns the group and the check's place in it. Groups
    /// take turns over the first interval from `start` (one of [`STAGGER_SLOTS`] each), so
    /// two groups do not drain the feed at the same instant.
    pub(super) fn add(
        &mut self,
        si: usize,
        ci: usize,
        interval: Duration,
        probe: FileCheck,
        start: Instant,
    ) -> (usize, usize) {
        let next = self.slots.len();
        let gi = *self
            .by_key
            .entry((interval, probe.device()))
            .or_insert(next);
        if gi == next {
            let first = start + slot_offset(gi, interval);
            let g = files::Group::new(interval);
            let latest = g.latest.clone();
            self.slots.push((Some(g), first, latest));
        }
        let place = self.slots[gi]
            .0
            .as_mut()
            .expect("groups are home while the daemon starts")
            .push(si, ci, probe);
        (gi, place)
    }

    /// Takes every group that is due and at home; they are due again one interval on, on
    /// their own grid (a late wake-up does not push later runs back), unless a whole
    /// interval was missed.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<(usize, files::Group)> {
        let mut out = Vec::new();
        for (gi, (group, due, _)) in self.slots.iter_mut().enumerate() {
            if *due <= now {
                if let Some(g) = group.take() {
                    let next = *due + g.interval;
                    *due = if next > now { next } else { now + g.interval };
                    out.push((gi, g));
                }
            }
        }
        out
    }

    pub(super) fn home(&mut self, gi: usize, g: files::Group) {
        self.slots[gi].0 = Some(g);
    }

    /// When the next group at home falls due.
    pub(super) fn next(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|(g, _, _)| g.is_some())
            .map(|(_, due, _)| *due)
            .min()
    }

    /// Every check's vitals in `places`' order: a file check's (whether its last answer passed
    /// and when the newest output it saw was written, no detail written) from its group's
    /// table, locked once per run of checks in the same group; any other's from `machine`.
    pub(super) fn vitals(
        &self,
        places: &[super::beats::Place],
        mut machine: impl FnMut(usize, usize) -> crate::heartbeat::CheckVitals,
    ) -> Vec<crate::heartbeat::CheckVitals> {
        use super::beats::Place;
        let mut held = None;
        places
            .iter()
            .map(|p| match *p {
                Place::File((gi, place)) => {
                    if held.as_ref().is_none_or(|(g, _)| *g != gi) {
                        held = Some((gi, files::lock(&self.slots[gi].2)));
                    }
                    let table = &held.as_ref().expect("locked above").1;
                    table.get(place).and_then(Option::as_ref).map_or_else(
                        Default::default,
                        |a: &crate::probe::files::Answer| crate::heartbeat::CheckVitals {
                            ok: a.passed(),
                            output_at: a.output_at().map(Into::into),
                        },
                    )
                }
                Place::Machine(si, ci) => machine(si, ci),
            })
            .collect()
    }

    /// A file check's last answer, and when the newest output it saw was written.
    pub(super) fn latest(
        &self,
        (gi, place): (usize, usize),
    ) -> Option<(crate::core::machine::Verdict, Option<std::time::SystemTime>)> {
        files::lock(&self.slots[gi].2)
            .get(place)
            .and_then(|a| a.as_ref().map(|a| (a.verdict(), a.output_at())))
    }
}
