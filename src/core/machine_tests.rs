//! Table tests of the state machine with a fake clock: no sleeps, no I/O.

use super::*;
use chrono::TimeZone;

const LOG: CheckId = 0;
const HTTP: CheckId = 1;
const OUT: CheckId = 2;

fn params() -> Params {
    Params {
        grace: Duration::from_secs(30),
        recovery_window: Duration::from_secs(300),
        budget_max: 3,
        budget_within: Duration::from_secs(3600),
        can_restart: true,
        checks: vec![
            CheckRole {
                kind: "log_stale",
                failures: 1,
                progress: true,
                artifact: false,
                min_growth: 1,
            },
            CheckRole {
                kind: "http",
                failures: 2,
                progress: false,
                artifact: false,
                min_growth: 1,
            },
            CheckRole {
                kind: "artifact",
                failures: 1,
                progress: true,
                artifact: true,
                min_growth: 1,
            },
        ],
    }
}

fn wall(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

fn ok(check: CheckId, at: Option<i64>) -> Observation {
    Observation::Check(Report {
        check,
        verdict: Verdict::Ok {
            detail: "fine".into(),
        },
        progress: at.map(|s| Progress::At(wall(s))),
    })
}

fn bad(check: CheckId, failure: &'static str) -> Observation {
    Observation::Check(Report {
        check,
        verdict: Verdict::Unhealthy {
            failure,
            detail: format!("{failure} detail"),
        },
        progress: None,
    })
}

/// A clock that only moves when told.
struct Clock(Instant);
impl Clock {
    fn at(&self, s: u64) -> Instant {
        self.0 + Duration::from_secs(s)
    }
}

fn opened(actions: &[Action]) -> Option<(bool, Option<String>, Vec<String>)> {
    actions.iter().find_map(|a| match a {
        Action::OpenIncident {
            failed,
            restart,
            escalate,
            ..
        } => Some((
            *restart,
            escalate.clone(),
            failed.iter().map(|f| f.kind.clone()).collect(),
        )),
        _ => None,
    })
}

fn restarted(m: &mut Machine, at: Instant, incident: &str, wall_s: i64) -> Vec<Action> {
    m.step(
        Observation::Restarted {
            incident: incident.into(),
            ok: true,
            detail: "restarted".into(),
            wall: wall(wall_s),
        },
        at,
    )
}

#[test]
fn failures_inside_grace_do_not_count() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    assert_eq!(m.label(c.at(1)), "starting");
    assert!(m.step(bad(LOG, "stale"), c.at(10)).is_empty());
    assert!(m.step(bad(OUT, "stale"), c.at(29)).is_empty());
    assert_eq!(m.streak, vec![0, 0, 0]);
    let acts = m.step(bad(LOG, "stale"), c.at(31));
    assert_eq!(
        opened(&acts),
        Some((true, None, vec!["log_stale".into(), "artifact".into()]))
    );
}

#[test]
fn debounce_needs_consecutive_failures() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    // http needs 2 in a row; an ok in between resets the streak.
    assert!(m.step(bad(HTTP, "refused"), c.at(40)).is_empty());
    assert_eq!(m.label(c.at(40)), "failing");
    assert!(m.step(ok(HTTP, None), c.at(41)).is_empty());
    assert!(m.step(bad(HTTP, "refused"), c.at(42)).is_empty());
    let acts = m.step(bad(HTTP, "timeout"), c.at(43));
    let (restart, esc, kinds) = opened(&acts).expect("incident opened");
    assert!(restart && esc.is_none());
    assert_eq!(kinds, vec!["http"]);
    assert_eq!(m.label(c.at(43)), "restarting");
}

