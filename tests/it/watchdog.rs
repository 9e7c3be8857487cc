//! The watchdog's must-shows, end to end: a real `akashic watch` over real demo services on 127.0.0.1.

use crate::util::*;
use nix::sys::signal::Signal;
use serde_json::Value;

fn events(inc: &Value) -> Vec<String> {
    inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

/// The watchdog's own events: the post-mortem is drafted off its path, often within 100 ms of
/// recovery, so a poll may see it already there or not yet.
fn watchdog_events(inc: &Value) -> Vec<String> {
    events(inc)
        .into_iter()
        .filter(|e| e != "postmortem")
        .collect()
}

fn ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// The seed scenario: alive, bound, answering 200, but producing nothing.
#[test]
fn frozen_service_is_detected_restarted_and_confirmed_by_new_output() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service(
            "pipeline",
            port,
            r#", "--freeze-after", "2s", "--freeze-once", "{DIR}/froze""#,
            r#"{ max = 3, within = "1h" }"#,
            "20s"
        )
    );
    let mut f = Fleet::new(&toml);
    f.watch();
    let inc = f.wait_incident("the frozen service's incident to be recovered", |i| {
        i["recovered"] == true
    });

    // Detection: stale output, while the process ran, held its port and answered 200.
    let kinds: Vec<&str> = inc["failed_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"artifact") || kinds.contains(&"log_stale"),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&"http") && !kinds.contains(&"port"),
        "{kinds:?}"
    );
    assert_eq!(inc["process"]["running"], true, "{inc:#}");
    assert_eq!(inc["process"]["port_bound"], true);
    assert_eq!(inc["process"]["http_status"], 200);

    // Detected within max_age (2s) + one tick (250ms) of the last output, plus probe scheduling slack.
    let froze = std::fs::metadata(f.path("froze"))
        .unwrap()
        .modified()
        .unwrap();
    let detected = ts(&inc["detected_at"]);
    let latency = (detected - chrono::DateTime::<chrono::Utc>::from(froze))
        .to_std()
        .unwrap();
    assert!(
        latency.as_millis() <= 2_000 + 250 + 750,
        "detection took {latency:?}"
    );

    // Evidence before the kill: a /proc snapshot showing the blocked worker.
    #[cfg(target_os = "linux")]
    {
        let fx = &inc["forensics"];
        assert_eq!(fx["method"], "proc", "{fx:#}");
        assert!(fx["text"].as_str().unwrap().contains("futex"), "{fx:#}");
        assert!(
            fx["took_ms"].as_u64().unwrap() <= 1_000 + 100,
            "forensics over budget: {fx:#}"
        );
    }

    // Kill and restart, then recovery proven by output written after the restart.
    assert!(
        inc["action"].as_str().unwrap().contains("child restart"),
        "{}",
        inc["action"]
    );
    assert_eq!(inc["restarts"], 1);
    let restarted = ts(&inc["restarted_at"]);
    let confirmed = ts(&inc["recovery_confirmed_at"]);
    assert!(detected <= restarted && restarted < confirmed);
    assert!(
        inc["recovery_evidence"]
            .as_str()
            .unwrap()
            .starts_with("artifact: newest output batch-"),
        "{}",
        inc["recovery_evidence"]
    );

    // The whole timeline, in order.
    assert_eq!(
        watchdog_events(&inc),
        vec!["detected", "evidence", "restart", "recovered"]
    );
    assert_eq!(f.incidents().len(), 1, "exactly one incident");

    // The post-mortem follows, off the watchdog's path: stored with the incident, as Markdown, in memory.
    let inc = f.wait_incident("the post-mortem", |i| !i["postmortem"].is_null());
    let pm = &inc["postmortem"];
    assert_eq!(pm["author"], "template");
    assert_eq!(pm["incident_id"], inc["id"]);
    assert!(
        pm["evidence"].as_array().is_some_and(|e| !e.is_empty()),
        "{pm:#}"
    );
    let md = f.path(&format!(
        "state/postmortems/{}.md",
        inc["id"].as_str().unwrap()
    ));
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("**Process state at detection:** running"),
        "{text}"
    );
    assert_eq!(events(&inc).last().map(String::as_str), Some("postmortem"));

    // `incidents --json` carries the contract's keys.
    let listed = &f.incidents()[0];
    for key in [
        "id",
        "service",
        "detected_at",
        "failed_checks",
        "process",
        "action",
        "recovered",
        "recovery_confirmed_at",
        "postmortem",
    ] {
        assert!(
            listed.get(key).is_some(),
            "incidents --json lacks {key}: {listed:#}"
        );
    }
}

