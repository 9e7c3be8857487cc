//! The per-service state machine: one pure function from (state, observation, now) to actions.
//!
//! It owns debouncing (`failures`), grace, the recovery window and the restart budget
//! with exponential backoff. It never reads a clock, a file or a socket.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

use crate::core::policy::Block;
use crate::incident::FailedCheck;

/// Index of a check within its service.
pub type CheckId = usize;

/// Proof that a service produces: the newest output's time, or a counter.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    At(DateTime<Utc>),
    Count(i64),
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok {
        detail: String,
    },
    Unhealthy {
        failure: &'static str,
        detail: String,
    },
    /// akashic could not look (its own resource error, e.g. too many open files): says
    /// nothing about the service, so it neither counts as a failure nor as a pass.
    Blind {
        detail: String,
    },
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Ok { .. })
    }
    pub fn is_blind(&self) -> bool {
        matches!(self, Verdict::Blind { .. })
    }
    /// Masks every secret of a known shape in its detail.
    pub fn redact(&mut self) {
        match self {
            Verdict::Ok { detail }
            | Verdict::Unhealthy { detail, .. }
            | Verdict::Blind { detail } => crate::agent::redact::redact_in_place(detail),
        }
    }
    pub fn detail(&self) -> &str {
        match self {
            Verdict::Ok { detail }
            | Verdict::Unhealthy { detail, .. }
            | Verdict::Blind { detail } => detail,
        }
    }
}

/// A probe's answer about one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub check: CheckId,
    pub verdict: Verdict,
    pub progress: Option<Progress>,
}

/// A fact fed into the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A probe answered.
    Check(Report),
    /// Time passed; sent at the machine's deadlines.
    Tick,
    /// The restart asked for was carried out (or failed).
    Restarted {
        incident: String,
        ok: bool,
        detail: String,
        wall: DateTime<Utc>,
    },
    /// The incident asked for was written without a restart.
    Opened { incident: String },
    /// A supervised child exited on its own.
    Exited { detail: String },
    /// A person asked akashic to resume an escalated service.
    Resume,
    /// What holds this service's restarts now: a dependency with an open incident, or
    /// nothing (every dependency is healthy again). Sent when it changes.
    Dependency(Option<Block>),
    /// An `on_recurrence` rule said escalate instead of restarting: the restart asked for
    /// was not carried out.
    EscalatedByRule { incident: String },
}

/// A command for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Capture evidence, write a new incident durably, then restart if `restart`;
    /// answer with `Restarted` (restart) or `Opened` (no restart).
    OpenIncident {
        failed: Vec<FailedCheck>,
        restart: bool,
        escalate: Option<String>,
        /// The restart is held: a dependency is failing (no restart, no budget spent).
        held: Option<Block>,
    },
    /// Kill and restart again within an open incident; answer with `Restarted`.
    Restart {
        incident: String,
        attempt: u32,
        reason: String,
    },
    /// New output after the restart proved recovery.
    ConfirmRecovery { incident: String, evidence: String },
    /// Stop restarting and tell a person.
    Escalate { incident: String, reason: String },
    /// Add a line to an incident's timeline.
    Note {
        incident: String,
        event: &'static str,
        detail: String,
    },
}

/// What the machine needs to know of each check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRole {
    pub kind: &'static str,
    pub failures: u32,
    /// log_stale or artifact: needs time to show progress.
    pub progress: bool,
    pub artifact: bool,
    /// For counters: growth that proves recovery.
    pub min_growth: i64,
}

/// A service's fixed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub grace: Duration,
    pub recovery_window: Duration,
    pub budget_max: u32,
    pub budget_within: Duration,
    pub can_restart: bool,
    pub checks: Vec<CheckRole>,
}

