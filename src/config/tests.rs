//! Every rejected config shape, with the exact message the user sees.

use super::*;
use std::path::Path;
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
fn a_good_config_gets_defaults_and_resolved_paths() {
    let c = parse(GOOD, Path::new(PATH)).unwrap();
    assert_eq!(c.daemon.state_dir, Path::new("/etc/akashic/state"));
    assert_eq!(c.daemon.tick, Duration::from_secs(1));
    let s = &c.services[0];
    assert_eq!(s.grace, Duration::from_secs(30));
    assert_eq!(s.recovery_window, Duration::from_secs(300));
    assert_eq!(
        s.restart_budget,
        RestartBudget {
            max: 3,
            within: Duration::from_secs(3600)
        }
    );
    assert_eq!(s.checks[0].interval, Duration::from_secs(1));
    assert_eq!(s.checks[0].failures, 1);
    match &s.checks[0].kind {
        CheckKind::LogStale { path, max_age } => {
            assert_eq!(path, Path::new("/etc/akashic/bot.log"));
            assert_eq!(*max_age, Duration::from_secs(600));
        }
        other => panic!("{other:?}"),
    }
    assert!(c.llm.is_none());
    assert_eq!(c.memory.backend, MemoryBackend::Embedded);
}

#[test]
fn the_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/akashic.example.toml");
    let c = load(&path).unwrap();
    // Four services and one [[dependency]].
    assert_eq!(c.services.len(), 5);
    assert_eq!(c.services.iter().filter(|s| s.dependency).count(), 1);
}

#[test]
fn unknown_keys_are_all_named_with_their_lines() {
    let text = GOOD
        .replace("max_age = \"10m\"", "max_age = \"10m\"\nmax_agee = \"5m\"")
        .replace("[daemon]", "[daemon]\ntik = \"1s\"");
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (2 problems)
  /etc/akashic/akashic.toml:3: daemon.tik: unknown key; did you mean `tick`? (`akashic config example` shows every key)
  /etc/akashic/akashic.toml:15: service[0].check[0].max_agee: unknown key; did you mean `max_age`? (`akashic config example` shows every key)"
    );
}

#[test]
fn bad_duration() {
    assert_eq!(
        err(&GOOD.replace("\"10m\"", "\"10x\"")),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:13: service[0].check[0].max_age: invalid duration \"10x\"; write a number and a unit, like \"90s\", \"10m\" or \"2h\""
    );
}

#[test]
fn missing_command() {
    assert_eq!(
        err(&GOOD.replace("command = [\"python3\", \"bot.py\"]\n", "")),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:7: service[0].restart: missing `command`; add command = [\"python3\", \"bot.py\"]"
    );
    assert_eq!(
        err(&GOOD.replace("command = [\"python3\", \"bot.py\"]", "command = []")),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:9: service[0].restart.command: `command` is empty; give the program and its arguments, e.g. command = [\"python3\", \"bot.py\"]"
    );
}

#[test]
fn duplicate_service_name() {
    let text = format!(
        "{GOOD}{}",
        GOOD.replace("[daemon]\nstate_dir = \"state\"\n", "")
    );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:17: service[1].name: duplicate service name \"bot\" (also service[0]); service names must be unique"
    );
}

#[test]
fn checks_with_no_target() {
    let text = GOOD.replace("path = \"bot.log\"\n", "");
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:10: service[0].check[0]: log_stale check has no `path`; add path = \"/path/to/service.log\""
    );
    let text = GOOD.replace(
        "kind = \"log_stale\"\npath = \"bot.log\"\nmax_age = \"10m\"",
        "kind = \"http\"",
    );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:10: service[0].check[0]: http check has no `url`; add url = \"http://127.0.0.1:8080/health\""
    );
    let text = GOOD.replace(
        "kind = \"log_stale\"\npath = \"bot.log\"\nmax_age = \"10m\"",
        "kind = \"artifact\"\nmax_age = \"10m\"",
    );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:10: service[0].check[0]: artifact check has no target; add one of glob = \"/path/out/*.json\", sqlite = \"/path/db.sqlite\" (with query), or command = [\"sh\", \"-c\", \"...\"]"
    );
    let text = GOOD.replace(
        "kind = \"log_stale\"\npath = \"bot.log\"\nmax_age = \"10m\"",
        "kind = \"port\"",
    );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:10: service[0].check[0]: port check has no `addr`; add addr = \"127.0.0.1:8080\""
    );
}