/// A crash loop is restarted with backoff, escalated after the budget, and left alone until a person acts.
#[test]
fn crash_loop_backs_off_escalates_and_waits_for_a_person() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service(
            "crashy",
            port,
            r#", "--crash-after", "300ms""#,
            r#"{ max = 3, within = "1h" }"#,
            "20s"
        )
    );
    let mut f = Fleet::new(&toml);
    f.watch();
    let inc = f.wait_incident("the crash loop to be escalated", |i| {
        !i["escalated_at"].is_null()
    });
    assert_eq!(inc["restarts"], 3);
    assert!(
        inc["escalation_reason"]
            .as_str()
            .unwrap()
            .contains("restart budget spent (3 restart attempts within 1h)"),
        "{inc:#}"
    );
    let ev = events(&inc);
    assert_eq!(ev.iter().filter(|e| *e == "backoff").count(), 2, "{ev:?}");
    assert!(
        inc["failed_checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("exited with code 1"),
        "{inc:#}"
    );

    // Backoff between restarts: 2s then 4s.
    let at = |name: &str, nth: usize| {
        inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == name)
            .nth(nth)
            .map(|e| ts(&e["at"]))
            .unwrap()
    };
    assert!((at("restart", 1) - at("restart", 0)).num_milliseconds() >= 2_000);
    assert!((at("restart", 2) - at("restart", 1)).num_milliseconds() >= 4_000);

    // No storm: over several more daemon ticks, no process is started again.
    let log = f.path("crashy/service.log");
    let starts = count_lines(&log, "INFO listening");
    assert_eq!(starts, 4, "the first start and 3 restarts");
    let hb = |f: &Fleet| {
        f.json(&["status", "--json"])["daemon"]["heartbeat_at"]
            .as_str()
            .map(str::to_string)
    };
    let first = hb(&f);
    let mut seen = 0;
    wait_for("eight more heartbeats", || {
        if hb(&f) != first {
            seen += 1;
        }
        (seen >= 8).then_some(())
    });
    assert_eq!(
        count_lines(&log, "INFO listening"),
        4,
        "restarted while escalated"
    );
    let status = f.json(&["status", "--json"]);
    assert_eq!(status["services"][0]["state"], "escalated", "{status:#}");

    // A person acts: `akashic resume` lets it restart again.
    let out = f.run(&["resume", "crashy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("a restart after resume", || {
        (count_lines(&log, "INFO listening") > 4).then_some(())
    });
}

/// A restart that "succeeds" but produces nothing is never called recovered.
#[test]
fn restart_without_new_output_is_escalated_not_recovered() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service(
            "idle",
            port,
            r#", "--produce-nothing""#,
            r#"{ max = 3, within = "1h" }"#,
            "3s"
        )
    );
    let mut f = Fleet::new(&toml);
    f.watch();
    let inc = f.wait_incident("the idle service to be escalated", |i| {
        !i["escalated_at"].is_null()
    });
    assert_eq!(inc["recovered"], false);
    assert!(inc["recovery_confirmed_at"].is_null());
    assert_eq!(
        inc["restarts"], 1,
        "stale output alone does not restart again"
    );
    assert_eq!(
        inc["escalation_reason"],
        "no new output within the recovery window (3s) after restart"
    );
    assert_eq!(
        watchdog_events(&inc),
        vec!["detected", "evidence", "restart", "escalated"]
    );
}