#[test]
fn seed_scenario_recovery_needs_new_output_after_restart() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(ok(OUT, Some(-5)), c.at(40));
    assert_eq!(m.label(c.at(40)), "healthy");
    let acts = m.step(bad(OUT, "stale"), c.at(100));
    assert!(opened(&acts).is_some());
    assert!(restarted(&mut m, c.at(101), "inc-1", 101).is_empty());
    assert_eq!(m.label(c.at(101)), "confirming");
    // The process is up and answers, but the newest output predates the restart: not recovered.
    m.step(ok(HTTP, None), c.at(105));
    m.step(ok(LOG, Some(102)), c.at(105));
    assert!(m.step(ok(OUT, Some(90)), c.at(106)).is_empty());
    assert_eq!(m.label(c.at(106)), "confirming");
    // New output after the restart, but still inside the grace period: not yet.
    assert!(m.step(ok(OUT, Some(110)), c.at(111)).is_empty());
    assert_eq!(m.label(c.at(111)), "confirming");
    // Past grace, with new output written after the restart: recovered.
    let acts = m.step(ok(OUT, Some(130)), c.at(132));
    assert_eq!(
        acts,
        vec![Action::ConfirmRecovery {
            incident: "inc-1".into(),
            evidence: "artifact: fine".into()
        }]
    );
    assert_eq!(m.label(c.at(133)), "recovered");
    assert_eq!(m.label(c.at(132 + 301)), "healthy");
}

#[test]
fn the_label_says_when_time_alone_will_change_it() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    // Starting until grace ends (30 s).
    assert_eq!(m.label_changes_at(c.at(1)), Some(c.at(30)));
    assert_eq!(m.label(c.at(30)), "healthy");
    assert_eq!(m.label_changes_at(c.at(30)), None);
    // Failing: only a step changes that.
    m.step(bad(HTTP, "refused"), c.at(40));
    assert_eq!(m.label_changes_at(c.at(40)), None);
    m.step(ok(HTTP, None), c.at(41));
    // Recovered after a restart: until the recovery window (300 s) is over.
    m.step(ok(OUT, Some(-5)), c.at(42));
    m.step(bad(OUT, "stale"), c.at(100));
    restarted(&mut m, c.at(101), "inc-1", 101);
    assert_eq!(m.label_changes_at(c.at(105)), None);
    m.step(ok(HTTP, None), c.at(132));
    m.step(ok(LOG, Some(130)), c.at(132));
    m.step(ok(OUT, Some(130)), c.at(132));
    assert_eq!(m.label(c.at(133)), "recovered");
    let until = m.label_changes_at(c.at(133)).unwrap();
    assert_eq!(m.label(until - Duration::from_millis(1)), "recovered");
    assert_eq!(m.label(until), "healthy");
    assert_eq!(m.label_changes_at(until), None);
}

#[test]
fn restart_that_produces_nothing_escalates_when_the_window_ends() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(bad(OUT, "stale"), c.at(40));
    restarted(&mut m, c.at(41), "inc-2", 41);
    // Stale artifact results during confirmation neither restart again nor confirm.
    for s in [80, 120, 200, 300] {
        assert!(m.step(ok(HTTP, None), c.at(s)).is_empty());
        assert!(m.step(bad(OUT, "stale"), c.at(s)).is_empty());
    }
    assert_eq!(m.next_deadline(), Some(c.at(41 + 300)));
    assert!(m.step(Observation::Tick, c.at(340)).is_empty());
    let acts = m.step(Observation::Tick, c.at(341));
    match &acts[..] {
        [Action::Escalate { incident, reason }] => {
            assert_eq!(incident, "inc-2");
            assert_eq!(
                reason,
                "no new output within the recovery window (5m) after restart"
            );
        }
        other => panic!("expected escalation, got {other:?}"),
    }
    assert_eq!(m.label(c.at(342)), "escalated");
}

