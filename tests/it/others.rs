//! Other users: a second uid can neither read akashic's state nor command it, even with the
//! modes loosened by hand; a state_dir that is not akashic's own, or has links planted in it,
//! is refused with the path and the fix.

use crate::util::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

/// The second user: `nobody` on most systems.
const OTHER: u32 = 65534;

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `program args` as uid and gid 65534.
fn as_other(program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).env("HOME", "/nonexistent");
    // SAFETY: setgroups, setgid and setuid are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(OTHER) != 0
                || libc::setuid(OTHER) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn another_uid_can_neither_read_state_nor_issue_commands() {
    if !root() {
        println!("skipped: others:: needs root to act as a second uid ({OTHER})");
        return;
    }
    let port = free_port();
    let mut f = Fleet::new(&format!(
        "{DAEMON}{}",
        demo_service("api", port, "", r#"{ max = 3, within = "1h" }"#, "20s")
    ));
    // The fleet's folder and config are readable by all; the state_dir must not be.
    std::fs::set_permissions(f.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&f.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    f.watch();
    let state = f.path("state");
    wait_for("the daemon to answer", || {
        (f.json(&["status", "--json"])["daemon"]["state"] == "running").then_some(())
    });
    wait_for("services.json", || {
        state.join("services.json").exists().then_some(())
    });
    let cfg = f.config.to_str().unwrap().to_string();

    // Closed by the modes: the folder, the files in it, the socket.
    for file in ["services.json", "heartbeat.json", "incidents.db"] {
        let p = state.join(file);
        let o = as_other("cat", &[p.to_str().unwrap()]);
        assert!(!o.status.success(), "{file} was readable: {}", text(&o));
        assert!(text(&o).contains("Permission denied"), "{}", text(&o));
    }
    let o = as_other(AKASHIC, &["--config", &cfg, "resume", "api"]);
    assert!(!o.status.success(), "resume went through: {}", text(&o));
    let o = as_other(AKASHIC, &["--config", &cfg, "status", "--json"]);
    assert!(
        !text(&o).contains("\"api\""),
        "status told another user: {}",
        text(&o)
    );

    // Closed by the daemon: with the folder and socket opened by hand, the peer's uid is refused,
    // and the files stay 0600.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = state.join("akashic.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = as_other(AKASHIC, &["--config", &cfg, "resume", "api"]);
    assert!(!o.status.success(), "resume went through: {}", text(&o));
    assert!(
        text(&o).contains("refused: this socket serves the user akashic runs as"),
        "{}",
        text(&o)
    );
    let o = as_other("cat", &[state.join("services.json").to_str().unwrap()]);
    assert!(
        !o.status.success(),
        "services.json was readable: {}",
        text(&o)
    );
    assert_eq!(
        count_lines(
            &f.path("daemon.log"),
            "refused a connection from another user"
        ),
        1
    );
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Our own user still gets through.
    assert_eq!(f.json(&["status", "--json"])["daemon"]["state"], "running");
}

/// A fleet of one service that needs no process: a port check.
fn quiet_fleet() -> Fleet {
    Fleet::new(&format!(
        "{DAEMON}\n[[service]]\nname = \"api\"\n\n[[service.check]]\nkind = \"port\"\naddr = \"127.0.0.1:{}\"\n",
        free_port()
    ))
}

/// Starts `watch` on a fleet expected to refuse it; returns its exit code and stderr (a
/// daemon that does start is stopped, and its code is 0).
fn refused_start(f: &Fleet) -> (Option<i32>, String) {
    let mut child = Command::new(AKASHIC)
        .args(["--config", f.config.to_str().unwrap(), "watch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < TIMEOUT && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn planted_symlinks_are_refused_and_never_followed() {
    let f = quiet_fleet();
    let state = f.path("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let target = f.path("root-only");
    std::fs::write(&target, "precious\n").unwrap();
    for name in ["services.json", "incidents.db", "postmortems"] {
        let link = state.join(name);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (code, err) = refused_start(&f);
        assert_ne!(code, Some(0), "{err}");
        assert!(
            err.contains(&format!(
                "{} is a symbolic link; akashic follows no link inside its state_dir: remove it",
                link.display()
            )),
            "{err}"
        );
        std::fs::remove_file(&link).unwrap();
    }
    // A link planted in a folder akashic makes inside the state_dir.
    std::fs::create_dir(state.join("children")).unwrap();
    std::os::unix::fs::symlink(&target, state.join("children/api.pid")).unwrap();
    let (code, err) = refused_start(&f);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("children/api.pid is a symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert_eq!(
        std::fs::metadata(&target).unwrap().mode() & 0o777,
        0o644,
        "the link's target was not chmod'ed either"
    );
}

#[test]
fn a_state_dir_others_can_write_or_own_is_refused() {
    let f = quiet_fleet();
    let state = f.path("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (code, err) = refused_start(&f);
    assert_ne!(code, Some(0), "{err}");
    let p = state.display();
    assert!(
        err.contains(&format!(
            "state_dir {p} can be written by every user (mode 1777); run `chmod 700 {p}`"
        )),
        "{err}"
    );
    if !root() {
        println!("skipped: a state_dir owned by another uid needs root to chown");
        return;
    }
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    nix::unistd::chown(&state, Some(OTHER.into()), Some(OTHER.into())).unwrap();
    let (code, err) = refused_start(&f);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("state_dir {p} belongs to uid {OTHER}, not to this user (uid 0); remove it, or set [daemon] state_dir to a folder you own")),
        "{err}"
    );
}
