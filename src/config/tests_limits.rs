//! Configs that parse but cannot work: out-of-bounds durations and counts, names and paths too
//! long, programs not found. Each with the exact message the user sees.

use super::bounds::{self, DurationBound};
use super::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PATH: &str = "/etc/akashic/akashic.toml";

fn err(text: &str) -> String {
    match parse(text, Path::new(PATH)) {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str = r#"
[daemon]
state_dir = "state"

[[service]]
name = "bot"
[service.restart]
kind = "child"
command = ["python3", "bot.py"]
[[service.check]]
kind = "log_stale"
path = "bot.log"
max_age = "10m"
"#;

#[test]
fn a_one_nanosecond_tick_is_rejected() {
    assert_eq!(
        err(&GOOD.replace("state_dir = \"state\"", "state_dir = \"state\"\ntick = \"1ns\"")),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:4: daemon.tick: `tick` \"1ns\" is too short (a faster tick only keeps a core busy); write at least tick = \"10ms\""
    );
}

#[test]
fn an_absurd_duration_is_rejected() {
    assert_eq!(
        err(&GOOD.replace("\"10m\"", "\"200years\"")),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:13: service[0].check[0].max_age: `max_age` \"200years\" is too long (a stopped service would not be noticed for months); write at most max_age = \"90d\""
    );
}

#[test]
fn a_restart_budget_of_zero_is_rejected() {
    assert_eq!(
        err(&GOOD.replace(
            "name = \"bot\"",
            "name = \"bot\"\nrestart_budget = { max = 0, within = \"1h\" }"
        )),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:7: service[0].restart_budget.max: `max` 0 is too small (0 restarts means escalate at once; leave out [service.restart] to only watch); use at least 1"
    );
}

#[test]
fn zero_failures_is_rejected() {
    assert_eq!(
        err(&GOOD.replace("kind = \"log_stale\"", "kind = \"log_stale\"\nfailures = 0")),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:12: service[0].check[0].failures: `failures` 0 is too small (a check has to fail at least once to count); use at least 1"
    );
}

#[test]
fn a_five_thousand_character_service_name_is_rejected() {
    let long = "a".repeat(5000);
    assert_eq!(
        err(&GOOD.replace("name = \"bot\"", &format!("name = \"{long}\""))),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:6: service[0].name: service name \"aaaaaaaaaaaaaaaaaaaa...\" is 5000 bytes; names name files and log lines, keep it to 64 bytes of [a-z0-9_-], e.g. \"trading-bot\""
    );
    let ok = "a".repeat(bounds::NAME_MAX);
    assert!(parse(
        &GOOD.replace("\"bot\"", &format!("\"{ok}\"")),
        Path::new(PATH)
    )
    .is_ok());
}

#[test]
fn a_state_dir_too_long_for_the_control_socket_is_rejected() {
    // "/tmp/" + 89 = 94 bytes: its socket path is exactly the limit on Linux.
    let fits = format!("/tmp/{}", "s".repeat(bounds::SOCKET_PATH_MAX - 13 - 5));
    let text = GOOD.replace("\"state\"", &format!("{fits:?}"));
    assert!(parse(&text, Path::new(PATH)).is_ok(), "{}", err(&text));
    let long = format!("{fits}x");
    assert_eq!(
        err(&GOOD.replace("\"state\"", &format!("{long:?}"))),
        format!(
            "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:3: daemon.state_dir: the control socket {long}/akashic.sock would be {} bytes, longer than a unix socket path may be ({} here), so `status`, `incidents` and `resume` could not reach the daemon; set state_dir to a path of at most {} bytes, e.g. state_dir = \"~/.akashic\"",
            bounds::SOCKET_PATH_MAX + 1,
            bounds::SOCKET_PATH_MAX,
            bounds::SOCKET_PATH_MAX - 13,
        )
    );
}

#[test]
fn a_path_longer_than_the_system_allows_is_rejected() {
    let name = "n".repeat(300);
    assert_eq!(
        err(&GOOD.replace("\"bot.log\"", &format!("\"{name}.log\""))),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:12: service[0].check[0].path: a name in the path is 304 bytes, longer than file systems allow (255); use a shorter name"
    );
    let deep = "d/".repeat(bounds::PATH_MAX / 2 + 1);
    assert_eq!(
        err(&GOOD.replace("\"bot.log\"", &format!("\"/{deep}bot.log\""))),
        format!("invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:12: service[0].check[0].path: the path is {} bytes, longer than this system allows ({}); use a shorter path", deep.len() + 8, bounds::PATH_MAX)
    );
}

#[test]
fn a_recovery_window_within_grace_is_rejected() {
    assert_eq!(
        err(&GOOD.replace(
            "name = \"bot\"",
            "name = \"bot\"\ngrace = \"5m\"\nrecovery_window = \"2m\""
        )),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:8: service[0].recovery_window: recovery_window (2m) is not longer than grace (5m): recovery counts only after grace, so every restart would be escalated; make it longer, e.g. recovery_window = \"11m\""
    );
    // Without a restart there is nothing to confirm: grace alone is fine.
    let watched_only = GOOD
        .replace(
            "name = \"bot\"",
            "name = \"bot\"\ngrace = \"5m\"\nrecovery_window = \"2m\"",
        )
        .replace(
            "[service.restart]\nkind = \"child\"\ncommand = [\"python3\", \"bot.py\"]\n",
            "",
        );
    assert!(parse(&watched_only, Path::new(PATH)).is_ok());
}

/// Where each duration bound's key goes in a config, as a replacement in `GOOD`.
fn place(b: &DurationBound, v: &str) -> String {
    let svc = |extra: &str| GOOD.replace("name = \"bot\"", &format!("name = \"bot\"\n{extra}"));
    let check = |extra: &str| {
        GOOD.replace(
            "kind = \"log_stale\"",
            &format!("kind = \"log_stale\"\n{extra}"),
        )
    };
    let artifact = |extra: &str| {
        GOOD.replace(
            "kind = \"log_stale\"\npath = \"bot.log\"\nmax_age = \"10m\"",
            &format!("kind = \"artifact\"\ncommand = [\"sh\", \"-c\", \"echo 1\"]\n{extra}"),
        )
    };
    match b.key {
        "daemon.tick" | "daemon.forensics_budget" => GOOD.replace(
            "state_dir = \"state\"",
            &format!("state_dir = \"state\"\n{} = \"{v}\"", &b.key[7..]),
        ),
        "llm.timeout" => format!(
            "{GOOD}\n[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\ntimeout = \"{v}\"\n"
        ),
        "notify.reminder" => {
            format!("{GOOD}\n[notify]\nwebhook = \"http://127.0.0.1:1/h\"\nreminder = \"{v}\"\n")
        }
        // A long grace needs a longer window, so the window rule does not hide the bound.
        "service.grace" => svc(&format!("grace = \"{v}\"\nrecovery_window = \"7days\"")),
        "service.recovery_window" => svc(&format!("grace = \"100ms\"\nrecovery_window = \"{v}\"")),
        "service.restart_budget.within" => {
            svc(&format!("restart_budget = {{ max = 3, within = \"{v}\" }}"))
        }
        "service.restart.stop_grace" => GOOD.replace(
            "command = [\"python3\", \"bot.py\"]",
            &format!("command = [\"python3\", \"bot.py\"]\nstop_grace = \"{v}\""),
        ),
        "service.check.interval" => check(&format!("interval = \"{v}\"")),
        "service.check.max_age" => GOOD.replace("\"10m\"", &format!("\"{v}\"")),
        "service.check.within" => artifact(&format!("within = \"{v}\"")),
        "service.check.timeout" => artifact(&format!("within = \"1h\"\ntimeout = \"{v}\"")),
        "service.on_recurrence.within" => format!(
            "{GOOD}\n[[service.on_recurrence]]\ncount = 3\nwithin = \"{v}\"\nthen = \"escalate\"\n"
        ),
        "service.on_recurrence.timeout" => format!(
            "{GOOD}\n[[service.on_recurrence]]\ncount = 3\nwithin = \"90d\"\nthen = \"remedy\"\nrun = [\"true\"]\ntimeout = \"{v}\"\n"
        ),
        other => panic!("no place for {other}"),
    }
}

#[test]
fn every_duration_bound_is_enforced_at_both_ends() {
    let tiny = Duration::from_nanos(1);
    for b in bounds::ALL_DURATIONS {
        let name = b.key.rsplit('.').next().unwrap();
        for (v, ok) in [
            (b.min, true),
            (b.max, true),
            (b.min - tiny, false),
            (b.max + Duration::from_secs(1), false),
        ] {
            let v = bounds::show(v);
            let text = place(b, &v);
            match (parse(&text, Path::new(PATH)), ok) {
                (Ok(_), true) => {}
                (Err(e), false) => {
                    let e = e.to_string();
                    assert!(
                        e.contains("(1 problem)")
                            && e.contains(&format!(": `{name}` \"{v}\" is too")),
                        "{}: {v}: {e}",
                        b.key
                    );
                }
                (Err(e), true) => panic!("{} = {v} was rejected: {e}", b.key),
                (Ok(_), false) => panic!("{} = {v} was accepted", b.key),
            }
        }
    }
}

/// Programs that exist only by the names given.
struct Only(&'static [&'static str]);

impl Programs for Only {
    fn find(&self, program: &str, _path: &str, _cwd: Option<&Path>) -> Option<PathBuf> {
        self.0
            .contains(&program)
            .then(|| PathBuf::from("/bin").join(program))
    }
    fn own_path(&self) -> String {
        "/usr/bin:/bin".into()
    }
}

#[test]
fn programs_not_found_are_named_with_the_path_they_were_looked_up_in() {
    let text = GOOD
        .replace(
            "command = [\"python3\", \"bot.py\"]",
            "command = [\"pyhton3\", \"bot.py\"]\nenv = { PATH = \"/opt/bin\" }",
        )
        .replace(
            "[[service.check]]",
            "[[service.check]]\nkind = \"artifact\"\ncommand = [\"env\", \"A=1\", \"wcc\", \"-l\"]\nwithin = \"1h\"\n[[service.check]]",
        );
    let loaded = parse_with(&text, Path::new(PATH), Some(&Only(&["env"]))).unwrap();
    let shown: Vec<String> = loaded
        .missing_programs
        .iter()
        .map(|i| format!("{:?}: {}: {}", i.line, i.key, i.message))
        .collect();
    assert_eq!(
        shown,
        [
            "Some(9): service[0].restart.command[0]: program \"pyhton3\" is not on PATH (/opt/bin); install it, give its absolute path, or set PATH in [service.restart] env",
            "Some(13): service[0].check[0].command[2]: program \"wcc\" is not on PATH (/usr/bin:/bin); install it, give its absolute path, or add its folder to the PATH akashic runs with",
        ]
    );
    // Without a lookup, nothing is looked up.
    assert!(parse(&text, Path::new(PATH)).is_ok());
}

#[test]
fn a_missing_program_is_listed_with_the_other_problems() {
    let text = GOOD
        .replace(
            "command = [\"python3\", \"bot.py\"]",
            "command = [\"./bot\"]",
        )
        .replace("\"10m\"", "\"10x\"");
    let e = parse_with(&text, Path::new(PATH), Some(&Only(&[])))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid config /etc/akashic/akashic.toml (2 problems)
  /etc/akashic/akashic.toml:9: service[0].restart.command[0]: program \"./bot\" does not exist or is not executable; fix the path, or make it executable (chmod +x)
  /etc/akashic/akashic.toml:13: service[0].check[0].max_age: invalid duration \"10x\"; write a number and a unit, like \"90s\", \"10m\" or \"2h\""
    );
}