/// Backoff before the n-th restart of a window (n counts restarts already done): 0, 2s, 4s, 8s ... 5m.
pub fn backoff(done: usize) -> Duration {
    if done == 0 {
        return Duration::ZERO;
    }
    let secs = 2u64.saturating_pow(done.min(16) as u32);
    Duration::from_secs(secs.min(300))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Checks run; failures outside grace count.
    Watching {
        grace_until: Instant,
        recovered_at: Option<Instant>,
    },
    /// The runtime is opening an incident and/or restarting.
    Restarting { incident: Option<String> },
    /// Waiting before the next restart of an incident.
    Backoff {
        incident: String,
        until: Instant,
        attempt: u32,
        reason: String,
    },
    /// Restarted; waiting for new output to prove recovery.
    Confirming {
        incident: String,
        restarted_wall: DateTime<Utc>,
        grace_until: Instant,
        window_until: Instant,
        attempt: u32,
        /// Progress per check before the restart, for counters.
        baseline: Vec<Option<Progress>>,
        /// Per check: the proof of new output, once seen.
        proof: Vec<Option<String>>,
    },
    /// Failed while a dependency was failing: the restart is held, no budget is spent.
    Held {
        incident: Option<String>,
        dependency: String,
    },
    /// The dependency is healthy again: recovered on its own by `until` (every check
    /// answering ok since), or restarted then.
    Released {
        incident: Option<String>,
        dependency: String,
        until: Instant,
    },
    /// No more restarts until `until` (budget refills) or a person resumes.
    Escalated {
        incident: Option<String>,
        until: Option<Instant>,
    },
}

/// One service's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub params: Params,
    pub phase: Phase,
    /// Consecutive failures per check.
    pub streak: Vec<u32>,
    /// Last report per check.
    pub last: Vec<Option<Report>>,
    /// Restart times inside the budget window.
    pub restarts: VecDeque<Instant>,
    /// The process exited on its own and was not started again since: passing checks (a log
    /// written just before it died) do not make such a service recovered.
    pub down: bool,
    /// A failing dependency holding this service's restarts.
    pub blocked: Option<Block>,
}

impl Machine {
    /// A service just started being watched: grace applies from `now`.
    pub fn new(params: Params, now: Instant) -> Self {
        let n = params.checks.len();
        Machine {
            phase: Phase::Watching {
                grace_until: now + params.grace,
                recovered_at: None,
            },
            params,
            streak: vec![0; n],
            last: vec![None; n],
            restarts: VecDeque::new(),
            down: false,
            blocked: None,
        }
    }

    /// A service resumed mid-incident after akashic itself restarted.
    pub fn resume_confirming(
        params: Params,
        now: Instant,
        incident: String,
        restarted_wall: DateTime<Utc>,
        attempt: u32,
    ) -> Self {
        let mut m = Machine::new(params, now);
        let n = m.params.checks.len();
        m.phase = Phase::Confirming {
            incident,
            restarted_wall,
            grace_until: now + m.params.grace,
            window_until: now + m.params.recovery_window,
            attempt,
            baseline: vec![None; n],
            proof: vec![None; n],
        };
        m
    }

    /// A machine for a service whose incident was escalated before akashic restarted: it
    /// stays escalated until `until` (when its restart budget would have refilled; never
    /// for a service akashic cannot restart) or until a person resumes it.
    pub fn resume_escalated(
        params: Params,
        now: Instant,
        incident: String,
        until: Option<Instant>,
    ) -> Self {
        let mut m = Machine::new(params, now);
        m.phase = Phase::Escalated {
            incident: Some(incident),
            until: until.filter(|_| m.params.can_restart && m.params.budget_max > 0),
        };
        m
    }