#[test]
fn crash_loop_backs_off_then_escalates_without_a_storm() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    let exited = || Observation::Exited {
        detail: "exited with code 1".into(),
    };
    let acts = m.step(exited(), c.at(1));
    assert_eq!(
        opened(&acts).map(|o| o.0),
        Some(true),
        "a crash counts even inside grace"
    );
    restarted(&mut m, c.at(1), "inc-3", 1);
    // Second crash: backoff 2s before restart #2.
    let acts = m.step(exited(), c.at(2));
    assert!(
        matches!(
            &acts[..],
            [Action::Note {
                event: "backoff",
                ..
            }]
        ),
        "{acts:?}"
    );
    assert!(
        m.step(Observation::Tick, c.at(3)).is_empty(),
        "no restart before the backoff ends"
    );
    let acts = m.step(Observation::Tick, c.at(4));
    assert!(
        matches!(&acts[..], [Action::Restart { attempt: 2, .. }]),
        "{acts:?}"
    );
    restarted(&mut m, c.at(4), "inc-3", 4);
    // Third crash: backoff 4s.
    m.step(exited(), c.at(5));
    assert_eq!(m.next_deadline(), Some(c.at(9)));
    let acts = m.step(Observation::Tick, c.at(9));
    assert!(
        matches!(&acts[..], [Action::Restart { attempt: 3, .. }]),
        "{acts:?}"
    );
    restarted(&mut m, c.at(9), "inc-3", 9);
    // Fourth crash: the budget (3 within 1h) is spent.
    let acts = m.step(exited(), c.at(10));
    match &acts[..] {
        [Action::Escalate { incident, reason }] => {
            assert_eq!(incident, "inc-3");
            assert!(
                reason.ends_with("restart budget spent (3 restart attempts within 1h)"),
                "{reason}"
            );
        }
        other => panic!("expected escalation, got {other:?}"),
    }
    // Escalated: more crashes and failures do nothing until the window passes.
    assert!(m.step(exited(), c.at(20)).is_empty());
    assert!(m.step(bad(HTTP, "refused"), c.at(21)).is_empty());
    assert!(m.step(bad(HTTP, "refused"), c.at(22)).is_empty());
    assert_eq!(m.next_deadline(), Some(c.at(1 + 3600)));
    assert!(m.step(Observation::Tick, c.at(3000)).is_empty());
    let acts = m.step(Observation::Tick, c.at(3601));
    assert!(matches!(
        &acts[..],
        [Action::Note {
            event: "budget_refilled",
            ..
        }]
    ));
    assert_eq!(m.label(c.at(3601)), "starting");
}

#[test]
fn a_person_can_resume_an_escalated_service() {
    let c = Clock(Instant::now());
    let mut p = params();
    p.budget_max = 1;
    let mut m = Machine::new(p, c.at(0));
    m.step(bad(OUT, "stale"), c.at(40));
    restarted(&mut m, c.at(40), "inc-4", 40);
    m.step(Observation::Tick, c.at(400));
    assert_eq!(m.label(c.at(400)), "escalated");
    let acts = m.step(Observation::Resume, c.at(500));
    assert!(matches!(
        &acts[..],
        [Action::Note {
            event: "resumed",
            ..
        }]
    ));
    assert_eq!(m.label(c.at(500)), "starting");
    // The budget was reset: the next failure restarts again.
    let acts = m.step(bad(OUT, "stale"), c.at(600));
    assert_eq!(opened(&acts).map(|o| o.0), Some(true));
}

#[test]
fn no_restart_configured_opens_an_escalated_incident() {
    let c = Clock(Instant::now());
    let mut p = params();
    p.can_restart = false;
    let mut m = Machine::new(p, c.at(0));
    let acts = m.step(bad(LOG, "stale"), c.at(40));
    assert_eq!(
        opened(&acts),
        Some((
            false,
            Some("no restart is configured for this service".into()),
            vec!["log_stale".into()]
        ))
    );
    m.step(
        Observation::Opened {
            incident: "inc-5".into(),
        },
        c.at(40),
    );
    assert_eq!(m.incident(), Some("inc-5"));
    assert_eq!(m.next_deadline(), None, "only a person can resume it");
}