/// kill -9 of akashic mid-incident: the incident survives and continues; none is lost or duplicated.
#[test]
fn sigkill_mid_incident_continues_the_same_incident() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service(
            "slow",
            port,
            r#", "--freeze-after", "2s", "--freeze-once", "{DIR}/froze", "--start-delay", "1s""#,
            r#"{ max = 3, within = "1h" }"#,
            "30s"
        )
    );
    let mut f = Fleet::new(&toml);
    f.watch();
    // The frozen instance runs 1s warm-up + 1s of work, freezes; the restarted one warms up for 1s.
    let inc = f.wait_incident("an incident that restarted but is not yet confirmed", |i| {
        i["restarts"] == 1 && i["recovered"] == false
    });
    f.signal(Signal::SIGKILL);
    assert_eq!(f.wait_exit(), None, "killed by a signal");

    f.watch();
    let done = f.wait_incident(
        "the same incident to be confirmed after akashic restarted",
        |i| i["recovered"] == true,
    );
    assert_eq!(done["id"], inc["id"], "the incident continued");
    assert_eq!(f.incidents().len(), 1, "no incident lost or duplicated");
    let ev = events(&done);
    assert!(ev.contains(&"akashic_restarted".to_string()), "{ev:?}");
    assert_eq!(ev.iter().filter(|e| *e == "detected").count(), 1);
}

/// SIGTERM stops akashic cleanly, and its children with it; `status` tells live, frozen and stopped apart.
#[test]
fn sigterm_stops_cleanly_and_status_tells_the_daemon_apart() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service("web", port, "", r#"{ max = 3, within = "1h" }"#, "20s")
    );
    let mut f = Fleet::new(&toml);
    assert_eq!(
        f.json(&["status", "--json"])["daemon"]["state"],
        "not_started"
    );
    f.watch();
    let st = wait_for("status to show the service healthy", || {
        let s = f.json(&["status", "--json"]);
        (s["services"][0]["state"] == "healthy").then_some(s)
    });
    assert_eq!(st["daemon"]["state"], "running");
    let child = st["services"][0]["pid"].as_u64().unwrap() as u32;
    // A running daemon answers with live states, file checks' details included, without
    // the services' file (rewritten only when a state changes).
    std::fs::remove_file(f.path("state/services.json")).unwrap();
    let live = f.json(&["status", "--json"]);
    let checks = live["services"][0]["checks"].as_array().unwrap().clone();
    let log = checks.iter().find(|c| c["kind"] == "log_stale").unwrap();
    assert_eq!(log["ok"], true, "{live:#}");
    assert!(
        log["detail"].as_str().unwrap().starts_with("log written"),
        "{live:#}"
    );

    // A stopped (SIGSTOP) daemon is told apart from a live one.
    f.signal(Signal::SIGSTOP);
    wait_for("status to call the stopped daemon frozen", || {
        (f.json(&["status", "--json"])["daemon"]["state"] == "frozen").then_some(())
    });
    f.signal(Signal::SIGCONT);

    f.signal(Signal::SIGTERM);
    assert_eq!(f.wait_exit(), Some(0));
    assert!(
        !akashic::process::pid_alive(child),
        "child {child} outlived akashic"
    );
    // A clean stop is "stopped", and the services' last states stay readable.
    let st = f.json(&["status", "--json"]);
    assert_eq!(st["daemon"]["state"], "stopped", "{st:#}");
    assert_eq!(st["daemon"]["alive"], false);
    assert_eq!(st["services"][0]["name"], "web");
}

