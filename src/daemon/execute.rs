//! Carrying out the machines' actions: quick store writes inline, slow work (opening an
//! incident, a restart) in tasks that answer with an event.

use super::open::{do_restart, summary, OpenTask};
use super::runtime::{Event, Shared, Svc};
use crate::core::machine::Action;
use crate::incident::{Incident, StoreError, TimelineEvent};
use chrono::Utc;
use tracing::{error, info, warn};

pub(super) fn event(event: &str, detail: impl Into<String>) -> TimelineEvent {
    TimelineEvent {
        at: Utc::now(),
        event: event.into(),
        detail: detail.into(),
    }
}

pub(super) fn log_store_error(what: &str, e: impl std::fmt::Display) {
    error!(error = %e, "incident store: {what} failed");
}

/// Writes an incident that closes, with its post-mortem queued in the same transaction; an
/// incident held on a dependency has none of its own (the dependency's names every service
/// held on it), so it is only written. Answers whether a post-mortem was queued.
fn closing(
    shared: &Shared,
    incident: &str,
    f: impl FnOnce(&mut Incident),
) -> Result<bool, StoreError> {
    let held = shared
        .store
        .get(incident)?
        .is_some_and(|i| i.caused_by.is_some());
    if held {
        shared.store.update(incident, f).map(|_| false)
    } else {
        shared.store.update_and_enqueue(incident, f).map(|_| true)
    }
}

/// Wakes the post-mortem worker when a post-mortem was queued; logs a refused write.
fn told(shared: &Shared, res: Result<bool, StoreError>, what: &str) {
    match res {
        Ok(true) => shared.postmortems.notify_one(),
        Ok(false) => {}
        Err(e) => log_store_error(what, e),
    }
}

/// Carries out the machine's actions: quick store writes inline, slow work in tasks.
pub(super) fn execute(svc: &mut Svc, si: usize, actions: Vec<Action>, shared: &Shared) {
    for action in actions {
        let name = svc.cfg.name.clone();
        match action {
            Action::OpenIncident {
                failed,
                restart,
                escalate,
                held,
            } => {
                // The incident is named in the log once it is durable (OpenTask), not before.
                warn!(service = %name, failed = %summary(&failed), "unhealthy: capturing evidence");
                let task = OpenTask {
                    si,
                    detected_at: Utc::now(),
                    cfg: svc.cfg.clone(),
                    backend: svc.backend.clone(),
                    seen: svc.seen.clone(),
                    failed,
                    restart,
                    escalate,
                    held,
                    shared: shared.clone(),
                };
                tokio::spawn(task.run());
            }
            Action::Restart {
                incident,
                attempt,
                reason,
            } => {
                info!(service = %name, %incident, attempt, %reason, "restarting again");
                let backend = svc.backend.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let (obs, pid) =
                        do_restart(&shared, backend.as_deref(), &incident, attempt).await;
                    let _ = shared.events.send(Event::Done { svc: si, obs, pid });
                });
            }
            Action::ConfirmRecovery { incident, evidence } => {
                let now = Utc::now();
                let res = closing(shared, &incident, |i| {
                    i.recovered = true;
                    i.recovery_confirmed_at = Some(now);
                    i.recovery_evidence = Some(evidence.clone());
                    i.timeline.push(event(
                        "recovered",
                        format!("recovery confirmed: {evidence}"),
                    ));
                    if let (Some(c), 0) = (&i.caused_by, i.restarts) {
                        i.action = format!(
                            "held: waiting for {}; recovered without a restart",
                            c.dependency
                        );
                    }
                });
                // Said once written (or held), so a kill never loses a logged recovery.
                info!(service = %name, %incident, %evidence, "recovery confirmed");
                told(shared, res, "recording recovery");
                shared.notify(crate::notify::Kind::Recovery, &name, &incident, &evidence);
            }
            Action::Escalate { incident, reason } => {
                let now = Utc::now();
                let res = closing(shared, &incident, |i| {
                    i.escalated_at = Some(now);
                    i.escalation_reason = Some(reason.clone());
                    i.timeline.push(event("escalated", reason.clone()));
                });
                error!(service = %name, %incident, %reason, "escalated: akashic stops restarting this service");
                told(shared, res, "recording escalation");
                shared.notify(crate::notify::Kind::Escalation, &name, &incident, &reason);
            }
            Action::Note {
                incident,
                event: ev,
                detail,
            } => {
                info!(service = %name, %incident, event = ev, %detail);
                if let Err(e) = shared
                    .store
                    .update(&incident, |i| i.timeline.push(event(ev, detail.clone())))
                {
                    log_store_error("adding a timeline note", e);
                }
            }
        }
    }
}