#[test]
fn a_service_without_checks() {
    let text = GOOD.split("[[service.check]]").next().unwrap().to_string();
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:5: service[0]: service \"bot\" has no checks; add at least one [[service.check]] (log_stale, http, port or artifact)"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("name = \"bot\"", "name = \"Bot!\"")
        .replace("kind = \"child\"", "kind = \"docker\"")
        .replace("\"10m\"", "\"soon\"");
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (3 problems)
  /etc/akashic/akashic.toml:6: service[0].name: service name \"Bot!\" must match [a-z0-9_-]+, e.g. \"trading-bot\"
  /etc/akashic/akashic.toml:8: service[0].restart.kind: unknown restart kind \"docker\"; use \"child\", \"launchd\", \"systemd\" or \"command\"
  /etc/akashic/akashic.toml:13: service[0].check[0].max_age: invalid duration \"soon\"; write a number and a unit, like \"90s\", \"10m\" or \"2h\""
    );
}

#[test]
fn keys_of_another_kind_are_named() {
    let text = GOOD.replace("max_age = \"10m\"", "max_age = \"10m\"\nurl = \"http://x\"");
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:14: service[0].check[0].url: `url` does not apply to kind \"log_stale\"; remove it"
    );
}

#[test]
fn syntax_and_type_errors_name_the_line() {
    assert_eq!(
        err("[daemon]\ntick = 1s\n"),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:2: invalid TOML: string values must be quoted, expected literal string"
    );
    let text = GOOD.replace(
        "kind = \"log_stale\"",
        "kind = \"log_stale\"\nfailures = \"three\"",
    );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:12: service[0].check[0].failures: invalid type: string \"three\", expected u32; see specs/config.md for what `failures` takes"
    );
    assert_eq!(
        err("[daemon]\ntick = 1\n"),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:2: daemon.tick: invalid type: integer `1`, expected a string; write a duration in quotes, like \"10s\" or \"5m\""
    );
}

#[test]
fn llm_and_memory_sections_are_checked() {
    let text = format!(
        "{GOOD}\n[llm]\nbase_url = \"localhost:8080\"\n\n[memory]\nbackend = \"pinecone\"\n"
    );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (3 problems)
  /etc/akashic/akashic.toml:15: llm: missing `model`; add the model name the server serves, e.g. model = \"local\"
  /etc/akashic/akashic.toml:16: llm.base_url: base_url \"localhost:8080\" must start with http:// or https://, e.g. \"http://127.0.0.1:8080/v1\"
  /etc/akashic/akashic.toml:19: memory.backend: unknown memory backend \"pinecone\"; use \"embedded\" or \"qdrant\""
    );
}

#[test]
fn unknown_keys_do_not_hide_the_other_problems() {
    let text = GOOD
        .replace("[daemon]", "[daemon]\nforensic_budget = \"2s\"")
        .replace("\"10m\"", "\"10x\"")
        .replace("kind = \"child\"", "kind = \"child\"\nzzzzzz = 1");
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (3 problems)
  /etc/akashic/akashic.toml:3: daemon.forensic_budget: unknown key; did you mean `forensics_budget`? (`akashic config example` shows every key)
  /etc/akashic/akashic.toml:10: service[0].restart.zzzzzz: unknown key; check its spelling against `akashic config example`
  /etc/akashic/akashic.toml:15: service[0].check[0].max_age: invalid duration \"10x\"; write a number and a unit, like \"90s\", \"10m\" or \"2h\""
    );
}

#[test]
fn a_bad_user_signature_file_names_the_config_key_and_the_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("sigs.toml");
    std::fs::write(
        &sig,
        "[[signature]]\ntext = \"E_ACME_77\"\ncategory = \"quota\"\nmeaning = \"m\"\nsource = \"s\"\n",
    )
    .unwrap();
    let text = format!(
        "{GOOD}\n[agent]\nsignatures = {:?}\n",
        sig.display().to_string()
    );
    let e = err(&text);
    let e = e.replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(e, @r"
    invalid config /etc/akashic/akashic.toml (1 problem)
      /etc/akashic/akashic.toml:16: agent.signatures: signature file [DIR]/sigs.toml:1: unknown category `quota`; use one of rate_limit, resource_exhaustion, deadlock, dependency_unavailable, config_error, auth_failure, crash, network, data_error
    ");
    std::fs::write(
        &sig,
        "[[signature]]\ntext = \"E_ACME_77\"\ncategory = \"rate_limit\"\nmeaning = \"ACME's quota code\"\nsource = \"ACME API\"\n",
    )
    .unwrap();
    let c = parse(&text, Path::new(PATH)).unwrap();
    assert_eq!(c.agent.signatures_file.as_deref(), Some(sig.as_path()));
    assert_eq!(
        c.agent.signatures.signatures[0].meaning,
        "ACME's quota code"
    );
}

