//! From a service's config to the state machine's parameters.

use crate::config::{ArtifactSpec, CheckKind, ServiceConfig};
use crate::core::machine::{CheckRole, Params};

pub fn params_for(svc: &ServiceConfig) -> Params {
    Params {
        grace: svc.grace,
        recovery_window: svc.recovery_window,
        budget_max: svc.restart_budget.max,
        budget_within: svc.restart_budget.within,
        can_restart: svc.restart.is_some(),
        checks: svc
            .checks
            .iter()
            .map(|c| CheckRole {
                kind: c.kind.name(),
                failures: c.failures,
                progress: c.kind.is_progress(),
                artifact: matches!(c.kind, CheckKind::Artifact(_)),
                min_growth: match &c.kind {
                    CheckKind::Artifact(
                        ArtifactSpec::SqliteCount { min_growth, .. }
                        | ArtifactSpec::Command { min_growth, .. },
                    ) => *min_growth,
                    _ => 1,
                },
            })
            .collect(),
    }
}
