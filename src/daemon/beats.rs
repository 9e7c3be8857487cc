//! What the daemon says of itself and its services: the heartbeat touched every tick,
//! `services.json` when a state changes, and the incident store's health.

use super::runtime::{Shared, Svc};
use super::schedule::FileGroups;
use crate::heartbeat::{self, Beat, CheckStatus, CheckVitals, Heartbeat, ServiceStatus, Vitals};
use crate::incident::IncidentStore;
use chrono::Utc;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{error, info, warn};

/// Watches the incident store's hold: writes what is held once the disk takes it again, and
/// says so (log and notification) when writes start and stop being refused.
#[derive(Default)]
pub(super) struct StoreHealth {
    told: bool,
}

impl StoreHealth {
    pub(super) fn tick(&mut self, store: &IncidentStore, shared: &Shared) {
        let Some((reason, held)) = store.degraded() else {
            return;
        };
        match store.flush_held() {
            Ok(written) => {
                info!(
                    written,
                    "incident store writable again: held incidents written"
                );
                if self.told {
                    shared.notify(
                        crate::notify::Kind::Degraded,
                        "akashic",
                        "-",
                        &format!("state_dir writable again; {written} held incidents written"),
                    );
                }
                self.told = false;
            }
            Err(_) if !self.told => {
                error!(%reason, held, "incident store refuses writes (disk full?); akashic keeps watching and restarting, holds incidents in memory, and writes them when it can");
                shared.notify(
                    crate::notify::Kind::Degraded,
                    "akashic",
                    "-",
                    &format!(
                        "incident store refuses writes: {reason}; {held} incidents held in memory"
                    ),
                );
                self.told = true;
            }
            Err(_) => {}
        }
    }

    /// The `degraded` lines of a live `status`.
    pub(super) fn describe(&self, store: &IncidentStore) -> Vec<String> {
        store
            .degraded()
            .map(|(reason, held)| {
                vec![format!(
                    "incident store refuses writes ({reason}); {held} incidents held in memory until it takes them"
                )]
            })
            .unwrap_or_default()
    }
}

/// How often the services' states are rewritten when none of them changed (their details,
/// such as a log's age, still move).
pub(super) const SERVICES_REFRESH: Duration = Duration::from_secs(60);

/// Touches the heartbeat every tick, and writes the services' states when a state, an incident, a
/// pid or a check's ok-ness changed (or every [`SERVICES_REFRESH`]). Changes are noted as
/// they happen ([`Beats::note`], after each step of a machine), so a tick does not walk the
/// fleet.
pub(super) struct Beats {
    state_dir: std::path::PathBuf,
    started_at: chrono::DateTime<Utc>,
    tick: Duration,
    /// Each service's signature as last noted.
    sigs: Vec<u64>,
    /// A signature changed since `services.json` was last written.
    changed: bool,
    /// When a service's label changes with time alone (its grace or recovered spell ends).
    label_at: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Each service's time in `label_at`, so a machine stepping often pushes it once.
    label_next: Vec<Option<Instant>>,
    /// Each service's label as last noted: it changes only when the machine steps or its
    /// `label_next` time comes, so `/metrics`' vitals read it here instead of walking every
    /// machine.
    labels: Vec<&'static str>,
    /// Where each check's vitals come from, in [`Vitals::checks`]' order: its file group's
    /// table, else its service's machine (fixed once the daemon started).
    places: Vec<Place>,
    /// When `services.json` was last written.
    last: Option<Instant>,
    /// This daemon's beat is on disk (ticks since only touch it).
    written: bool,
}

impl Beats {
    pub(super) fn new(
        state_dir: &std::path::Path,
        started_at: chrono::DateTime<Utc>,
        tick: Duration,
        svcs: &[Svc],
        now: Instant,
    ) -> Self {
        let mut b = Beats {
            state_dir: state_dir.to_path_buf(),
            started_at,
            tick,
            sigs: vec![0; svcs.len()],
            changed: true,
            label_at: BinaryHeap::new(),
            label_next: vec![None; svcs.len()],
            labels: vec!["starting"; svcs.len()],
            places: svcs
                .iter()
                .enumerate()
                .flat_map(|(si, s)| {
                    s.files.iter().enumerate().map(move |(ci, f)| match f {
                        Some(at) => Place::File(*at),
                        None => Place::Machine(si, ci),
                    })
                })
                .collect(),
            last: None,
            written: false,
        };
        for (si, svc) in svcs.iter().enumerate() {
            b.note(si, svc, now);
        }
        b
    }

    /// After service `si`'s machine stepped (or its label's time came).
    pub(super) fn note(&mut self, si: usize, svc: &Svc, now: Instant) {
        let label = svc.machine.label(now);
        self.labels[si] = label;
        let sig = signature(svc, label);
        if self.sigs[si] != sig {
            self.sigs[si] = sig;
            self.changed = true;
        }
        let next = svc.machine.label_changes_at(now);
        if next != self.label_next[si] {
            self.label_next[si] = next;
            if let Some(t) = next {
                self.label_at.push(Reverse((t, si)));
            }
        }
    }

