//! Opening an incident: evidence first (bounded), then a durable write, then the restart.

use super::evidence::{self, Seen};
use super::execute::{event, log_store_error};
use super::fleet;
use super::recur;
use super::runtime::{Event, Shared};
use crate::config::{RecurrenceAction, ServiceConfig};
use crate::core::machine::Observation;
use crate::core::policy::{self as fleet_policy, Block};
use crate::errors::chain;
use crate::incident::{CausedBy, FailedCheck, Incident, TimelineEvent};
use crate::process::ProcessControl;
use chrono::Utc;
use std::sync::Arc;
use tracing::{error, info, warn};

pub(super) fn summary(failed: &[FailedCheck]) -> String {
    failed
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Opening an incident: evidence first (bounded), then a durable write, then the restart.
pub(super) struct OpenTask {
    pub(super) si: usize,
    /// When the machine decided (not when this task got a thread: on a busy runtime that
    /// can be later).
    pub(super) detected_at: chrono::DateTime<Utc>,
    pub(super) cfg: ServiceConfig,
    pub(super) backend: Option<Arc<dyn ProcessControl>>,
    pub(super) seen: Seen,
    pub(super) failed: Vec<FailedCheck>,
    pub(super) restart: bool,
    pub(super) escalate: Option<String>,
    /// The restart is held on a failing dependency.
    pub(super) held: Option<Block>,
    pub(super) shared: Shared,
}

impl OpenTask {
    pub(super) async fn run(self) {
        let detected_at = self.detected_at;
        let started = tokio::time::Instant::now();
        let process = evidence::process_state(&self.cfg, self.backend.as_deref(), &self.seen).await;
        let forensics =
            evidence::forensics(process.pid, process.running, self.shared.forensics_budget).await;
        let log_tail = self.cfg.log_path().and_then(|p| evidence::log_tail(p));
        let id = crate::incident::store::new_id(detected_at);
        let mut timeline = vec![TimelineEvent {
            at: detected_at,
            event: "detected".into(),
            detail: summary(&self.failed),
        }];
        timeline.push(event(
            "evidence",
            format!(
                "process {}; port {}; last HTTP {}{}",
                match (process.running, process.pid) {
                    (Some(true), Some(pid)) => format!("running (pid {pid})"),
                    (Some(false), Some(pid)) => format!("not running (pid {pid} gone)"),
                    _ => "state unknown".into(),
                },
                match process.port_bound {
                    Some(true) => "bound",
                    Some(false) => "not bound",
                    None => "unknown",
                },
                process
                    .http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "none".into()),
                forensics
                    .as_ref()
                    .map(|f| format!(
                        "; forensics by {} in {}ms{}",
                        f.method,
                        f.took_ms,
                        if f.truncated { " (truncated)" } else { "" }
                    ))
                    .unwrap_or_default()
            ),
        ));
        let mut inc = Incident {
            id: id.clone(),
            service: self.cfg.name.clone(),
            detected_at,
            failed_checks: self.failed.clone(),
            process,
            forensics,
            log_tail,
            action: if self.restart {
                "restart pending".into()
            } else {
                "none".into()
            },
            restarts: 0,
            restarted_at: None,
            recovered: false,
            recovery_confirmed_at: None,
            recovery_evidence: None,
            escalated_at: None,
            escalation_reason: None,
            timeline,
            postmortem: None,
            pattern: None,
            caused_by: None,
            group: None,
        };
        // The pattern, read inline from what was just captured (the classifier, never the
        // model), in what is left of the forensics budget.
        let left = self
            .shared
            .forensics_budget
            .saturating_sub(started.elapsed());
        let category = recur::category_at_detection(&inc, &self.shared.signatures, left).await;
        let stored = recur::stored(&self.shared.store, &self.cfg.name);
        let past = recur::history(&stored, &id);
        let reading = recur::read(category, &inc, &past, &self.cfg.on_recurrence);
        if reading.pattern.count > 1 {
            inc.timeline.push(event(
                "pattern",
                format!(
                    "{} incident of pattern {category} in the last {} days (before: {})",
                    recur::ordinal(reading.pattern.count),
                    reading.pattern.within_days,
                    reading.pattern.previous.join(", ")
                ),
            ));
        }
        // A pattern that keeps coming back while its recommendation is still open is said
        // first, in the timeline and in the news of this incident.
        let open_rec =
            recur::open_recommendation(&stored, &self.shared.state_dir, &inc, &reading.pattern)
                .map(|r| {
                    crate::digest::render::recurring_open_line(
                        &r,
                        i64::from(reading.pattern.within_days),
                    )
                });
        if let Some(line) = &open_rec {
            inc.timeline
                .push(event("open_recommendation", line.clone()));
        }
        inc.pattern = Some(reading.pattern);
        let mut escalate = self.escalate.clone();
        if self.cfg.dependency && escalate.is_some() {
            escalate = Some("observed only: a [[dependency]] is watched, never restarted".into());
        }
        let mut remedy = None;
        let mut recurring = None;
        if let Some(block) = &self.held {
            inc.action = format!("held: waiting for {}", block.dependency);
            inc.caused_by = Some(CausedBy {
                dependency: block.dependency.clone(),
                incident: block.incident.clone(),
            });
            inc.group = Some(group_of(&block.incident));
            inc.timeline.push(event(
                "held",
                format!(
                    "{} has an open incident ({}): restart held until it is healthy again; no restart budget spent",
                    block.dependency, block.incident
                ),
            ));
        } else if let (true, Some((index, rule, count))) = (self.restart, &reading.rule) {
            let said = recur::describe(*index, rule, *count, category);
            inc.timeline.push(event("recurrence", said.clone()));
            match &rule.then {
                RecurrenceAction::Restart => inc.action = "restart pending (recurring)".into(),
                RecurrenceAction::Notify => recurring = Some(said),
                RecurrenceAction::Remedy { run, cwd, timeout } => {
                    inc.action = "remedy, then restart (recurring)".into();
                    remedy = Some((run.clone(), cwd.clone(), *timeout));
                }
                RecurrenceAction::Escalate => {
                    escalate = Some(format!(
                    "{said}: not restarted again; a person should look at why it keeps coming back"
                ))
                }
            }
        }
        // Correlation without configuration: other services that failed just before, naming
        // the same endpoint, are one fleet group (nothing is held for it).
        let opening = self
            .shared
            .opening
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let correlated = match &self.held {
            Some(_) => None,
            None => fleet::correlate(&self.shared.store, &inc, self.shared.correlation_window),
        };
        if let Some(c) = &correlated {
            inc.group = Some(c.group.clone());
            inc.timeline.push(event(
                "correlated",
                format!(
                    "{} other incident(s) within {} name {} too: one fleet group ({}); nothing is held for an inferred group",
                    c.members.len(),
                    crate::config::bounds::show(self.shared.correlation_window),
                    c.endpoint,
                    c.group
                ),
            ));
        }
        let by_rule = self.restart && escalate.is_some();
        if let Some(reason) = &escalate {
            inc.action = format!("none (escalated: {reason})");
            inc.escalated_at = Some(Utc::now());
            inc.escalation_reason = Some(reason.clone());
            inc.timeline.push(event("escalated", reason.clone()));
        }
        // Facts first: durable before any restart or slow work. A dependency's post-mortem
        // waits for its recovery, when every service held on it is known.
        let postmortem_now = escalate.is_some() && !self.cfg.dependency;
        let written = if postmortem_now {
            self.shared.store.put_and_enqueue(&inc)
        } else {
            self.shared.store.put(&inc)
        };
        match written {
            Ok(crate::incident::store::Durability::Durable) => {
                warn!(service = %self.cfg.name, incident = %id, "incident opened")
            }
            Ok(crate::incident::store::Durability::Held) => {
                error!(service = %self.cfg.name, incident = %id, "incident opened but not yet on disk (held in memory until the store takes writes again)")
            }
            Err(e) => log_store_error("writing a new incident", e),
        }
        drop(opening);
        if let Some(block) = &self.held {
            info!(service = %self.cfg.name, incident = %id, dependency = %block.dependency, "restart held: waiting for a dependency");
            let (group, name, me) = (group_of(&block.incident), self.cfg.name.clone(), id.clone());
            let linked = self.shared.store.update(&block.incident, |i| {
                i.group.get_or_insert(group.clone());
                i.timeline.push(event(
                    "dependent_held",
                    format!("{name} failed while this was down; its restart is held ({me})"),
                ));
            });
            if let Err(e) = linked {
                log_store_error("linking a held incident to its dependency", e);
            }
        }
        if let Some(c) = &correlated {
            info!(service = %self.cfg.name, incident = %id, group = %c.group, endpoint = %c.endpoint, "correlated with other services' incidents");
            join_group(&self.shared, c, &self.cfg.name, &id);
        }
        if let (Some(reason), false) = (&escalate, self.cfg.dependency) {
            error!(service = %self.cfg.name, incident = %id, %reason, "escalated: akashic stops restarting this service");
        }
        if postmortem_now {
            self.shared.postmortems.notify_one();
        }
        // [living] Incident opened (or escalated at once): tell the operator, after the
        // durable write. A held incident is the dependency's news, told once there.
        match (&escalate, &self.held) {
            (Some(reason), _) => {
                self.shared
                    .notify(crate::notify::Kind::Escalation, &self.cfg.name, &id, reason)
            }
            (None, Some(_)) => {}
            (None, None) => self.shared.notify(
                crate::notify::Kind::Incident,
                &self.cfg.name,
                &id,
                &[
                    open_rec.as_deref(),
                    recurring
                        .map(|said| format!("recurring: {said}"))
                        .as_deref(),
                    Some(&summary(&self.failed)),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; "),
            ),
        }
        let (obs, pid) = if by_rule {
            (Observation::EscalatedByRule { incident: id }, None)
        } else if self.restart {
            if let Some((run, cwd, timeout)) = remedy {
                let said = recur::run_remedy(&run, cwd.as_ref(), timeout).await;
                info!(service = %self.cfg.name, incident = %id, remedy = %said, "remedy ran before the restart");
                if let Err(e) = self
                    .shared
                    .store
                    .update(&id, |i| i.timeline.push(event("remedy", said.clone())))
                {
                    log_store_error("recording a remedy", e);
                }
            }
            do_restart(&self.shared, self.backend.as_deref(), &id, 1).await
        } else {
            (Observation::Opened { incident: id }, None)
        };
        let _ = self.shared.events.send(Event::Done {
            svc: self.si,
            obs,
            pid,
        });
    }
}

/// Tags the other members of an inferred group, and has the group's post-mortem (its first
/// incident's) name this service too.
fn join_group(shared: &Shared, c: &fleet_policy::Correlation, service: &str, id: &str) {
    for member in &c.members {
        let linked = shared.store.update(member, |i| {
            if i.group.is_none() {
                i.group = Some(c.group.clone());
            }
            i.timeline.push(event(
                "correlated",
                format!("{service} failed too, naming {} ({id})", c.endpoint),
            ));
        });
        if let Err(e) = linked {
            log_store_error("joining an inferred group", e);
        }
    }
    let lead = c.group.trim_start_matches("grp-");
    if let Ok(Some(i)) = shared.store.get(lead) {
        if i.postmortem.is_some() {
            match shared.store.update_and_enqueue(lead, |_| {}) {
                Ok(_) => shared.postmortems.notify_one(),
                Err(e) => log_store_error("queueing the group's post-mortem again", e),
            }
        }
    }
}

/// The fleet group of the services held on a dependency's incident.
pub(super) fn group_of(dependency_incident: &str) -> String {
    format!("grp-{dependency_incident}")
}

/// Kills and restarts, and records it in the incident.
pub(super) async fn do_restart(
    shared: &Shared,
    backend: Option<&dyn ProcessControl>,
    incident: &str,
    attempt: u32,
) -> (Observation, Option<u32>) {
    let Some(b) = backend else {
        let obs = Observation::Restarted {
            incident: incident.into(),
            ok: false,
            detail: "no restart backend".into(),
            wall: Utc::now(),
        };
        return (obs, None);
    };
    let res = b.restart().await;
    let wall = Utc::now();
    let (ok, detail) = match &res {
        Ok(what) => (true, what.clone()),
        Err(e) => (false, chain(e)),
    };
    let update = shared.store.update(incident, |i| {
        if ok {
            i.action = detail.clone();
            i.restarts = attempt;
            i.restarted_at = Some(wall);
            i.timeline
                .push(event("restart", format!("restart #{attempt}: {detail}")));
        } else {
            i.action = format!("restart failed: {detail}");
            i.timeline.push(event(
                "restart_failed",
                format!("restart #{attempt} failed: {detail}"),
            ));
        }
    });
    if let Err(e) = update {
        log_store_error("recording a restart", e);
    }
    let pid = if ok { b.pid().await } else { None };
    let obs = Observation::Restarted {
        incident: incident.into(),
        ok,
        detail,
        wall,
    };
    (obs, pid)
}