    /// The status word shown by `akashic status`.
    pub fn label(&self, now: Instant) -> &'static str {
        match &self.phase {
            Phase::Watching {
                grace_until,
                recovered_at,
            } => {
                // Failing answers not yet counted (they came in grace) still say failing once
                // grace is over: after `resume`, checks that still fail are not "healthy".
                let unhealthy = self
                    .last
                    .iter()
                    .flatten()
                    .any(|r| matches!(r.verdict, Verdict::Unhealthy { .. }));
                if self.streak.iter().any(|s| *s > 0) || (unhealthy && now >= *grace_until) {
                    "failing"
                } else if recovered_at.is_some_and(|t| now < t + self.params.recovery_window) {
                    "recovered"
                } else if now < *grace_until {
                    "starting"
                } else {
                    "healthy"
                }
            }
            Phase::Restarting { .. } | Phase::Backoff { .. } => "restarting",
            Phase::Confirming { .. } => "confirming",
            Phase::Held { .. } | Phase::Released { .. } => "held",
            Phase::Escalated { .. } => "escalated",
        }
    }

    /// When [`Machine::label`] next changes with time alone (a grace period or a recovered
    /// spell ending); `None` when only a step can change it.
    pub fn label_changes_at(&self, now: Instant) -> Option<Instant> {
        match &self.phase {
            Phase::Watching {
                grace_until,
                recovered_at,
            } if self.streak.iter().all(|s| *s == 0) => {
                let recovered_until = recovered_at.map(|t| t + self.params.recovery_window);
                [recovered_until, Some(*grace_until)]
                    .into_iter()
                    .flatten()
                    .filter(|t| *t > now)
                    .min()
            }
            _ => None,
        }
    }

    /// Watching with every check passing: an answer that is still ok changes nothing here
    /// (the daemon then keeps such answers from the machine).
    pub fn steady(&self) -> bool {
        matches!(self.phase, Phase::Watching { .. }) && self.streak.iter().all(|s| *s == 0)
    }

    /// The open incident, if any.
    pub fn incident(&self) -> Option<&str> {
        match &self.phase {
            Phase::Restarting { incident }
            | Phase::Escalated { incident, .. }
            | Phase::Held { incident, .. }
            | Phase::Released { incident, .. } => incident.as_deref(),
            Phase::Backoff { incident, .. } | Phase::Confirming { incident, .. } => Some(incident),
            Phase::Watching { .. } => None,
        }
    }

    /// When the machine next needs a `Tick`.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Backoff { until, .. } => Some(*until),
            Phase::Confirming { window_until, .. } => Some(*window_until),
            Phase::Escalated { until, .. } => *until,
            Phase::Released { until, .. } => Some(*until),
            _ => None,
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(t) = self.restarts.front() {
            if now.duration_since(*t) >= self.params.budget_within {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
    }

    fn budget_left(&mut self, now: Instant) -> bool {
        self.prune(now);
        self.params.can_restart && (self.restarts.len() as u32) < self.params.budget_max
    }

    fn refill_at(&self) -> Option<Instant> {
        if !self.params.can_restart || self.params.budget_max == 0 {
            return None;
        }
        self.restarts
            .front()
            .map(|t| *t + self.params.budget_within)
    }

    fn exhausted_reason(&self) -> String {
        if !self.params.can_restart {
            "no restart is configured for this service".into()
        } else {
            format!(
                "restart budget spent ({} restart attempts within {})",
                self.params.budget_max,
                humantime::format_duration(self.params.budget_within)
            )
        }
    }

    fn failed_checks(&self) -> Vec<FailedCheck> {
        self.last
            .iter()
            .flatten()
            .filter_map(|r| match &r.verdict {
                Verdict::Unhealthy { failure, detail } => Some(FailedCheck {
                    kind: self.params.checks[r.check].kind.to_string(),
                    failure: Some(failure.to_string()),
                    detail: detail.clone(),
                }),
                Verdict::Ok { .. } | Verdict::Blind { .. } => None,
            })
            .collect()
    }

    fn record(&mut self, r: Report) {
        if r.check >= self.streak.len() {
            return;
        }
        self.streak[r.check] = match r.verdict {
            Verdict::Ok { .. } => 0,
            Verdict::Unhealthy { .. } => self.streak[r.check] + 1,
            // Nothing was seen: the streak stands as it was.
            Verdict::Blind { .. } => self.streak[r.check],
        };
        let check = r.check;
        self.last[check] = Some(r);
    }

    fn tripped(&self, only_liveness: bool) -> bool {
        self.streak
            .iter()
            .zip(&self.params.checks)
            .any(|(s, c)| *s >= c.failures && !(only_liveness && c.progress))
    }

    /// Opens an incident for a fresh failure: held while a dependency fails; else restart if
    /// the budget allows, else escalate.
    fn detect(&mut self, failed: Vec<FailedCheck>, now: Instant) -> Vec<Action> {
        if let Some(block) = self.blocked.clone() {
            self.phase = Phase::Held {
                incident: None,
                dependency: block.dependency.clone(),
            };
            return vec![Action::OpenIncident {
                failed,
                restart: false,
                escalate: None,
                held: Some(block),
            }];
        }
        if self.budget_left(now) {
            self.restarts.push_back(now);
            self.phase = Phase::Restarting { incident: None };
            vec![Action::OpenIncident {
                failed,
                restart: true,
                escalate: None,
                held: None,
            }]
        } else {
            let reason = self.exhausted_reason();
            self.phase = Phase::Escalated {
                incident: None,
                until: self.refill_at(),
            };
            vec![Action::OpenIncident {
                failed,
                restart: false,
                escalate: Some(reason),
                held: None,
            }]
        }
    }

    /// A restart within an incident failed to bring the service back: back off, or escalate.
    fn retry(&mut self, incident: String, attempt: u32, why: String, now: Instant) -> Vec<Action> {
        if let Some(block) = self.blocked.clone() {
            // Restarting into a failing dependency only spends the budget: hold instead.
            self.phase = Phase::Held {
                incident: Some(incident.clone()),
                dependency: block.dependency.clone(),
            };
            return vec![Action::Note {
                incident,
                event: "held",
                detail: format!("{why}; restart held: waiting for {}", block.dependency),
            }];
        }
        if self.budget_left(now) {
            let wait = backoff(self.restarts.len());
            self.phase = Phase::Backoff {
                incident: incident.clone(),
                until: now + wait,
                attempt: attempt + 1,
                reason: why.clone(),
            };
            vec![Action::Note {
                incident,
                event: "backoff",
                detail: format!(
                    "{why}; restart #{} in {}",
                    attempt + 1,
                    humantime::format_duration(wait)
                ),
            }]
        } else {
            let reason = format!("{why}; {}", self.exhausted_reason());
            self.phase = Phase::Escalated {
                incident: Some(incident.clone()),
                until: self.refill_at(),
            };
            vec![Action::Escalate { incident, reason }]
        }
    }

    fn watch_fresh(&mut self, now: Instant) {
        self.streak.iter_mut().for_each(|s| *s = 0);
        self.phase = Phase::Watching {
            grace_until: now + self.params.grace,
            recovered_at: None,
        };
    }

    /// The one place a service's state changes.
    pub fn step(&mut self, obs: Observation, now: Instant) -> Vec<Action> {
        match &obs {
            Observation::Exited { .. } => self.down = true,
            Observation::Restarted { ok: true, .. } => self.down = false,
            Observation::Dependency(block) => {
                self.blocked = block.clone();
                return self.dependency_changed(now);
            }
            _ => {}
        }
        match (self.phase.clone(), obs) {
            // ---- watching ----
            (Phase::Watching { grace_until, .. }, Observation::Check(r)) => {
                if now < grace_until && !r.verdict.is_ok() {
                    // Failures inside grace do not count; remember the answer only.
                    if let Some(slot) = self.last.get_mut(r.check) {
                        *slot = Some(r);
                    }
                    return vec![];
                }
                self.record(r);
                if self.tripped(false) {
                    let failed = self.failed_checks();
                    return self.detect(failed, now);
                }
                vec![]
            }
            (Phase::Watching { .. }, Observation::Exited { detail }) => {
                let mut failed = vec![FailedCheck {
                    kind: "exited".into(),
                    failure: Some("exited".into()),
                    detail,
                }];
                failed.extend(self.failed_checks());
                self.detect(failed, now)
            }

            // ---- restarting ----
            (
                Phase::Restarting { .. },
                Observation::Restarted {
                    incident,
                    ok,
                    detail,
                    wall,
                },
            ) => {
                let attempt = self.restarts.len() as u32;
                if ok {
                    let n = self.params.checks.len();
                    let baseline = self
                        .last
                        .iter()
                        .map(|r| r.as_ref().and_then(|r| r.progress.clone()))
                        .collect();
                    self.streak.iter_mut().for_each(|s| *s = 0);
                    self.phase = Phase::Confirming {
                        incident,
                        restarted_wall: wall,
                        grace_until: now + self.params.grace,
                        window_until: now + self.params.recovery_window,
                        attempt,
                        baseline,
                        proof: vec![None; n],
                    };
                    vec![]
                } else {
                    self.retry(incident, attempt, format!("restart failed: {detail}"), now)
                }
            }
            (
                Phase::Restarting { .. }
                | Phase::Escalated { incident: None, .. }
                | Phase::Held { incident: None, .. }
                | Phase::Released { incident: None, .. },
                Observation::Opened { incident },
            ) => {
                match &mut self.phase {
                    Phase::Escalated { incident: i, .. }
                    | Phase::Held { incident: i, .. }
                    | Phase::Released { incident: i, .. } => *i = Some(incident),
                    _ => {}
                }
                vec![]
            }
            (Phase::Restarting { .. }, Observation::EscalatedByRule { incident }) => {
                // The restart slot taken at detection was not used.
                self.restarts.pop_back();
                self.phase = Phase::Escalated {
                    incident: Some(incident),
                    until: None,
                };
                vec![]
            }

            // ---- held on a dependency ----
            (
                Phase::Released {
                    incident,
                    dependency,
                    until,
                },
                Observation::Check(r),
            ) => {
                if let Some(slot) = self.last.get_mut(r.check) {
                    *slot = Some(r);
                }
                let all_ok = self.all_ok();
                match incident {
                    Some(incident) if all_ok && !self.down => {
                        self.streak.iter_mut().for_each(|s| *s = 0);
                        self.phase = Phase::Watching {
                            grace_until: now,
                            recovered_at: Some(now),
                        };
                        vec![Action::ConfirmRecovery {
                            incident,
                            evidence: format!(
                                "{dependency} healthy again and every check passes without a restart: {}",
                                self.details()
                            ),
                        }]
                    }
                    incident => {
                        self.phase = Phase::Released {
                            incident,
                            dependency,
                            until,
                        };
                        vec![]
                    }
                }
            }
            (
                Phase::Released {
                    incident: Some(incident),
                    dependency,
                    until,
                },
                Observation::Tick,
            ) if now >= until => {
                let why = format!(
                    "{dependency} is healthy again but the service did not recover on its own within its grace ({})",
                    humantime::format_duration(self.params.grace)
                );
                if self.budget_left(now) {
                    self.restarts.push_back(now);
                    self.phase = Phase::Restarting {
                        incident: Some(incident.clone()),
                    };
                    vec![Action::Restart {
                        incident,
                        attempt: 1,
                        reason: why,
                    }]
                } else {
                    let reason = format!("{why}; {}", self.exhausted_reason());
                    self.phase = Phase::Escalated {
                        incident: Some(incident.clone()),
                        until: self.refill_at(),
                    };
                    vec![Action::Escalate { incident, reason }]
                }
            }

            // ---- backoff ----
            (
                Phase::Backoff {
                    incident,
                    until,
                    attempt,
                    reason,
                },
                Observation::Tick,
            ) if now >= until => {
                if self.budget_left(now) {
                    self.restarts.push_back(now);
                    self.phase = Phase::Restarting {
                        incident: Some(incident.clone()),
                    };
                    vec![Action::Restart {
                        incident,
                        attempt,
                        reason,
                    }]
                } else {
                    let reason = self.exhausted_reason();
                    self.phase = Phase::Escalated {
                        incident: Some(incident.clone()),
                        until: self.refill_at(),
                    };
                    vec![Action::Escalate { incident, reason }]
                }
            }

            // ---- confirming ----
            (
                Phase::Confirming {
                    incident,
                    restarted_wall,
                    grace_until,
                    window_until,
                    attempt,
                    baseline,
                    mut proof,
                },
                Observation::Check(r),
            ) => {
                let in_grace = now < grace_until;
                if in_grace && !r.verdict.is_ok() {
                    if let Some(slot) = self.last.get_mut(r.check) {
                        *slot = Some(r);
                    }
                    return vec![];
                }
                self.record(r.clone());
                if let Some(role) = self.params.checks.get(r.check).filter(|role| role.progress) {
                    let grew = match (&r.progress, baseline.get(r.check).cloned().flatten()) {
                        (Some(Progress::At(t)), _) => *t > restarted_wall,
                        (Some(Progress::Count(n)), Some(Progress::Count(b))) => {
                            n - b >= role.min_growth
                        }
                        _ => false,
                    };
                    // An answer that is ok replaces the proof, so the evidence quotes the
                    // answer that confirmed recovery; a stale one only stands in for none.
                    if grew && (r.verdict.is_ok() || proof[r.check].is_none()) {
                        proof[r.check] = Some(match (&r.verdict, &r.progress) {
                            (Verdict::Ok { detail }, _) => format!("{}: {detail}", role.kind),
                            // Written after the restart, stale now: akashic was not there
                            // (it was itself restarting) while the service produced.
                            (_, Some(Progress::At(t))) => format!(
                                "{}: written at {} after the restart, stopped since",
                                role.kind,
                                t.format("%H:%M:%S")
                            ),
                            _ => format!("{}: grew after the restart, stopped since", role.kind),
                        });
                    }
                }
                // A liveness failure (or a crash) during confirmation: restart again, with backoff.
                if self.tripped(true) {
                    let why = match &r.verdict {
                        Verdict::Unhealthy { detail, .. } => {
                            format!("still failing after restart: {detail}")
                        }
                        Verdict::Ok { .. } | Verdict::Blind { .. } => {
                            "still failing after restart".into()
                        }
                    };
                    return self.retry(incident, attempt, why, now);
                }
                let needed = self.proof_needed();
                let all_ok = self.all_ok();
                let proven = needed.iter().all(|c| proof[*c].is_some());
                // Output after the restart that has stopped again: it recovered, and the
                // checks failing now are a new failure for `Watching` to detect.
                let stopped_again = !all_ok
                    && self.last.iter().enumerate().all(|(c, r)| {
                        r.as_ref().is_some_and(|r| {
                            r.verdict.is_ok()
                                || matches!(r.verdict, Verdict::Unhealthy { .. })
                                    && self.params.checks.get(c).is_some_and(|k| k.progress)
                        })
                    });
                // Recovered means new output and staying up through the grace period.
                if (all_ok || stopped_again) && proven && !in_grace {
                    let evidence = if needed.is_empty() {
                        "all checks passing after restart".to_string()
                    } else {
                        needed
                            .iter()
                            .filter_map(|c| proof[*c].clone())
                            .collect::<Vec<_>>()
                            .join("; ")
                    };
                    self.phase = Phase::Watching {
                        grace_until: now,
                        recovered_at: Some(now),
                    };
                    return vec![Action::ConfirmRecovery { incident, evidence }];
                }
                self.phase = Phase::Confirming {
                    incident,
                    restarted_wall,
                    grace_until,
                    window_until,
                    attempt,
                    baseline,
                    proof,
                };
                vec![]
            }
            (
                Phase::Confirming {
                    incident, attempt, ..
                },
                Observation::Exited { detail },
            ) => self.retry(
                incident,
                attempt,
                format!("exited after restart: {detail}"),
                now,
            ),
            (
                Phase::Confirming {
                    incident,
                    window_until,
                    ..
                },
                Observation::Tick,
            ) if now >= window_until => {
                let reason = format!(
                    "no new output within the recovery window ({}) after restart",
                    humantime::format_duration(self.params.recovery_window)
                );
                self.phase = Phase::Escalated {
                    incident: Some(incident.clone()),
                    until: self.refill_at(),
                };
                vec![Action::Escalate { incident, reason }]
            }

            // ---- escalated ----
            (Phase::Escalated { incident, until }, Observation::Tick)
                if until.is_some_and(|u| now >= u) =>
            {
                self.prune(now);
                self.watch_fresh(now);
                incident
                    .map(|incident| {
                        vec![Action::Note {
                            incident,
                            event: "budget_refilled",
                            detail: "restart budget refilled; watching again".into(),
                        }]
                    })
                    .unwrap_or_default()
            }
            (Phase::Escalated { incident, .. }, Observation::Resume) => {
                self.restarts.clear();
                self.watch_fresh(now);
                incident
                    .map(|incident| {
                        vec![Action::Note {
                            incident,
                            event: "resumed",
                            detail: "a person resumed the service; restart budget reset".into(),
                        }]
                    })
                    .unwrap_or_default()
            }
            (Phase::Escalated { incident, .. }, Observation::Check(r)) => {
                // The answers do not drive restarts now; they are kept for `status`, and
                // when every check passes again (a person fixed it, or it came back by
                // itself) the incident is resolved and the service watched again. Restarts
                // stay limited by the budget, which a fresh failure meets in `detect`.
                if let Some(slot) = self.last.get_mut(r.check) {
                    *slot = Some(r);
                }
                let all_ok = self.all_ok();
                match incident {
                    Some(incident) if all_ok && !self.down => {
                        self.streak.iter_mut().for_each(|s| *s = 0);
                        self.phase = Phase::Watching {
                            grace_until: now,
                            recovered_at: Some(now),
                        };
                        vec![Action::ConfirmRecovery {
                            incident,
                            evidence: "every check passes again, without a restart by akashic"
                                .into(),
                        }]
                    }
                    _ => vec![],
                }
            }

            // Anything else is stale or irrelevant in this phase.
            (_, Observation::Check(r)) => {
                if let Some(slot) = self.last.get_mut(r.check) {
                    *slot = Some(r);
                }
                vec![]
            }
            _ => vec![],
        }
    }

    /// A dependency started or stopped failing: a held service is released (it has its grace
    /// to recover on its own), a released one held again.
    fn dependency_changed(&mut self, now: Instant) -> Vec<Action> {
        match (self.phase.clone(), self.blocked.clone()) {
            (
                Phase::Held {
                    incident,
                    dependency,
                },
                None,
            ) => {
                // Only answers from now on tell whether it recovered on its own.
                self.last.iter_mut().for_each(|r| *r = None);
                self.phase = Phase::Released {
                    incident,
                    dependency,
                    until: now + self.params.grace,
                };
                vec![]
            }
            (Phase::Released { incident, .. }, Some(block)) => {
                self.phase = Phase::Held {
                    incident,
                    dependency: block.dependency,
                };
                vec![]
            }
            _ => vec![],
        }
    }

    /// Each check's last answer, for recovery evidence.
    fn details(&self) -> String {
        self.last
            .iter()
            .flatten()
            .map(|r| {
                format!(
                    "{}: {}",
                    self.params.checks[r.check].kind,
                    r.verdict.detail()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Checks whose new output proves recovery: artifact checks, else log_stale checks.
    /// Whether every check's last answer passed (a check not yet run has not).
    fn all_ok(&self) -> bool {
        self.last
            .iter()
            .all(|r| r.as_ref().is_some_and(|r| r.verdict.is_ok()))
    }

    fn proof_needed(&self) -> Vec<CheckId> {
        let artifacts: Vec<CheckId> = (0..self.params.checks.len())
            .filter(|c| self.params.checks[*c].artifact)
            .collect();
        if !artifacts.is_empty() {
            return artifacts;
        }
        (0..self.params.checks.len())
            .filter(|c| self.params.checks[*c].progress)
            .collect()
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
