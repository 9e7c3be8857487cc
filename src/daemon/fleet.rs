//! The runtime side of held restarts: when a dependency's incident opens or closes, its
//! dependents' machines are told (the decision is theirs and `core::policy`'s).

use super::execute::execute;
use super::runtime::{Shared, Svc};
use crate::core::machine::Observation;
use crate::core::policy;
use tokio::time::Instant;
use tracing::info;

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