const FLEET: &str = r#"
[daemon]
state_dir = "state"

[[service]]
name = "web"
depends_on = ["api"]
[[service.check]]
kind = "port"
addr = "127.0.0.1:8080"

[[service]]
name = "api"
depends_on = ["db", "web"]
[[service.check]]
kind = "port"
addr = "127.0.0.1:8081"

[[dependency]]
name = "db"
[[dependency.check]]
kind = "port"
addr = "127.0.0.1:5432"
"#;

#[test]
fn a_dependency_cycle_is_rejected_naming_the_cycle_file_key_and_fix() {
    assert_eq!(
        err(FLEET),
        "invalid config /etc/akashic/akashic.toml (1 problem)
  /etc/akashic/akashic.toml:7: service[0].depends_on: dependency cycle web -> api -> web: nothing on it could start first or be blamed first; remove one of these depends_on entries"
    );
}

#[test]
fn depends_on_names_must_exist_and_not_be_the_service_itself() {
    let text = FLEET
        .replace("depends_on = [\"api\"]", "depends_on = [\"web\"]")
        .replace(
            "depends_on = [\"db\", \"web\"]",
            "depends_on = [\"db\", \"dbb\"]",
        );
    assert_eq!(
        err(&text),
        "invalid config /etc/akashic/akashic.toml (2 problems)
  /etc/akashic/akashic.toml:7: service[0].depends_on[0]: service \"web\" depends on itself; remove \"web\" from depends_on
  /etc/akashic/akashic.toml:14: service[1].depends_on[1]: depends_on names \"dbb\", which is neither a [[service]] nor a [[dependency]]; add a [[dependency]] named \"dbb\" with a check, or fix the name"
    );
}

#[test]
fn dependencies_are_watched_not_restarted_and_start_first() {
    let text = FLEET.replace("depends_on = [\"db\", \"web\"]", "depends_on = [\"db\"]");
    let c = parse(&text, Path::new(PATH)).unwrap();
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "api", "web"]);
    assert!(c.services[0].dependency && c.services[0].restart.is_none());
    assert!(!c.services[1].dependency);
}

#[test]
fn a_dependency_named_like_a_service_is_rejected() {
    let text = FLEET
        .replace("depends_on = [\"db\", \"web\"]", "depends_on = [\"db\"]")
        .replace("name = \"db\"", "name = \"web\"")
        .replace("depends_on = [\"db\"]", "depends_on = [\"web\"]");
    let e = err(&text);
    assert!(
        e.contains("dependency[0].name: duplicate name \"web\" (also service[0]); service and dependency names must be unique"),
        "{e}"
    );
}

#[test]
fn recurrence_rules_are_read_and_wrong_ones_named() {
    let good = format!(
        "{GOOD}\n[[service.on_recurrence]]\ncategory = \"deadlock\"\ncount = 3\nwithin = \"90d\"\nthen = \"remedy\"\nrun = [\"sh\", \"-c\", \"rm -rf cache/*\"]\ntimeout = \"5s\"\n"
    );
    let c = parse(&good, Path::new(PATH)).unwrap();
    let r = &c.services[0].on_recurrence[0];
    assert_eq!(r.count, 3);
    assert_eq!(r.category, Some(crate::core::category::Category::Deadlock));
    assert!(matches!(
        &r.then,
        RecurrenceAction::Remedy { run, timeout, .. } if run[0] == "sh" && *timeout == Duration::from_secs(5)
    ));
    let bad = format!(
        "{GOOD}\n[[service.on_recurrence]]\ncategory = \"slowness\"\nwithin = \"90d\"\nthen = \"reboot\"\n\n[[service.on_recurrence]]\ncount = 2\nwithin = \"1d\"\nthen = \"escalate\"\nrun = [\"true\"]\n"
    );
    assert_eq!(
        err(&bad),
        "invalid config /etc/akashic/akashic.toml (4 problems)
  /etc/akashic/akashic.toml:15: service[0].on_recurrence[0]: missing `count`; add count = 3 (this incident is at least the 3rd of its pattern)
  /etc/akashic/akashic.toml:16: service[0].on_recurrence[0].category: unknown category \"slowness\"; expected one of rate_limit, resource_exhaustion, deadlock, dependency_unavailable, config_error, auth_failure, crash, network, data_error, unknown; or leave `category` out to match any
  /etc/akashic/akashic.toml:18: service[0].on_recurrence[0].then: unknown `then` \"reboot\"; use \"restart\", \"remedy\", \"escalate\" or \"notify\"
  /etc/akashic/akashic.toml:24: service[0].on_recurrence[1].run: `run` applies only to then = \"remedy\", not then = \"escalate\"; remove it"
    );
}
