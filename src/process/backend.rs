//! Picks a service's restart backend from its config.

use std::path::Path;

use tokio::sync::mpsc::UnboundedSender;

use super::child::ChildControl;
use super::command::CommandControl;
use super::launchd::LaunchdControl;
use super::systemd::SystemdControl;
use super::{ExitEvent, ProcessControl, Tools};
use crate::config::{RestartSpec, ServiceConfig};

/// The backend for a service, or None when it has no `[service.restart]`.
/// Exits of an owned child that akashic did not cause are sent on `exits`.
pub fn backend_for(
    svc: &ServiceConfig,
    state_dir: &Path,
    exits: UnboundedSender<ExitEvent>,
) -> Option<Box<dyn ProcessControl>> {
    let backend: Box<dyn ProcessControl> = match svc.restart.as_ref()? {
        RestartSpec::Child(spec) => Box::new(ChildControl::new(
            &svc.name,
            spec.clone(),
            state_dir,
            svc.leave_running,
            exits,
        )),
        RestartSpec::Launchd { label, .. } => {
            Box::new(LaunchdControl::new(label, Tools::default()))
        }
        RestartSpec::Systemd { unit, user, .. } => {
            Box::new(SystemdControl::new(unit, *user, Tools::default()))
        }
        RestartSpec::Command { run } => {
            Box::new(CommandControl::new(run.clone(), Tools::default()))
        }
    };
    Some(backend)
}
