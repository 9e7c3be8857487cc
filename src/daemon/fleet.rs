//! The runtime side of fleet policy: when a dependency's incident opens or closes, its
//! dependents' machines are told (the decision is theirs and `core::policy`'s); and the facts
//! correlation without configuration is decided on (the endpoints incidents' evidence names).

use super::execute::execute;
use super::mounts::{mount_of, mount_points};
use super::runtime::{Shared, Svc};
use crate::agent::evidence::{severity_of, Severity};
use crate::core::machine::Observation;
use crate::core::policy::{self, Correlation, Seen};
use crate::incident::{Incident, IncidentStore};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

/// What an incident's evidence names that other services may share: `host:port` endpoints,
/// host names, and the file systems of paths a write was refused on (`the file system mounted
/// at /data`, by the mount table `mounts`, never by touching the file system), from its failed
/// checks and the warnings and errors of its log tail (a service's own "listening on" line is
/// not evidence of a failure).
pub(super) fn evidence_endpoints(inc: &Incident, mounts: &[PathBuf]) -> Vec<String> {
    let mut text: Vec<&str> = inc
        .failed_checks
        .iter()
        .map(|c| c.detail.as_str())
        .collect();
    if let Some(tail) = &inc.log_tail {
        text.extend(tail.lines().filter(|l| severity_of(l) >= Severity::Warn));
    }
    let text = text.join("\n");
    let mut named = policy::endpoints(&text);
    named.extend(policy::hosts(&text));
    for path in policy::storage_paths(&text) {
        let mount = mount_of(Path::new(&path), mounts);
        let e = format!("the file system mounted at {}", mount.display());
        if !named.contains(&e) {
            named.push(e);
        }
    }
    named
}

/// The window services must fail within to be one inferred group: ten ticks, at least 30 s.
pub(super) fn correlation_window(tick: Duration) -> Duration {
    (tick * 10).max(Duration::from_secs(30))
}

/// Whether a new incident (not held) joins other services' recent incidents as one group.
pub(super) fn correlate(
    store: &IncidentStore,
    inc: &Incident,
    window: Duration,
) -> Option<Correlation> {
    let mounts = mount_points();
    let mine = evidence_endpoints(inc, &mounts);
    if mine.is_empty() {
        return None;
    }
    let since = inc.detected_at - chrono::Duration::from_std(window).ok()?;
    let recent: Vec<Seen> = match store.list(None) {
        Ok(list) => list
            .into_iter()
            .filter(|i| i.detected_at >= since && i.service != inc.service)
            .map(|i| Seen {
                endpoints: evidence_endpoints(&i, &mounts),
                id: i.id,
                service: i.service,
                at: i.detected_at,
                group: i.group,
            })
            .collect(),
        Err(e) => {
            warn!(error = %crate::errors::chain(&e), "cannot read recent incidents; this one is not correlated");
            return None;
        }
    };
    policy::correlate(&inc.service, inc.detected_at, &mine, &recent, window)
}

/// Tells every service whose blocking dependency changed; returns those told.
pub(super) fn tell_dependents(svcs: &mut [Svc], shared: &Shared) -> Vec<usize> {
    let mut told = Vec::new();
    for si in 0..svcs.len() {
        if svcs[si].needs.is_empty() {
            continue;
        }
        let block = {
            let fleet = &*svcs;
            let needs = &fleet[si].needs;
            policy::blocking(&fleet[si].cfg.depends_on, |d| {
                needs
                    .iter()
                    .map(|&j| &fleet[j])
                    .find(|s| s.cfg.name == d)
                    .and_then(|s| s.machine.incident())
            })
        };
        let svc = &mut svcs[si];
        if block == svc.machine.blocked {
            continue;
        }
        match &block {
            Some(b) => {
                info!(service = %svc.cfg.name, dependency = %b.dependency, incident = %b.incident, "dependency failing: restarts held")
            }
            None => info!(service = %svc.cfg.name, "dependencies healthy again"),
        }
        let actions = svc
            .machine
            .step(Observation::Dependency(block), Instant::now());
        execute(svc, si, actions, shared);
        told.push(si);
    }
    told
}