#[test]
fn a_failed_restart_is_retried_with_backoff() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(bad(OUT, "stale"), c.at(40));
    let acts = m.step(
        Observation::Restarted {
            incident: "inc-6".into(),
            ok: false,
            detail: "launchctl exited with 113".into(),
            wall: wall(40),
        },
        c.at(40),
    );
    match &acts[..] {
        [Action::Note { detail, .. }] => assert_eq!(
            detail,
            "restart failed: launchctl exited with 113; restart #2 in 2s"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn counters_prove_recovery_by_growth_since_the_restart() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    let count = |n| {
        Observation::Check(Report {
            check: OUT,
            verdict: Verdict::Ok {
                detail: format!("count {n}"),
            },
            progress: Some(Progress::Count(n)),
        })
    };
    m.step(count(10), c.at(40));
    m.step(bad(LOG, "stale"), c.at(50));
    restarted(&mut m, c.at(50), "inc-7", 50);
    m.step(ok(HTTP, None), c.at(55));
    m.step(ok(LOG, Some(54)), c.at(55));
    assert!(m.step(count(10), c.at(81)).is_empty(), "no growth yet");
    let acts = m.step(count(11), c.at(82));
    assert!(
        matches!(&acts[..], [Action::ConfirmRecovery { .. }]),
        "{acts:?}"
    );
}

#[test]
fn services_without_artifacts_recover_by_a_fresh_log() {
    let c = Clock(Instant::now());
    let mut p = params();
    p.checks.truncate(2);
    let mut m = Machine::new(p, c.at(0));
    m.step(bad(LOG, "stale"), c.at(40));
    restarted(&mut m, c.at(41), "inc-8", 41);
    m.step(ok(HTTP, None), c.at(72));
    assert!(
        m.step(ok(LOG, Some(30)), c.at(73)).is_empty(),
        "old log lines do not count"
    );
    let acts = m.step(ok(LOG, Some(44)), c.at(75));
    assert!(
        matches!(&acts[..], [Action::ConfirmRecovery { evidence, .. }] if evidence == "log_stale: fine")
    );
}

#[test]
fn liveness_failures_after_restart_trigger_another_restart() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(bad(OUT, "stale"), c.at(40));
    restarted(&mut m, c.at(41), "inc-9", 41);
    // Inside grace: ignored.
    assert!(m.step(bad(HTTP, "refused"), c.at(50)).is_empty());
    assert!(m.step(bad(HTTP, "refused"), c.at(51)).is_empty());
    // Outside grace, twice in a row (failures = 2).
    assert!(m.step(bad(HTTP, "refused"), c.at(80)).is_empty());
    let acts = m.step(bad(HTTP, "refused"), c.at(81));
    assert!(
        matches!(
            &acts[..],
            [Action::Note {
                event: "backoff",
                ..
            }]
        ),
        "{acts:?}"
    );
}

#[test]
fn resuming_after_akashic_restarts_continues_the_same_incident() {
    let c = Clock(Instant::now());
    let mut m = Machine::resume_confirming(params(), c.at(0), "inc-10".into(), wall(-60), 1);
    assert_eq!(m.incident(), Some("inc-10"));
    m.step(ok(HTTP, None), c.at(31));
    m.step(ok(LOG, Some(1)), c.at(31));
    let acts = m.step(ok(OUT, Some(2)), c.at(32));
    assert!(
        matches!(&acts[..], [Action::ConfirmRecovery { incident, .. }] if incident == "inc-10")
    );
}

fn stale(check: CheckId, at: i64) -> Observation {
    Observation::Check(Report {
        check,
        verdict: Verdict::Unhealthy {
            failure: "stale",
            detail: "stale detail".into(),
        },
        progress: Some(Progress::At(wall(at))),
    })
}

#[test]
fn output_after_the_restart_that_stopped_while_akashic_was_away_is_a_recovery() {
    // akashic died after the restart at -60 and came back at 0: the service wrote at -30,
    // then stopped. It recovered; what fails now is a new failure, not this incident's.
    let c = Clock(Instant::now());
    let mut m = Machine::resume_confirming(params(), c.at(0), "inc-11".into(), wall(-60), 1);
    m.step(ok(HTTP, None), c.at(31));
    m.step(stale(LOG, -31), c.at(31));
    let acts = m.step(stale(OUT, -30), c.at(31));
    let [Action::ConfirmRecovery { incident, evidence }] = &acts[..] else {
        panic!("{acts:?}");
    };
    assert_eq!(incident, "inc-11");
    assert!(
        evidence.contains("after the restart, stopped since"),
        "{evidence}"
    );
    assert_eq!(m.label(c.at(31)), "failing");
}