    pub(super) fn tick(&mut self, svcs: &[Svc], groups: &FileGroups, now: Instant) {
        while let Some(Reverse((t, si))) = self.label_at.peek().copied() {
            if t > now {
                break;
            }
            self.label_at.pop();
            // Stale entries (the service's time moved on) are skipped.
            if self.label_next[si] == Some(t) {
                self.label_next[si] = None;
                self.note(si, &svcs[si], now);
            }
        }
        let stale = self.changed
            || self
                .last
                .is_none_or(|at| now.saturating_duration_since(at) >= SERVICES_REFRESH);
        if stale {
            match heartbeat::write_services(&self.state_dir, &services_of(svcs, groups, now)) {
                Ok(()) => {
                    self.last = Some(now);
                    self.changed = false;
                }
                Err(e) => warn!(error = %e, "cannot write the services' states"),
            }
        }
        // The beat is written once, then touched (written again if it went missing).
        let beat = if self.written {
            heartbeat::touch_beat(&self.state_dir)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        };
        if beat.is_err() {
            self.written = heartbeat::write_beat(&self.state_dir, &self.beat(None))
                .inspect_err(|e| warn!(error = %e, "cannot write heartbeat"))
                .is_ok();
        }
    }

    pub(super) fn stop(&mut self, svcs: &[Svc], groups: &FileGroups, now: Instant) {
        let services = heartbeat::write_services(&self.state_dir, &services_of(svcs, groups, now));
        let beat = heartbeat::write_beat(&self.state_dir, &self.beat(Some(Utc::now())));
        if let Err(e) = services.and(beat) {
            warn!(error = %e, "cannot write the last heartbeat");
        }
    }

    pub(super) fn beat(&self, stopped_at: Option<chrono::DateTime<Utc>>) -> Beat {
        Beat {
            pid: std::process::id(),
            started_at: self.started_at,
            at: Utc::now(),
            tick_ms: self.tick.as_millis() as u64,
            stopped_at,
        }
    }

    /// Each service's state and its checks' ok-ness and output times, as `/metrics` shows them:
    /// what [`services_of`] says without a detail, read from the kept labels and the file
    /// groups' tables, so a scrape costs the loop a copy, not a walk of every machine.
    pub(super) fn vitals(&self, svcs: &[Svc], groups: &FileGroups, now: Instant) -> Vitals {
        let states = self
            .labels
            .iter()
            .zip(&self.label_next)
            .enumerate()
            .map(|(si, (label, next))| match next {
                // its time came and the tick has not noted it yet
                Some(t) if *t <= now => svcs[si].machine.label(now),
                _ => label,
            })
            .collect();
        let checks = groups.vitals(&self.places, |si, ci| {
            match svcs[si].machine.last.get(ci).and_then(Option::as_ref) {
                Some(r) => CheckVitals {
                    ok: (!r.verdict.is_blind()).then(|| r.verdict.is_ok()),
                    output_at: match r.progress {
                        Some(crate::core::machine::Progress::At(t)) => Some(t),
                        _ => None,
                    },
                },
                None => CheckVitals::default(),
            }
        });
        Vitals { states, checks }
    }

    /// The live view `status` asks for.
    pub(super) fn heartbeat(&self, svcs: &[Svc], groups: &FileGroups, now: Instant) -> Heartbeat {
        Heartbeat {
            degraded: Vec::new(),
            beat: self.beat(None),
            services: services_of(svcs, groups, now),
        }
    }
}

/// Where a check's vitals come from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place {
    /// Its file group and its place in the group's table.
    File((usize, usize)),
    /// Its service and its index there: the machine's last answer.
    Machine(usize, usize),
}

/// A hash of what `services.json` says of a service apart from its checks' details.
pub(super) fn signature(s: &Svc, label: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::fnv::Fnv::default();
    label.hash(&mut h);
    s.machine.incident().hash(&mut h);
    s.pid.hash(&mut h);
    for r in &s.machine.last {
        r.as_ref().map(|r| r.verdict.is_ok()).hash(&mut h);
    }
    h.finish()
}

/// Each service's state; a file check's detail is its group's latest answer (the machine
/// hears only changes), any other check's is the machine's last answer.
pub(super) fn services_of(svcs: &[Svc], groups: &FileGroups, now: Instant) -> Vec<ServiceStatus> {
    svcs.iter()
        .map(|s| ServiceStatus {
            name: s.cfg.name.clone(),
            state: s.machine.label(now).to_string(),
            incident: s.machine.incident().map(str::to_string),
            pid: s.pid,
            checks: s
                .cfg
                .checks
                .iter()
                .enumerate()
                .map(|(ci, c)| {
                    let (last, output_at) = match s.files[ci] {
                        Some(at) => groups.latest(at).map_or((None, None), |(v, t)| {
                            (Some(v), t.map(chrono::DateTime::<chrono::Utc>::from))
                        }),
                        None => match s.machine.last.get(ci).cloned().flatten() {
                            Some(r) => match r.progress {
                                Some(crate::core::machine::Progress::At(t)) => {
                                    (Some(r.verdict), Some(t))
                                }
                                _ => (Some(r.verdict), None),
                            },
                            None => (None, None),
                        },
                    };
                    CheckStatus {
                        kind: c.kind.name().to_string(),
                        // A blind answer (akashic could not look) is neither ok nor failed.
                        ok: last.as_ref().filter(|v| !v.is_blind()).map(|v| v.is_ok()),
                        detail: last.map(|v| v.detail().to_string()).unwrap_or_else(|| {
                            format!("{}: not run yet", crate::probe::describe(&c.kind))
                        }),
                        output_at,
                    }
                })
                .collect(),
        })
        .collect()
}