/// `services.json` follows a state that changes with time alone: a service with only a
/// healthy file check goes from starting to healthy when its grace ends, though its machine
/// hears nothing new (still-healthy file answers are kept from it).
#[test]
fn services_json_follows_a_state_that_changes_with_time_alone() {
    let toml = format!(
        "{DAEMON}[[service]]\nname = \"quiet\"\ngrace = \"2s\"\n\
         [[service.check]]\nkind = \"log_stale\"\npath = \"quiet.log\"\nmax_age = \"1h\"\n"
    );
    let mut f = Fleet::new(&toml);
    std::fs::write(f.path("quiet.log"), "x").unwrap();
    f.watch();
    let state = |f: &Fleet| {
        let written = std::fs::read(f.path("state/services.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&written).ok()?;
        v[0]["state"].as_str().map(str::to_string)
    };
    wait_for("services.json to show the service starting", || {
        (state(&f)? == "starting").then_some(())
    });
    // Well before the once-a-minute refresh.
    let started = std::time::Instant::now();
    wait_for("services.json to show the service healthy", || {
        (state(&f)? == "healthy").then_some(())
    });
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Bad configs: a clear message naming file, line and key; exit 78; nothing started.
#[test]
fn bad_configs_exit_78_with_the_file_line_and_key() {
    let good = format!(
        "{DAEMON}{}",
        demo_service("svc", 1, "", r#"{ max = 3, within = "1h" }"#, "20s")
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown key",
            good.replace("grace = \"1s\"", "grace = \"1s\"\ngrase = \"1s\""),
            "service[0].grase: unknown key",
        ),
        (
            "bad duration",
            good.replace("max_age = \"2s\"", "max_age = \"two seconds\""),
            "invalid duration \"two seconds\"",
        ),
        (
            "missing command",
            good.replace("command = [", "# command = ["),
            "service[0].restart: missing `command`",
        ),
        (
            "duplicate name",
            format!(
                "{good}{}",
                demo_service("svc", 2, "", r#"{ max = 3, within = "1h" }"#, "20s")
            ),
            "duplicate service name \"svc\"",
        ),
        (
            "check with no target",
            good.replace("url = \"http://127.0.0.1:1/health\"", ""),
            "http check has no `url`",
        ),
    ];
    for (what, toml, needle) in cases {
        let f = Fleet::new(&toml);
        for cmd in [&["config", "check"][..], &["watch"][..]] {
            let out = f.run(cmd);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(78),
                "{what}: {cmd:?} exit; stderr: {err}"
            );
            assert!(err.contains(needle), "{what}: {err}");
            assert!(
                err.contains(&format!("{}:", f.config.display())),
                "{what}: file and line missing: {err}"
            );
        }
    }
}

/// A post-mortem still queued when akashic died is drafted when it starts again.
#[test]
fn queued_postmortem_from_a_previous_run_is_drafted_on_start() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service("queued", port, "", r#"{ max = 3, within = "1h" }"#, "20s")
    );
    let mut f = Fleet::new(&toml);
    let id = {
        let store = akashic::incident::IncidentStore::open(&f.path("state")).unwrap();
        let now = chrono::Utc::now();
        let inc = akashic::incident::Incident {
            id: akashic::incident::store::new_id(now),
            service: "queued".into(),
            detected_at: now,
            failed_checks: vec![akashic::incident::FailedCheck {
                kind: "http".into(),
                failure: Some("refused".into()),
                detail: format!("GET http://127.0.0.1:{port}/health: connection refused"),
            }],
            process: Default::default(),
            forensics: None,
            log_tail: Some(
                "2026-11-28T10:00:00Z ERROR connect ECONNREFUSED 127.0.0.1:5432\n".into(),
            ),
            action: "SIGTERM + exited within 0.1s + child restart".into(),
            restarts: 1,
            restarted_at: Some(now),
            recovered: true,
            recovery_confirmed_at: Some(now),
            recovery_evidence: Some("artifact: new output".into()),
            escalated_at: None,
            escalation_reason: None,
            timeline: vec![],
            postmortem: None,
            pattern: None,
            caused_by: None,
            group: None,
        };
        store.put_and_enqueue(&inc).unwrap();
        inc.id
    };
    f.watch();
    let inc = f.wait_incident("the queued post-mortem to be drafted", |i| {
        !i["postmortem"].is_null()
    });
    assert_eq!(inc["id"], id.as_str());
    assert_eq!(
        inc["postmortem"]["category"], "dependency_unavailable",
        "{:#}",
        inc["postmortem"]
    );
}

/// File checks answer from what they last read, so a change that makes a file older (an mtime
/// set back, the newest output removed) must reach them as an event and be read at once: here
/// well inside the 30 s before a check would read everything again anyway, with `max_age`s of
/// an hour that only such a change can break.
#[test]
fn file_checks_see_a_log_set_back_and_the_newest_output_removed_at_once() {
    let mut toml = DAEMON.to_string();
    for name in ["a", "b", "c"] {
        toml.push_str(&format!(
            r#"
[[service]]
name = "{name}"
grace = "1s"

[[service.check]]
kind = "log_stale"
path = "{{DIR}}/{name}/service.log"
max_age = "1h"

[[service.check]]
kind = "artifact"
glob = "{{DIR}}/{name}/out/*.json"
max_age = "1h"
"#
        ));
    }
    let mut f = Fleet::new(&toml);
    for name in ["a", "b", "c"] {
        std::fs::create_dir_all(f.path(&format!("{name}/out"))).unwrap();
        std::fs::write(f.path(&format!("{name}/service.log")), "started\n").unwrap();
        std::fs::write(f.path(&format!("{name}/out/new.json")), "{}").unwrap();
        std::fs::write(f.path(&format!("{name}/out/old.json")), "{}").unwrap();
        set_back_2h(&f.path(&format!("{name}/out/old.json")));
    }
    f.watch();
    wait_for("every service healthy", || {
        let s = f.json(&["status", "--json"]);
        let states: Vec<_> = s["services"]
            .as_array()?
            .iter()
            .map(|s| s["state"].as_str().unwrap_or_default().to_string())
            .collect();
        (states == ["healthy"; 3]).then_some(())
    });

    let changed = chrono::Utc::now();
    set_back_2h(&f.path("a/service.log"));
    std::fs::remove_file(f.path("b/out/new.json")).unwrap();
    let incs = wait_for("incidents for a and b", || {
        let incs = f.incidents();
        (incs.len() >= 2).then_some(incs)
    });
    let of = |svc: &str| {
        incs.iter()
            .find(|i| i["service"] == svc)
            .unwrap_or_else(|| panic!("no incident for {svc}: {incs:#?}"))
    };
    let a = of("a");
    assert_eq!(a["failed_checks"][0]["kind"], "log_stale", "{a:#}");
    assert!(
        a["failed_checks"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("log unchanged for 2h"),
        "{a:#}"
    );
    let b = of("b");
    assert_eq!(b["failed_checks"][0]["kind"], "artifact", "{b:#}");
    assert!(
        b["failed_checks"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("newest output old.json is 2h"),
        "{b:#}"
    );
    for i in [a, b] {
        let after = (ts(&i["detected_at"]) - changed).num_seconds();
        assert!(after < 20, "seen {after}s after the change: {i:#}");
    }
    assert!(incs.iter().all(|i| i["service"] != "c"), "{incs:#?}");
}

/// An escalated incident outlives akashic's own restart: the service stays escalated on the
/// same incident, and the failure that is still there opens no second one. Once every check
/// passes again the incident is resolved, with no restart by akashic.
#[test]
fn an_escalated_incident_is_held_across_an_akashic_restart() {
    let toml = format!(
        r#"{DAEMON}
[[service]]
name = "quiet"
grace = "1s"

[[service.check]]
kind = "log_stale"
path = "{{DIR}}/quiet.log"
max_age = "1h"
"#
    );
    let mut f = Fleet::new(&toml);
    std::fs::write(f.path("quiet.log"), "last words\n").unwrap();
    set_back_2h(&f.path("quiet.log"));
    f.watch();
    let first = wait_for("the escalated incident", || {
        let s = f.json(&["status", "--json"]);
        let svc = &s["services"][0];
        (svc["state"] == "escalated" && svc["incident"].is_string())
            .then(|| svc["incident"].clone())
    });
    f.signal(Signal::SIGTERM);
    assert_eq!(f.wait_exit(), Some(0));

    f.watch();
    let status = wait_for(
        "the same incident, still escalated, after the restart",
        || {
            let s = f.json(&["status", "--json"]);
            (s["daemon"]["state"] == "running" && s["services"][0]["incident"] == first)
                .then_some(s)
        },
    );
    assert_eq!(status["services"][0]["state"], "escalated", "{status:#}");
    // Well past grace (1 s at a 250 ms tick), the still-stale log opens nothing new.
    let beat = |f: &Fleet| f.json(&["status", "--json"])["daemon"]["heartbeat_at"].clone();
    let (b0, mut seen) = (beat(&f), 0);
    wait_for("twelve more heartbeats", || {
        if beat(&f) != b0 {
            seen += 1;
        }
        (seen >= 12).then_some(())
    });
    let incs = f.incidents();
    assert_eq!(incs.len(), 1, "{incs:#?}");
    let inc = f.show(first.as_str().unwrap());
    assert!(
        events(&inc).contains(&"akashic_restarted".to_string()),
        "{inc:#}"
    );

    // A person fixes it: the log is written again, every check passes, and the incident
    // is resolved without a restart by akashic.
    std::fs::write(f.path("quiet.log"), "back\n").unwrap();
    let inc = wait_for("the incident resolved", || {
        let i = f.show(first.as_str().unwrap());
        (i["recovered"] == true).then_some(i)
    });
    assert!(
        inc["recovery_evidence"]
            .as_str()
            .unwrap()
            .contains("without a restart"),
        "{inc:#}"
    );
    assert_eq!(f.incidents().len(), 1);

    // Stale again: a new incident, escalated (there is nothing to restart with). A person
    // lets it go; no restart budget is promised to a service without a restart.
    set_back_2h(&f.path("quiet.log"));
    wait_for("a second incident", || {
        (f.incidents().len() == 2).then_some(())
    });
    wait_for("it escalated", || {
        let s = f.json(&["status", "--json"]);
        (s["services"][0]["state"] == "escalated" && s["services"][0]["incident"] != first)
            .then_some(())
    });
    let out = f.run(&["resume", "quiet"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "quiet resumed: watching again\n"
    );
}

/// Regression: when a frozen service spent its budget, the daemon's log never said it
/// escalated (only a crash loop logged it).
#[test]
fn a_frozen_service_that_spends_its_budget_says_it_escalated_in_the_log() {
    let port = free_port();
    let toml = format!(
        "{DAEMON}{}",
        demo_service(
            "pipeline",
            port,
            r#", "--freeze-after", "1s", "--freeze-while", "{DIR}/freeze""#,
            r#"{ max = 1, within = "1h" }"#,
            "20s"
        )
    );
    let mut f = Fleet::new(&toml);
    std::fs::write(f.path("freeze"), "").unwrap();
    f.watch();
    let inc = f.wait_incident("the second freeze, escalated at once", |i| {
        i["escalated"] == true && i["restarts"] == 0
    });
    let log = f.path("daemon.log");
    let id = inc["id"].as_str().unwrap();
    wait_for("the log to say it escalated", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| {
                l.contains("escalated: akashic stops restarting this service") && l.contains(id)
            })
            .then_some(())
    });
}