#[test]
fn output_only_from_before_the_restart_is_no_recovery() {
    let c = Clock(Instant::now());
    let mut m = Machine::resume_confirming(params(), c.at(0), "inc-12".into(), wall(-60), 1);
    m.step(ok(HTTP, None), c.at(31));
    m.step(stale(LOG, -61), c.at(31));
    assert!(m.step(stale(OUT, -90), c.at(31)).is_empty());
    // A failing check that is not about output keeps it unproven too.
    let mut h = Machine::resume_confirming(params(), c.at(0), "inc-13".into(), wall(-60), 1);
    h.step(bad(HTTP, "status"), c.at(31));
    h.step(stale(LOG, -31), c.at(31));
    assert!(!h
        .step(stale(OUT, -30), c.at(31))
        .iter()
        .any(|a| matches!(a, Action::ConfirmRecovery { .. })));
    let acts = m.step(Observation::Tick, c.at(301));
    assert!(matches!(&acts[..], [Action::Escalate { .. }]), "{acts:?}");
}

#[test]
fn backoff_doubles_and_is_capped() {
    let v: Vec<u64> = (0..12).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(v, vec![0, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
}

#[test]
fn an_escalation_held_across_an_akashic_restart_stays_until_its_budget_refills() {
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(600);
    let mut m = Machine::resume_escalated(params(), t0, "inc-1".into(), Some(until));
    assert_eq!(m.label(t0), "escalated");
    assert_eq!(m.incident(), Some("inc-1"));
    assert_eq!(m.next_deadline(), Some(until));
    // Still failing: no new incident, no restart.
    for s in [1, 10, 100] {
        assert!(m
            .step(bad(LOG, "stale"), t0 + Duration::from_secs(s))
            .is_empty());
    }
    assert!(m
        .step(Observation::Tick, t0 + Duration::from_secs(599))
        .is_empty());
    let a = m.step(Observation::Tick, until);
    assert!(
        matches!(&a[..], [Action::Note { event: "budget_refilled", incident, .. }] if incident == "inc-1"),
        "{a:?}"
    );
    assert_eq!(m.label(until), "starting");
}

#[test]
fn an_observe_only_escalation_held_across_an_akashic_restart_waits_for_a_person() {
    let t0 = Instant::now();
    let mut p = params();
    p.can_restart = false;
    let mut m = Machine::resume_escalated(p, t0, "inc-1".into(), Some(t0));
    assert_eq!(m.next_deadline(), None);
    assert!(m
        .step(Observation::Tick, t0 + Duration::from_secs(3600))
        .is_empty());
    assert_eq!(m.label(t0 + Duration::from_secs(3600)), "escalated");
    let a = m.step(Observation::Resume, t0 + Duration::from_secs(3601));
    assert!(
        matches!(
            &a[..],
            [Action::Note {
                event: "resumed",
                ..
            }]
        ),
        "{a:?}"
    );
}

#[test]
fn an_escalated_incident_is_resolved_when_every_check_passes_again() {
    let c = Clock(Instant::now());
    let mut p = params();
    p.can_restart = false;
    let mut m = Machine::new(p, c.at(0));
    m.step(ok(HTTP, None), c.at(31));
    m.step(ok(OUT, Some(31)), c.at(31));
    m.step(bad(LOG, "stale"), c.at(40));
    m.step(
        Observation::Opened {
            incident: "inc-6".into(),
        },
        c.at(40),
    );
    // Still failing, or failing elsewhere: held.
    assert!(m.step(bad(LOG, "stale"), c.at(41)).is_empty());
    assert!(m.step(bad(OUT, "stale"), c.at(42)).is_empty());
    assert!(m.step(ok(LOG, Some(43)), c.at(43)).is_empty());
    assert_eq!(m.label(c.at(43)), "escalated");
    // A person fixed it: every check passes, and no restart was made.
    let acts = m.step(ok(OUT, Some(44)), c.at(44));
    assert!(
        matches!(&acts[..], [Action::ConfirmRecovery { incident, evidence }]
            if incident == "inc-6" && evidence.contains("without a restart")),
        "{acts:?}"
    );
    assert_eq!(m.label(c.at(45)), "recovered");
    assert_eq!(m.incident(), None);
    // A fresh failure opens a fresh incident (escalated again: nothing to restart with).
    let acts = m.step(bad(LOG, "stale"), c.at(50));
    assert_eq!(opened(&acts).map(|(restart, ..)| restart), Some(false));
}

#[test]
fn a_crash_loop_that_escalated_is_not_called_recovered_by_passing_checks() {
    let c = Clock(Instant::now());
    let mut p = params();
    p.budget_max = 1;
    let mut m = Machine::new(p, c.at(0));
    let exited = || Observation::Exited {
        detail: "exited with code 1".into(),
    };
    m.step(exited(), c.at(1));
    restarted(&mut m, c.at(1), "inc-7", 1);
    let acts = m.step(exited(), c.at(2));
    assert!(matches!(&acts[..], [Action::Escalate { .. }]), "{acts:?}");
    // The log was written just before the crash, the port answers from a stale socket: every
    // check passes, but the process is not running.
    for (check, at) in [(LOG, 3), (HTTP, 3), (OUT, 3)] {
        let acts = m.step(ok(check, Some(at)), c.at(3));
        assert!(acts.is_empty(), "a dead service is not recovered: {acts:?}");
    }
    assert_eq!(m.label(c.at(4)), "escalated");
    // Started again by a person (resume) and then passing: recovered as usual.
    m.step(Observation::Resume, c.at(5));
    assert_eq!(m.label(c.at(5)), "starting");
}

#[test]
fn a_probe_that_could_not_look_neither_fails_nor_passes_a_check() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    let blind = |check| {
        Observation::Check(Report {
            check,
            verdict: Verdict::Blind {
                detail: "akashic could not look: Too many open files".into(),
            },
            progress: None,
        })
    };
    m.step(ok(OUT, Some(31)), c.at(31));
    m.step(ok(LOG, Some(31)), c.at(31));
    // http needs 2 failures in a row: blind answers between them neither count nor reset.
    for s in 32..60 {
        assert!(m.step(blind(HTTP), c.at(s)).is_empty(), "blind at {s}");
    }
    assert_eq!(m.label(c.at(60)), "healthy");
    assert!(m.step(bad(HTTP, "refused"), c.at(61)).is_empty());
    assert!(m.step(blind(HTTP), c.at(62)).is_empty());
    let acts = m.step(bad(HTTP, "refused"), c.at(63));
    assert!(
        opened(&acts).is_some(),
        "two real failures still open an incident: {acts:?}"
    );
}

/// Regression: the recovery evidence logged at the end of grace quoted the first answer
/// that showed new output (inside grace), not the answer that confirmed recovery.
#[test]
fn recovery_evidence_quotes_the_answer_that_confirmed_it() {
    let out = |at: i64, detail: &str| {
        Observation::Check(Report {
            check: OUT,
            verdict: Verdict::Ok {
                detail: detail.into(),
            },
            progress: Some(Progress::At(wall(at))),
        })
    };
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(ok(OUT, Some(35)), c.at(40));
    assert!(opened(&m.step(bad(OUT, "stale"), c.at(100))).is_some());
    restarted(&mut m, c.at(101), "inc-1", 101);
    m.step(ok(HTTP, None), c.at(105));
    m.step(ok(LOG, Some(104)), c.at(105));
    assert!(m
        .step(out(110, "newest output batch-000002 (1s old)"), c.at(111))
        .is_empty());
    let acts = m.step(out(131, "newest output batch-000009 (1s old)"), c.at(132));
    assert_eq!(
        acts,
        vec![Action::ConfirmRecovery {
            incident: "inc-1".into(),
            evidence: "artifact: newest output batch-000009 (1s old)".into()
        }]
    );
}

/// Regression: after `akashic resume`, `status` said healthy while both checks were failing.
#[test]
fn after_resume_failing_checks_are_not_called_healthy() {
    let c = Clock(Instant::now());
    let mut m = Machine::resume_escalated(params(), c.at(0), "inc-1".into(), None);
    m.step(bad(LOG, "stale"), c.at(1));
    m.step(bad(HTTP, "refused"), c.at(1));
    assert_eq!(m.label(c.at(2)), "escalated");
    m.step(Observation::Resume, c.at(5));
    assert_eq!(m.label(c.at(6)), "starting", "grace after a resume");
    assert_eq!(
        m.label(c.at(40)),
        "failing",
        "grace over, the checks still fail"
    );
    // Once they pass, it is healthy.
    m.step(ok(LOG, Some(40)), c.at(41));
    m.step(ok(HTTP, None), c.at(41));
    assert_eq!(m.label(c.at(42)), "healthy");
}
