//! Fleet scenarios with real processes: a shared TCP dependency that goes away under three
//! dependents (held restarts, one group, one post-mortem), and a recurring freeze whose third
//! time runs its `on_recurrence` remedy before the restart.

use crate::util::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A small TCP "database": answers `ok` to every connection; while `hold` exists it waits
/// before listening (the test keeps it away that way, across akashic's restarts of it).
const DB_PY: &str = r#"
import os, socket, sys, time
port, hold = int(sys.argv[1]), sys.argv[2]
while os.path.exists(hold):
    time.sleep(0.1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
print("db listening on 127.0.0.1:%d pid %d" % (port, os.getpid()), flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"ok\n")
    c.close()
"#;

/// A dependent: asks the database twice a second and writes its output only when it answers.
const APP_PY: &str = r#"
import os, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
n = 0
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
            answer = c.recv(16)
        if answer.startswith(b"ok"):
            n += 1
            with open(out + ".tmp", "w") as f:
                f.write("%d\n" % n)
            os.replace(out + ".tmp", out)
            print("INFO query %d ok" % n, flush=True)
    except OSError as e:
        print("ERROR query failed: connection to 127.0.0.1:%d: %s" % (port, e), flush=True)
    time.sleep(0.5)
"#;

const DEPENDENTS: [&str; 3] = ["orders", "billing", "reports"];

/// Dependents get a grace long enough for the python database to listen on a loaded machine:
/// a dependent that failed at start would be restarted (nothing failing holds it yet).
fn config(port: u16) -> String {
    let mut toml = format!(
        r#"{DAEMON}
[[service]]
name = "db"
grace = "2s"
recovery_window = "60s"
restart_budget = {{ max = 20, within = "1h" }}
[service.restart]
kind = "child"
command = ["python3", "{{DIR}}/db.py", "{port}", "{{DIR}}/db.hold"]
stdout = "{{DIR}}/db.log"
stop_grace = "1s"
[[service.check]]
kind = "port"
addr = "127.0.0.1:{port}"
timeout = "500ms"
"#
    );
    for name in DEPENDENTS {
        toml.push_str(&format!(
            r#"
[[service]]
name = "{name}"
depends_on = ["db"]
grace = "6s"
recovery_window = "60s"
restart_budget = {{ max = 3, within = "1h" }}
[service.restart]
kind = "child"
command = ["python3", "{{DIR}}/app.py", "{port}", "{{DIR}}/{name}.out"]
stdout = "{{DIR}}/{name}.log"
stop_grace = "1s"
[[service.check]]
kind = "artifact"
glob = "{{DIR}}/{name}.out"
max_age = "4s"
"#
        ));
    }
    toml
}

fn status(f: &Fleet) -> Vec<Value> {
    f.json(&["status", "--json"])["services"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn service<'a>(st: &'a [Value], name: &str) -> &'a Value {
    st.iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in status: {st:#?}"))
}

fn incidents_of(f: &Fleet, name: &str) -> Vec<Value> {
    f.incidents()
        .into_iter()
        .filter(|i| i["service"] == name)
        .collect()
}

#[test]
fn a_shared_dependency_going_away_is_one_group_with_held_restarts_and_one_postmortem() {
    let port = free_port();
    let mut f = Fleet::new(&config(port));
    std::fs::write(f.path("db.py"), DB_PY).unwrap();
    std::fs::write(f.path("app.py"), APP_PY).unwrap();
    f.watch();

    // Everything up: the dependency first, then its dependents producing.
    let pids: Vec<u64> = wait_for("the fleet to be healthy", || {
        let st = status(&f);
        let all = ["db"].into_iter().chain(DEPENDENTS);
        all.clone()
            .all(|n| st.iter().any(|s| s["name"] == n && s["state"] == "healthy"))
            .then(|| {
                all.map(|n| service(&st, n)["pid"].as_u64().unwrap())
                    .collect()
            })
    });

    // The database goes away for 20 s: killed, and kept from listening again until then.
    std::fs::write(f.path("db.hold"), "").unwrap();
    let away = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    let db = f.wait_incident("the database's incident", |i| i["service"] == "db");
    let db_id = db["id"].as_str().unwrap().to_string();
    let group = format!("grp-{db_id}");
    // Each dependent stops producing, fails, and is held on the database's incident.
    for name in DEPENDENTS {
        let held = f.wait_incident(&format!("{name} held on db"), |i| {
            i["service"] == name && !i["caused_by"].is_null()
        });
        assert_eq!(held["caused_by"]["dependency"], "db", "{held:#}");
        assert_eq!(held["caused_by"]["incident"], db_id.as_str(), "{held:#}");
        assert_eq!(held["group"], group.as_str(), "{held:#}");
        assert_eq!(held["action"], "held: waiting for db", "{held:#}");
    }
    let st = wait_for("status to say held", || {
        let st = status(&f);
        DEPENDENTS
            .iter()
            .all(|n| service(&st, n)["state"] == "held")
            .then_some(st)
    });
    // While the database is away, no dependent is restarted: same pids, no restarts.
    while away.elapsed() < Duration::from_secs(20) {
        let st = status(&f);
        for (k, name) in DEPENDENTS.iter().enumerate() {
            let s = service(&st, name);
            assert_eq!(s["state"], "held", "{name} while db is away: {s:#}");
            assert_eq!(s["pid"].as_u64(), Some(pids[k + 1]), "{name} was restarted");
        }
        for name in DEPENDENTS {
            for i in incidents_of(&f, name) {
                assert_eq!(i["caused_by"]["incident"], db_id.as_str(), "{i:#}");
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(st);
    let db_now = f.show(&db_id);
    assert!(
        db_now["restarts"].as_u64().unwrap() >= 1,
        "the dependency (a service) is restarted: {db_now:#}"
    );
    assert_eq!(db_now["recovered"], false, "{db_now:#}");

    // It comes back: the database's recovery is confirmed, then every dependent recovers by
    // its own new output, without a restart.
    std::fs::remove_file(f.path("db.hold")).unwrap();
    let db = f.wait_incident("the database's recovery", |i| {
        i["id"] == db_id.as_str() && i["recovered"] == true
    });
    assert_eq!(db["group"], group.as_str());
    for name in DEPENDENTS {
        let inc = f.wait_incident(&format!("{name} recovered"), |i| {
            i["service"] == name && i["recovered"] == true
        });
        assert_eq!(
            inc["action"], "held: waiting for db; recovered without a restart",
            "{inc:#}"
        );
        assert_eq!(inc["restarts"], 0, "{inc:#}");
        assert!(
            inc["recovery_evidence"].as_str().unwrap().starts_with(
                "db healthy again and every check passes without a restart: artifact: "
            ),
            "{inc:#}"
        );
        assert_eq!(incidents_of(&f, name).len(), 1, "one incident for {name}");
    }
    let st = status(&f);
    for (k, name) in DEPENDENTS.iter().enumerate() {
        assert_eq!(
            service(&st, name)["pid"].as_u64(),
            Some(pids[k + 1]),
            "{name} never restarted"
        );
    }

    // One post-mortem, the dependency's, naming it and the three services.
    let db = f.wait_incident("the group's post-mortem", |i| {
        i["id"] == db_id.as_str() && !i["postmortem"].is_null()
    });
    let names: Vec<&str> = db["postmortem"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, ["db", "billing", "orders", "reports"]);
    let md = std::fs::read_to_string(f.path(&format!("state/postmortems/{db_id}.md"))).unwrap();
    assert!(
        md.contains("## Shared cause\n\ndb failed under 3 services that depend on it: billing, orders, reports."),
        "{md}"
    );
    let written = std::fs::read_dir(f.path("state/postmortems"))
        .unwrap()
        .count();
    assert_eq!(written, 1, "one post-mortem for the whole group");
    for name in DEPENDENTS {
        for i in incidents_of(&f, name) {
            assert!(i["postmortem"].is_null(), "{i:#}");
        }
    }
}

#[test]
fn the_third_same_pattern_freeze_runs_its_remedy_before_the_restart() {
    let port = free_port();
    let svc = demo_service(
        "pipeline",
        port,
        r#", "--freeze-after", "1s", "--freeze-while", "{DIR}/freeze""#,
        r#"{ max = 10, within = "1h" }"#,
        "20s",
    );
    let toml = format!(
        r#"{DAEMON}{svc}
[[service.on_recurrence]]
count = 3
within = "90d"
then = "remedy"
run = ["sh", "-c", "echo remedy ran >> {{DIR}}/remedy.log; rm -f {{DIR}}/freeze"]
timeout = "5s"
"#
    );
    let mut f = Fleet::new(&toml);
    std::fs::write(f.path("freeze"), "").unwrap();
    f.watch();

    let third = f.wait_incident("the third freeze to be recovered", |i| {
        i["pattern"]["count"] == 3 && i["recovered"] == true
    });
    let all = incidents_of(&f, "pipeline");
    assert_eq!(all.len(), 3, "{all:#?}");
    let mut earlier: Vec<&Value> = all.iter().filter(|i| i["id"] != third["id"]).collect();
    earlier.sort_by_key(|i| i["detected_at"].as_str().unwrap().to_string());
    for (n, i) in earlier.iter().enumerate() {
        assert_eq!(i["pattern"]["count"], n as u64 + 1, "{i:#}");
        let steps: Vec<&str> = i["timeline"]
            .as_array()
            .map(|t| t.iter().map(|e| e["event"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert!(
            !steps.contains(&"remedy"),
            "no remedy before the 3rd: {i:#}"
        );
    }

    // `show --json`: the pattern with its count and the two before it, oldest first.
    let p = &third["pattern"];
    assert_eq!(p["within_days"], 90);
    let category = p["category"].as_str().unwrap();
    let previous: Vec<&str> = p["previous"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ids: Vec<&str> = earlier.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(previous, ids);

    // The timeline: the rule, the remedy (it ran), then the restart, then recovery.
    let steps: Vec<(&str, &str)> = third["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    let at = |ev: &str| {
        steps
            .iter()
            .position(|(e, _)| *e == ev)
            .unwrap_or_else(|| panic!("no {ev} in {steps:#?}"))
    };
    assert!(
        at("recurrence") < at("remedy")
            && at("remedy") < at("restart")
            && at("restart") < at("recovered")
    );
    assert_eq!(
        steps[at("recurrence")].1,
        format!(
            "3rd incident of pattern {category} within 90d: on_recurrence[0] (count 3) says remedy"
        )
    );
    assert!(
        steps[at("remedy")].1.starts_with(&format!(
            "remedy `sh -c echo remedy ran >> {}/remedy.log; rm -f {}/freeze` exited 0 in ",
            f.dir.path().display(),
            f.dir.path().display()
        )),
        "{steps:#?}"
    );
    assert_eq!(count_lines(&f.path("remedy.log"), "remedy ran"), 1);
    assert_eq!(third["restarts"], 1);

    // The post-mortem says so, from the record.
    let third = f.wait_incident("the third post-mortem", |i| {
        i["id"] == third["id"] && !i["postmortem"].is_null()
    });
    let md = std::fs::read_to_string(f.path(&format!(
        "state/postmortems/{}.md",
        third["id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(
        md.contains("Prior incidents matching this pattern: 2 in last 90 days."),
        "{md}"
    );
    assert!(md.contains("Recurrence: 3rd incident of pattern"), "{md}");
    assert!(
        md.contains("on_recurrence[0] (count 3) says remedy; remedy `sh -c"),
        "{md}"
    );
}

#[test]
fn a_recurring_freeze_whose_rule_says_escalate_is_not_restarted_again() {
    let port = free_port();
    let svc = demo_service(
        "pipeline",
        port,
        r#", "--freeze-after", "1s", "--freeze-while", "{DIR}/freeze""#,
        r#"{ max = 10, within = "1h" }"#,
        "20s",
    );
    let toml = format!(
        "{DAEMON}{svc}\n[[service.on_recurrence]]\ncount = 2\nwithin = \"1d\"\nthen = \"escalate\"\n"
    );
    let mut f = Fleet::new(&toml);
    std::fs::write(f.path("freeze"), "").unwrap();
    f.watch();
    let second = f.wait_incident("the second freeze, escalated by its rule", |i| {
        i["pattern"]["count"] == 2 && i["escalated"] == true
    });
    assert_eq!(second["restarts"], 0, "{second:#}");
    let reason = second["escalation_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("2nd incident of pattern ")
            && reason.ends_with("within 1d: on_recurrence[0] (count 2) says escalate: not restarted again; a person should look at why it keeps coming back"),
        "{reason}"
    );
    let st = f.json(&["status", "--json"]);
    assert_eq!(st["services"][0]["state"], "escalated", "{st:#}");
    // The budget slot the detection took was given back: no restart happened.
    assert_eq!(f.incidents().len(), 2);
}

/// `akashic demo --scenario shared-dependency`: the database goes away under three services;
/// the demo ends with the group's post-mortem and the three held incidents, none restarted.
#[test]
fn the_shared_dependency_demo_ends_with_one_postmortem_and_three_held_services() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(AKASHIC)
        .args([
            "demo",
            "--scenario",
            "shared-dependency",
            "--for",
            "120s",
            "--dir",
        ])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "db failed under 3 services that depend on it: billing, orders-api, reports."
        ),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("held: waiting for db; recovered without a restart  restarts 0")
            .count(),
        3,
        "{stdout}"
    );
}

/// A TCP endpoint the test holds open, then takes away and brings back (a shared database that
/// no config names).
struct Endpoint {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    fn open(port: u16) -> Endpoint {
        let listener = wait_for("the endpoint's port to be free", || {
            std::net::TcpListener::bind(("127.0.0.1", port)).ok()
        });
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => drop(s),
                    // Nothing waiting: look again shortly (this serves the port; it syncs nothing).
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Endpoint {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn close(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

#[test]
fn services_failing_together_on_one_endpoint_are_one_group_without_configuration() {
    let db = Endpoint::open(free_port());
    let needs = format!(r#", "--needs", "127.0.0.1:{}""#, db.port);
    let names = ["ingest", "search", "mailer"];
    let mut toml = DAEMON.to_string();
    for name in names {
        toml.push_str(&demo_service(
            name,
            free_port(),
            &needs,
            r#"{ max = 3, within = "1h" }"#,
            "30s",
        ));
    }
    // The log keeps being written (errors while it is away): only the output goes stale.
    let mut f = Fleet::new(&toml);
    f.watch();
    wait_for("the three to be healthy", || {
        let st = status(&f);
        names
            .iter()
            .all(|n| {
                st.iter()
                    .any(|s| s["name"] == *n && s["state"] == "healthy")
            })
            .then_some(())
    });
    let port = db.port;
    db.close();
    let mut incs = Vec::new();
    for name in names {
        incs.push(f.wait_incident(&format!("{name}'s incident"), |i| i["service"] == name));
    }
    // Back again: each restarted copy produces once it can reach it.
    let db = Endpoint::open(port);
    let mut groups = Vec::new();
    for name in names {
        let inc = f.wait_incident(&format!("{name} recovered in a group"), |i| {
            i["service"] == name && i["recovered"] == true && !i["group"].is_null()
        });
        assert!(
            inc["restarts"].as_u64().unwrap() >= 1,
            "nothing is held for an inferred group: {inc:#}"
        );
        assert!(inc["caused_by"].is_null());
        groups.push(inc["group"].as_str().unwrap().to_string());
    }
    groups.dedup();
    assert_eq!(groups.len(), 1, "one group: {groups:?}");
    let lead = groups[0].trim_start_matches("grp-").to_string();
    let pm = f.wait_incident("the group's post-mortem naming all three", |i| {
        i["id"] == lead.as_str()
            && i["postmortem"]["services"]
                .as_array()
                .is_some_and(|s| s.len() == 3)
    });
    let md = std::fs::read_to_string(f.path(&format!("state/postmortems/{lead}.md"))).unwrap();
    let svc = pm["service"].as_str().unwrap();
    assert!(md.contains("## Shared cause"), "{md}");
    assert!(
        md.contains(&format!(
            "each names 127.0.0.1:{port}: one shared cause, one post-mortem."
        )),
        "{md}"
    );
    for name in names {
        assert!(md.contains(name), "{name} in {md}");
    }
    assert!(names.contains(&svc));
    let written = std::fs::read_dir(f.path("state/postmortems"))
        .unwrap()
        .count();
    assert_eq!(written, 1, "one post-mortem for the group");
    db.close();
    assert_eq!(incs.len(), 3);
}

/// Writes a batch file every 0.3 s, or, while `full` exists, says what Python says when the
/// disk is full (and writes nothing).
const WRITER_PY: &str = r#"
import os, sys, time
out, full = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
n = 0
while True:
    n += 1
    path = os.path.join(out, "batch-%d.json" % n)
    if os.path.exists(full):
        print("ERROR OSError: [Errno 28] No space left on device: '%s'" % path, flush=True)
    else:
        with open(path + ".tmp", "w") as f:
            f.write("{}\n")
        os.replace(path + ".tmp", path)
        print("INFO wrote %s" % path, flush=True)
    time.sleep(0.3)
"#;

#[test]
fn services_refused_by_one_file_system_are_one_group_without_configuration() {
    let names = ["ingest", "thumbs"];
    let mut toml = DAEMON.to_string();
    for name in names {
        toml.push_str(&format!(
            r#"
[[service]]
name = "{name}"
log = "{{DIR}}/{name}.log"
grace = "2s"
recovery_window = "30s"
restart_budget = {{ max = 5, within = "1h" }}
[service.restart]
kind = "child"
command = ["python3", "{{DIR}}/writer.py", "{{DIR}}/{name}", "{{DIR}}/full"]
stdout = "{{DIR}}/{name}.log"
stop_grace = "1s"
[[service.check]]
kind = "artifact"
glob = "{{DIR}}/{name}/*.json"
max_age = "2s"
"#
        ));
    }
    let mut f = Fleet::new(&toml);
    std::fs::write(f.path("writer.py"), WRITER_PY).unwrap();
    f.watch();
    wait_for("both to be healthy", || {
        let st = status(&f);
        names
            .iter()
            .all(|n| {
                st.iter()
                    .any(|s| s["name"] == *n && s["state"] == "healthy")
            })
            .then_some(())
    });
    // The disk both write to is full for a while.
    std::fs::write(f.path("full"), "").unwrap();
    for name in names {
        f.wait_incident(&format!("{name}'s incident"), |i| i["service"] == name);
    }
    std::fs::remove_file(f.path("full")).unwrap();
    let mut groups = Vec::new();
    for name in names {
        let inc = f.wait_incident(&format!("{name} recovered in a group"), |i| {
            i["service"] == name && i["recovered"] == true && !i["group"].is_null()
        });
        groups.push(inc["group"].as_str().unwrap().to_string());
    }
    assert_eq!(groups[0], groups[1], "one group: {groups:?}");
    let lead = groups[0].trim_start_matches("grp-").to_string();
    f.wait_incident("the group's post-mortem naming both", |i| {
        i["id"] == lead.as_str()
            && i["postmortem"]["services"]
                .as_array()
                .is_some_and(|s| s.len() == 2)
    });
    let md = std::fs::read_to_string(f.path(&format!("state/postmortems/{lead}.md"))).unwrap();
    assert!(md.contains("## Shared cause"), "{md}");
    // The file system both directories are on, by the mount table: a prefix of both.
    let mount = md
        .split("the evidence of each names the file system mounted at ")
        .nth(1)
        .and_then(|rest| rest.split(": one shared cause").next())
        .unwrap_or_else(|| panic!("no shared file system named in {md}"));
    for name in names {
        assert!(
            f.path(name).starts_with(mount),
            "{mount} is not the file system of {}",
            f.path(name).display()
        );
    }
    let deepest = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| {
            t.lines()
                .filter_map(|l| l.split(' ').nth(4).map(std::path::PathBuf::from))
                .filter(|m| f.path("ingest").starts_with(m))
                .max_by_key(|m| m.components().count())
        })
        .ok()
        .flatten();
    if let Some(deepest) = deepest {
        assert_eq!(std::path::Path::new(mount), deepest, "{md}");
    }
}
