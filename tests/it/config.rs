//! Configs that parse but cannot work, through the real binary: `config check` and `watch`
//! refuse them with exit 78; a program not found is refused by `config check`, warned by `watch`.

use crate::util::*;

const SERVICE: &str = r#"
[[service]]
name = "svc"
grace = "1s"

[service.restart]
kind = "child"
command = ["sleep", "30"]

[[service.check]]
kind = "log_stale"
path = "{DIR}/svc.log"
max_age = "10m"
"#;

fn config(daemon: &str, service: &str) -> String {
    format!("[daemon]\nstate_dir = \"{{DIR}}/state\"\n{daemon}{service}")
}

#[test]
fn configs_that_cannot_work_exit_78_from_config_check_and_watch() {
    let long_dir = format!("/tmp/{}", "d".repeat(120));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "1ns tick",
            config("tick = \"1ns\"\n", SERVICE),
            "daemon.tick: `tick` \"1ns\" is too short",
        ),
        (
            "budget of 0",
            config(
                "",
                &SERVICE.replace(
                    "grace = \"1s\"",
                    "grace = \"1s\"\nrestart_budget = { max = 0, within = \"1h\" }",
                ),
            ),
            "service[0].restart_budget.max: `max` 0 is too small",
        ),
        (
            "5000-character name",
            config(
                "",
                &SERVICE.replace("\"svc\"", &format!("\"{}\"", "a".repeat(5000))),
            ),
            "is 5000 bytes; names name files and log lines, keep it to 64 bytes",
        ),
        (
            "absurd duration",
            config("", &SERVICE.replace("\"10m\"", "\"500years\"")),
            "`max_age` \"500years\" is too long",
        ),
        (
            "state_dir too long for a socket",
            config("", SERVICE).replace("\"{DIR}/state\"", &format!("{long_dir:?}")),
            "longer than a unix socket path may be",
        ),
    ];
    for (what, toml, needle) in cases {
        let f = Fleet::new(&toml);
        for cmd in [&["config", "check"][..], &["watch", "--for", "5s"][..]] {
            let out = f.run(cmd);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(78), "{what}: {cmd:?}: {err}");
            assert!(err.contains(needle), "{what}: {cmd:?}: {err}");
            assert!(
                err.contains(&format!("{}:", f.config.display())),
                "{what}: file and line missing: {err}"
            );
        }
        assert!(!std::path::Path::new(&long_dir).exists(), "{what}");
    }
}

#[test]
fn a_program_not_on_path_fails_config_check_and_watch_warns_and_keeps_watching() {
    let f = Fleet::new(&config(
        "",
        &SERVICE.replace(
            "[\"sleep\", \"30\"]",
            "[\"no-such-program-akashic\", \"x\"]",
        ),
    ));
    let out = f.run(&["config", "check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&format!(
            "{}:10: service[0].restart.command[0]: program \"no-such-program-akashic\" is not on PATH (",
            f.config.display()
        )) && err.contains("install it, give its absolute path, or set PATH in [service.restart] env"),
        "{err}"
    );

    let out = f.run(&["watch", "--for", "1s"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("program \"no-such-program-akashic\" is not on PATH")
            && err.contains("`akashic config check` lists every problem"),
        "{err}"
    );
}
