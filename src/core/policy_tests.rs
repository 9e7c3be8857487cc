//! Table tests of fleet policy with a fake clock: holds, release, the budget a hold does not
//! spend, dependency cycles and order, recurrence counting and rules.

use super::*;
use crate::config::{RecurrenceAction, RecurrenceRule};
use crate::core::machine::{
    Action, CheckRole, Machine, Observation, Params, Phase, Progress, Report, Verdict,
};
use chrono::TimeZone;
use tokio::time::Instant;

/// Names and what each depends on.
type Edges<'a> = &'a [(&'a str, &'a [&'a str])];
/// Open incidents by dependency name.
type Open<'a> = &'a [(&'a str, &'a str)];
/// A recurrence row: what, the history, the category, and the rule met (index, count).
type RecurrenceRow<'a> = (&'a str, Vec<Past>, Category, Option<(usize, u32)>);

fn g(edges: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    edges
        .iter()
        .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[test]
fn cycles_are_found_and_named_along_their_path() {
    let table: &[(Edges, Option<&[&str]>)] = &[
        (&[("a", &["b"]), ("b", &[])], None),
        (&[("a", &["b"]), ("b", &["a"])], Some(&["a", "b", "a"])),
        (
            &[("web", &["api"]), ("api", &["db"]), ("db", &["web"])],
            Some(&["web", "api", "db", "web"]),
        ),
        // A diamond is not a cycle.
        (
            &[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"]), ("d", &[])],
            None,
        ),
        // Unknown names are another error, not a cycle.
        (&[("a", &["nowhere"])], None),
        (
            &[("x", &[]), ("a", &["b"]), ("b", &["c"]), ("c", &["b"])],
            Some(&["b", "c", "b"]),
        ),
    ];
    for (edges, want) in table {
        let got = find_cycle(&g(edges));
        let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "{edges:?}");
    }
}

#[test]
fn start_order_puts_what_is_needed_first_and_keeps_the_rest_in_place() {
    let order = start_order(&g(&[
        ("a", &["db"]),
        ("b", &["db", "api"]),
        ("api", &["db"]),
        ("db", &[]),
        ("c", &[]),
    ]));
    let names = ["a", "b", "api", "db", "c"];
    let got: Vec<&str> = order.iter().map(|i| names[*i]).collect();
    assert_eq!(got, ["db", "a", "api", "b", "c"]);
}

#[test]
fn the_first_failing_dependency_blocks() {
    let deps = vec!["db".to_string(), "api".to_string()];
    let table: &[(Open, Option<(&str, &str)>)] = &[
        (&[], None),
        (&[("api", "inc-2")], Some(("api", "inc-2"))),
        (&[("db", "inc-1"), ("api", "inc-2")], Some(("db", "inc-1"))),
        (&[("other", "inc-3")], None),
    ];
    for (open, want) in table {
        let got = blocking(&deps, |d| {
            open.iter().find(|(n, _)| *n == d).map(|(_, i)| *i)
        });
        let want = want.map(|(d, i)| Block {
            dependency: d.into(),
            incident: i.into(),
        });
        assert_eq!(got, want, "{open:?}");
    }
}

// ---- holds ----

const OUT: usize = 0;

fn params() -> Params {
    Params {
        grace: Duration::from_secs(10),
        recovery_window: Duration::from_secs(60),
        budget_max: 2,
        budget_within: Duration::from_secs(3600),
        can_restart: true,
        checks: vec![CheckRole {
            kind: "artifact",
            failures: 1,
            progress: true,
            artifact: true,
            min_growth: 1,
        }],
    }
}

fn wall(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
}

fn ok(at: i64) -> Observation {
    Observation::Check(Report {
        check: OUT,
        verdict: Verdict::Ok {
            detail: format!("newest output {at}s"),
        },
        progress: Some(Progress::At(wall(at))),
    })
}

fn stale() -> Observation {
    Observation::Check(Report {
        check: OUT,
        verdict: Verdict::Unhealthy {
            failure: "stale",
            detail: "no new output for 12s".into(),
        },
        progress: None,
    })
}

fn db(incident: &str) -> Observation {
    Observation::Dependency(Some(Block {
        dependency: "db".into(),
        incident: incident.into(),
    }))
}

/// A clock that only moves when told.
struct Clock(Instant);
impl Clock {
    fn at(&self, s: u64) -> Instant {
        self.0 + Duration::from_secs(s)
    }
}

/// What a step did, in a word, for the tables.
fn said(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| match a {
            Action::OpenIncident {
                restart: false,
                held: Some(b),
                ..
            } => format!("open held on {} ({})", b.dependency, b.incident),
            Action::OpenIncident { restart: true, .. } => "open+restart".into(),
            Action::OpenIncident { .. } => "open+escalate".into(),
            Action::Restart { .. } => "restart".into(),
            Action::ConfirmRecovery { .. } => "recovered".into(),
            Action::Escalate { .. } => "escalate".into(),
            Action::Note { event, .. } => format!("note {event}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs a script of (second, observation) and checks what each step said and the label after.
fn run(script: &[(u64, Observation, &str, &str)]) -> Machine {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    for (i, (t, obs, want, label)) in script.iter().enumerate() {
        let got = said(&m.step(obs.clone(), c.at(*t)));
        assert_eq!(got, *want, "step {i} at {t}s: {obs:?}");
        assert_eq!(m.label(c.at(*t)), *label, "label after step {i} at {t}s");
    }
    m
}

#[test]
fn a_failure_while_a_dependency_fails_is_held_and_spends_no_budget() {
    let m = run(&[
        (11, ok(11), "", "healthy"),
        (20, db("inc-db"), "", "healthy"),
        (25, stale(), "open held on db (inc-db)", "held"),
        (
            26,
            Observation::Opened {
                incident: "inc-a".into(),
            },
            "",
            "held",
        ),
        // Still failing while the dependency is down: nothing happens, however long.
        (40, stale(), "", "held"),
        (400, Observation::Tick, "", "held"),
        (900, stale(), "", "held"),
    ]);
    assert!(m.restarts.is_empty(), "a held restart spends no budget");
    assert_eq!(m.incident(), Some("inc-a"));
    assert_eq!(m.next_deadline(), None, "a hold has no deadline of its own");
}

#[test]
fn released_and_recovering_on_its_own_needs_no_restart() {
    let m = run(&[
        (11, ok(11), "", "healthy"),
        (20, db("inc-db"), "", "healthy"),
        (25, stale(), "open held on db (inc-db)", "held"),
        (
            26,
            Observation::Opened {
                incident: "inc-a".into(),
            },
            "",
            "held",
        ),
        // New output while the dependency is still confirming: the hold stands.
        (50, ok(50), "", "held"),
        (55, Observation::Dependency(None), "", "held"),
        (56, ok(56), "recovered", "recovered"),
    ]);
    assert!(m.restarts.is_empty());
    assert_eq!(m.incident(), None);
}

#[test]
fn released_but_still_failing_after_its_grace_is_restarted_then() {
    let c = Clock(Instant::now());
    let mut m = run(&[
        (11, ok(11), "", "healthy"),
        (20, db("inc-db"), "", "healthy"),
        (25, stale(), "open held on db (inc-db)", "held"),
        (
            26,
            Observation::Opened {
                incident: "inc-a".into(),
            },
            "",
            "held",
        ),
        (55, Observation::Dependency(None), "", "held"),
        (60, stale(), "", "held"),
    ]);
    // The deadline is the end of its grace (10 s after the release).
    let deadline = m
        .next_deadline()
        .expect("a released service has a deadline");
    assert!(deadline > c.at(64) && deadline <= c.at(66));
    let acts = m.step(Observation::Tick, deadline);
    assert_eq!(said(&acts), "restart");
    assert_eq!(m.restarts.len(), 1, "only the real restart spends budget");
    assert!(matches!(
        m.phase,
        Phase::Restarting {
            incident: Some(ref i)
        } if i == "inc-a"
    ));
}

#[test]
fn a_dependency_failing_again_during_the_release_holds_again() {
    run(&[
        (11, ok(11), "", "healthy"),
        (20, db("inc-db"), "", "healthy"),
        (25, stale(), "open held on db (inc-db)", "held"),
        (
            26,
            Observation::Opened {
                incident: "inc-a".into(),
            },
            "",
            "held",
        ),
        (55, Observation::Dependency(None), "", "held"),
        (58, db("inc-db-2"), "", "held"),
        // Past the first release's grace: no restart, it is held again.
        (70, Observation::Tick, "", "held"),
        (71, stale(), "", "held"),
    ]);
}

#[test]
fn without_a_failing_dependency_the_same_failure_restarts() {
    let m = run(&[
        (11, ok(11), "", "healthy"),
        (20, db("inc-db"), "", "healthy"),
        (21, Observation::Dependency(None), "", "healthy"),
        (25, stale(), "open+restart", "restarting"),
    ]);
    assert_eq!(m.restarts.len(), 1);
}

#[test]
fn a_restart_that_fails_into_a_failing_dependency_is_held_not_retried() {
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(ok(11), c.at(11));
    assert_eq!(said(&m.step(stale(), c.at(20))), "open+restart");
    m.step(
        Observation::Restarted {
            incident: "inc-a".into(),
            ok: true,
            detail: "restarted".into(),
            wall: wall(21),
        },
        c.at(21),
    );
    m.step(db("inc-db"), c.at(25));
    // It exits after the restart: with the dependency down, the retry is held.
    let acts = m.step(
        Observation::Exited {
            detail: "exit 1".into(),
        },
        c.at(26),
    );
    assert_eq!(said(&acts), "note held");
    assert_eq!(m.label(c.at(26)), "held");
    assert_eq!(m.restarts.len(), 1, "only the first restart was spent");
}

#[test]
fn holds_across_many_failures_never_escalate_for_budget() {
    // Budget 2: five held failures in a row (each after a release that recovered) spend nothing.
    let c = Clock(Instant::now());
    let mut m = Machine::new(params(), c.at(0));
    m.step(ok(11), c.at(11));
    for round in 0..5u64 {
        let t = 20 + round * 100;
        m.step(db(&format!("inc-db-{round}")), c.at(t));
        let acts = m.step(stale(), c.at(t + 5));
        assert!(said(&acts).starts_with("open held"), "round {round}");
        m.step(
            Observation::Opened {
                incident: format!("inc-{round}"),
            },
            c.at(t + 6),
        );
        m.step(Observation::Dependency(None), c.at(t + 30));
        assert_eq!(said(&m.step(ok(t as i64 + 31), c.at(t + 31))), "recovered");
    }
    assert!(m.restarts.is_empty());
}

// ---- recurrence ----

fn past(id: &str, days_ago: i64, category: Category, now: DateTime<Utc>) -> Past {
    Past {
        id: id.into(),
        at: now - chrono::Duration::days(days_ago),
        category,
    }
}

fn rule(
    category: Option<Category>,
    count: u32,
    days: u64,
    then: RecurrenceAction,
) -> RecurrenceRule {
    RecurrenceRule {
        category,
        count,
        within: Duration::from_secs(days * 86_400),
        then,
    }
}

#[test]
fn a_pattern_counts_the_same_category_in_ninety_days_oldest_first() {
    let now = wall(0);
    let history = vec![
        past("i-old", 120, Category::Deadlock, now),
        past("i-2", 10, Category::Deadlock, now),
        past("i-1", 40, Category::Deadlock, now),
        past("i-other", 5, Category::RateLimit, now),
    ];
    let p = pattern(Category::Deadlock, now, &history);
    assert_eq!(p.count, 3);
    assert_eq!(p.within_days, 90);
    assert_eq!(p.previous, ["i-1", "i-2"]);
    let first = pattern(Category::Crash, now, &history);
    assert_eq!((first.count, first.previous.len()), (1, 0));
}

#[test]
fn previous_lists_at_most_twenty_the_newest_kept() {
    let now = wall(0);
    let history: Vec<Past> = (0..30)
        .map(|i| past(&format!("i-{i:02}"), 30 - i, Category::Crash, now))
        .collect();
    let p = pattern(Category::Crash, now, &history);
    assert_eq!(p.count, 31);
    assert_eq!(p.previous.len(), MAX_PREVIOUS);
    assert_eq!(p.previous[0], "i-10");
    assert_eq!(p.previous[19], "i-29");
}

#[test]
fn rules_apply_from_their_count_on_within_their_own_window() {
    let now = wall(0);
    let remedy = RecurrenceAction::Remedy {
        run: vec!["true".into()],
        cwd: None,
        timeout: Duration::from_secs(5),
    };
    let rules = vec![
        rule(None, 2, 90, RecurrenceAction::Restart),
        rule(Some(Category::Deadlock), 3, 90, remedy.clone()),
        rule(None, 5, 1, RecurrenceAction::Escalate),
    ];
    let d = Category::Deadlock;
    let table: Vec<RecurrenceRow> = vec![
        ("first of its pattern", vec![], d, None),
        ("second", vec![past("a", 1, d, now)], d, Some((0, 2))),
        (
            "third deadlock: the remedy rule",
            vec![past("a", 2, d, now), past("b", 1, d, now)],
            d,
            Some((1, 3)),
        ),
        (
            "third crash: the remedy is for deadlocks only",
            vec![
                past("a", 2, Category::Crash, now),
                past("b", 1, Category::Crash, now),
            ],
            Category::Crash,
            Some((0, 3)),
        ),
        (
            "one outside the window does not count",
            vec![past("a", 100, d, now), past("b", 1, d, now)],
            d,
            Some((0, 2)),
        ),
        (
            "five within a day: escalate",
            (0..4).map(|i| past(&format!("x{i}"), 0, d, now)).collect(),
            d,
            Some((2, 5)),
        ),
        (
            "other categories do not add up",
            vec![
                past("a", 1, Category::Crash, now),
                past("b", 1, Category::RateLimit, now),
            ],
            d,
            None,
        ),
    ];
    for (what, history, category, want) in table {
        let got = rule_for(&rules, category, now, &history).map(|(i, _, n)| (i, n));
        assert_eq!(got, want, "{what}");
    }
}

// ---- correlation without configuration ----

#[test]
fn endpoints_are_host_port_names_not_times() {
    let table: &[(&str, &[&str])] = &[
        (
            "2026-12-06T19:57:48.575Z ERROR query failed: connection to 127.0.0.1:5432: Connection refused (os error 111)",
            &["127.0.0.1:5432"],
        ),
        ("GET http://db.internal:8080/health timed out", &["db.internal:8080"]),
        ("redis at cache-1.lan:6379, again cache-1.lan:6379.", &["cache-1.lan:6379"]),
        ("Mar 14 03:14:05 host x: 12:30 elapsed", &[]),
        ("port 99999 on localhost:99999 is no port", &[]),
        ("[::1]:80 and ratio 3:1", &[]),
        ("a (10.0.0.7:443) b", &["10.0.0.7:443"]),
    ];
    for (text, want) in table {
        assert_eq!(endpoints(text), *want, "{text}");
    }
}

#[test]
fn hosts_are_urls_hosts_and_names_a_resolver_failed_on() {
    let table: &[(&str, &[&str])] = &[
        (
            "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.exchange.com', port=443): Max retries exceeded with url: https://api.exchange.com/v1/orders",
            &["host api.exchange.com"],
        ),
        ("Error: getaddrinfo ENOTFOUND db.internal", &["host db.internal"]),
        (
            "dial tcp: lookup postgres on 127.0.0.11:53: no such host",
            &["host postgres"],
        ),
        ("curl: (6) Could not resolve host: Feeds.Example.org", &["host feeds.example.org"]),
        // With a port it is an endpoint, not a bare host; local names share nothing.
        ("GET http://db.internal:8080/health", &[]),
        ("GET http://localhost/health and http://127.0.0.1/x", &[]),
        ("DNS lookup failed for the feed", &[]),
        ("cache lookup miss for user 42; lookup took 3s", &[]),
        (
            "WARN InsecureRequestWarning: Unverified HTTPS request. See: https://urllib3.readthedocs.io/en/latest/advanced-usage.html",
            &[],
        ),
        (
            "connection refused: postgres://app:secret@pg.lan/app",
            &["host pg.lan"],
        ),
    ];
    for (text, want) in table {
        assert_eq!(hosts(text), *want, "{text}");
    }
}

#[test]
fn storage_paths_are_absolute_paths_on_lines_a_file_system_refused() {
    let text = "INFO wrote /data/ok.json\n\
        OSError: [Errno 28] No space left on device: '/data/ingest/out-1.json'\n\
        write /data/thumbs/a.png: no space left on device\n\
        could not extend file \"base/16384/2619\": No space left on device\n\
        open /srv/app/cache.db: read-only file system\n\
        OSError: [Errno 28] No space left on device: '/data/ingest/out-1.json'";
    assert_eq!(
        storage_paths(text),
        [
            "/data/ingest/out-1.json",
            "/data/thumbs/a.png",
            "/srv/app/cache.db"
        ]
    );
    assert!(storage_paths("ERROR open /data/x: permission denied").is_empty());
}

fn seen(id: &str, service: &str, secs: i64, eps: &[&str], group: Option<&str>) -> Seen {
    Seen {
        id: id.into(),
        service: service.into(),
        at: wall(secs),
        endpoints: eps.iter().map(|s| s.to_string()).collect(),
        group: group.map(str::to_string),
    }
}

#[test]
fn services_failing_together_on_one_endpoint_are_one_group() {
    let db = "127.0.0.1:5432";
    let w = Duration::from_secs(30);
    let mine = vec![db.to_string(), "127.0.0.1:9000".to_string()];
    let table: Vec<(&str, Vec<Seen>, Option<Correlation>)> = vec![
        ("alone", vec![], None),
        (
            "another service, same endpoint, 10 s before",
            vec![seen("i-a", "orders", 90, &[db], None)],
            Some(Correlation {
                group: "grp-i-a".into(),
                endpoint: db.into(),
                members: vec!["i-a".into()],
            }),
        ),
        (
            "joins the group the others already have; earliest first",
            vec![
                seen("i-b", "billing", 95, &[db], Some("grp-i-a")),
                seen("i-a", "orders", 90, &[db], Some("grp-i-a")),
            ],
            Some(Correlation {
                group: "grp-i-a".into(),
                endpoint: db.into(),
                members: vec!["i-a".into(), "i-b".into()],
            }),
        ),
        (
            "too long before",
            vec![seen("i-a", "orders", 60, &[db], None)],
            None,
        ),
        (
            "the same service is not a fleet",
            vec![seen("i-a", "reports", 95, &[db], None)],
            None,
        ),
        (
            "another endpoint",
            vec![seen("i-a", "orders", 95, &["10.0.0.1:5432"], None)],
            None,
        ),
        (
            "detected a moment after it, stored first (both failed at one tick)",
            vec![seen("i-a", "orders", 101, &[db], None)],
            Some(Correlation {
                group: "grp-i-a".into(),
                endpoint: db.into(),
                members: vec!["i-a".into()],
            }),
        ),
    ];
    for (what, recent, want) in table {
        assert_eq!(
            correlate("reports", wall(100), &mine, &recent, w),
            want,
            "{what}"
        );
    }
}
