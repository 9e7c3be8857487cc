//! Restart backends and forensics against real processes and stand-in launchctl/systemctl.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use akashic::config::{ChildSpec, RestartBudget, RestartSpec, ServiceConfig};
use akashic::process::child::ChildControl;
use akashic::process::command::CommandControl;
use akashic::process::launchd::LaunchdControl;
use akashic::process::pidfile::PidFile;
use akashic::process::systemd::SystemdControl;
use akashic::process::{backend_for, pid_alive, ExitEvent, ProcessControl, Tools};
use tokio::sync::mpsc;

/// One shared limit for every wait.
const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `cond` until it holds, failing the test after `PATIENCE`.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn spec(command: &[&str]) -> ChildSpec {
    ChildSpec {
        command: argv(command),
        cwd: None,
        env: BTreeMap::new(),
        stdout: None,
        stop_grace: Duration::from_secs(5),
    }
}

fn child(
    name: &str,
    spec: ChildSpec,
    state: &Path,
    leave_running: bool,
) -> (ChildControl, mpsc::UnboundedReceiver<ExitEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (ChildControl::new(name, spec, state, leave_running, tx), rx)
}

async fn pid_of(c: &dyn ProcessControl) -> u32 {
    c.pid().await.expect("the child should have a pid")
}

/// Waits for `path` to hold a pid and returns it.
async fn pid_in(path: &Path) -> u32 {
    let mut pid = None;
    eventually("a pid in the file", || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        pid.is_some()
    })
    .await;
    pid.unwrap_or_default()
}

/// A bash child that starts a grandchild `sleep` in its group and writes its pid to `gc.pid`.
fn with_grandchild(dir: &Path, prelude: &str) -> ChildSpec {
    let script = format!("{prelude} sleep 300 & echo $! > gc.pid; wait");
    ChildSpec {
        cwd: Some(dir.to_path_buf()),
        ..spec(&["bash", "-c", &script])
    }
}

#[tokio::test]
async fn restart_replaces_the_child_and_its_whole_group_without_reporting_an_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (c, mut exits) = child("bot", with_grandchild(dir.path(), ""), dir.path(), false);
    c.ensure_started().await.unwrap();
    let first = pid_of(&c).await;
    let grandchild = pid_in(&dir.path().join("gc.pid")).await;
    assert!(pid_alive(grandchild));
    c.ensure_started().await.unwrap();
    assert_eq!(
        pid_of(&c).await,
        first,
        "ensure_started on a running child is a no-op"
    );

    let action = within("restart", c.restart()).await.unwrap();
    assert!(
        action.starts_with("SIGTERM + exited within ")
            && action.contains("s + child restart (pid "),
        "{action}"
    );
    let second = pid_of(&c).await;
    assert!(action.starts_with("SIGTERM + exited within "), "{action}");
    assert!(
        action.ends_with(&format!("s + child restart (pid {second})")),
        "{action}"
    );
    assert_ne!(first, second);
    assert!(
        !pid_alive(first) && !pid_alive(grandchild),
        "the old group is gone"
    );
    assert!(exits.try_recv().is_err(), "a restart's kill is not a crash");
    let recorded = PidFile::read(&PidFile::path(dir.path(), "bot")).unwrap();
    assert_eq!((recorded.pid, recorded.pgid), (second, second));

    within("shutdown", c.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed_after_stop_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = with_grandchild(dir.path(), "trap '' TERM;");
    s.stop_grace = Duration::from_millis(300);
    let (c, mut exits) = child("stubborn", s, dir.path(), false);
    c.ensure_started().await.unwrap();
    let first = pid_of(&c).await;
    let grandchild = pid_in(&dir.path().join("gc.pid")).await;

    let action = within("restart", c.restart()).await.unwrap();
    assert_eq!(
        action,
        format!(
            "SIGTERM + SIGKILL after 300ms + child restart (pid {})",
            pid_of(&c).await
        )
    );
    assert!(!pid_alive(first) && !pid_alive(grandchild));
    assert!(exits.try_recv().is_err());
    within("shutdown", c.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_child_that_exits_on_its_own_is_reported_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let (c, mut exits) = child("crashy", spec(&["sh", "-c", "exit 3"]), dir.path(), false);
    c.ensure_started().await.unwrap();
    let event = within("the exit event", exits.recv()).await.unwrap();
    assert_eq!(
        event,
        ExitEvent {
            service: "crashy".into(),
            detail: "exited with code 3".into()
        }
    );
    assert!(
        !PidFile::path(dir.path(), "crashy").exists(),
        "a crashed child's pid file goes"
    );
    assert_eq!(c.pid().await, None);

    let (c, mut exits) = child(
        "killed",
        spec(&["sh", "-c", "kill -9 $$"]),
        dir.path(),
        false,
    );
    c.ensure_started().await.unwrap();
    let event = within("the exit event", exits.recv()).await.unwrap();
    assert_eq!(event.detail, "killed by signal 9 (SIGKILL)");
}

#[tokio::test]
async fn env_cwd_and_output_file_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs/deep/bot.log");
    let s = ChildSpec {
        cwd: Some(dir.path().to_path_buf()),
        env: BTreeMap::from([("MODE".to_string(), "live".to_string())]),
        stdout: Some(out.clone()),
        ..spec(&["sh", "-c", "echo \"mode=$MODE cwd=$(pwd)\"; echo oops >&2"])
    };
    let (c, mut exits) = child("bot", s, dir.path(), false);
    for _ in 0..2 {
        c.ensure_started().await.unwrap();
        let event = within("the exit event", exits.recv()).await.unwrap();
        assert_eq!(event.detail, "exited with code 0");
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let line = format!("mode=live cwd={}\noops\n", dir.path().display());
    assert_eq!(
        text,
        line.repeat(2),
        "stdout and stderr are appended to the file"
    );
}

#[tokio::test]
async fn a_spawn_failure_names_the_program_and_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let s = ChildSpec {
        cwd: Some(dir.path().to_path_buf()),
        ..spec(&["akashic-no-such-program"])
    };
    let (c, _exits) = child("bot", s, dir.path(), false);
    let err = c.ensure_started().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "spawn `akashic-no-such-program` in {}",
            dir.path().display()
        )
    );
    let cause = std::error::Error::source(&err)
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(cause.contains("No such file or directory"), "{cause}");

    let missing = dir.path().join("gone");
    let s = ChildSpec {
        cwd: Some(missing.clone()),
        ..spec(&["true"])
    };
    let (c, _exits) = child("bot", s, dir.path(), false);
    let err = c.ensure_started().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("spawn `true` in {}", missing.display())
    );
}

#[tokio::test]
async fn a_leftover_child_of_a_killed_akashic_is_adopted_not_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&["sleep", "300"]);
    // The first akashic starts the child, then dies without a shutdown (as under kill -9).
    let (first, _exits) = child("bot", s.clone(), dir.path(), false);
    first.ensure_started().await.unwrap();
    let old = pid_of(&first).await;
    drop(first);
    assert!(pid_alive(old));

    // The next akashic watches the same process: a healthy service is not killed.
    let (second, mut exits) = child("bot", s, dir.path(), false);
    within("ensure_started", second.ensure_started())
        .await
        .unwrap();
    assert_eq!(pid_of(&second).await, old);
    assert!(pid_alive(old));
    // When its checks call for a restart, the adopted group is stopped and replaced.
    let action = within("restart", second.restart()).await.unwrap();
    assert!(action.contains("+ child restart (pid "), "{action}");
    eventually("the adopted child to be gone", || !pid_alive(old)).await;
    let new = pid_of(&second).await;
    assert_ne!(old, new);
    assert_eq!(
        PidFile::read(&PidFile::path(dir.path(), "bot"))
            .unwrap()
            .pid,
        new
    );
    within("shutdown", second.shutdown()).await.unwrap();
    assert!(!pid_alive(new));
    assert!(
        exits.try_recv().is_err(),
        "stops by akashic are not crashes"
    );
}

#[tokio::test]
async fn an_adopted_child_that_dies_is_reported_as_exited() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&["sleep", "300"]);
    let (first, _exits) = child("bot", s.clone(), dir.path(), false);
    first.ensure_started().await.unwrap();
    let old = pid_of(&first).await;
    drop(first);
    let (second, mut exits) = child("bot", s, dir.path(), false);
    within("ensure_started", second.ensure_started())
        .await
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let exit = within("the exit report", exits.recv()).await.unwrap();
    assert!(exit.detail.contains("adopted"), "{}", exit.detail);
}

#[tokio::test]
async fn a_child_never_runs_unless_its_pid_file_was_written() {
    // The start gate: the program runs only after akashic said "go", which it says after
    // the pid file is durable. A gate whose writer is gone runs nothing.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let read_fd = std::os::fd::AsRawFd::as_raw_fd(&r);
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args([
        "-c",
        akashic::process::child::GATE_SCRIPT,
        "akashic-gate",
        "touch",
    ])
    .arg(&marker);
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(read_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut gated = cmd.spawn().unwrap();
    drop(r);
    drop(w); // akashic "died" before writing the pid file
    assert_eq!(gated.wait().unwrap().code(), Some(125));
    assert!(!marker.exists(), "the program must not have run");
}

#[tokio::test]
async fn a_restart_before_any_start_also_replaces_a_leftover() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&["sleep", "303"]);
    let (first, _exits) = child("bot", s.clone(), dir.path(), false);
    first.ensure_started().await.unwrap();
    let old = pid_of(&first).await;
    drop(first);

    let (second, mut exits) = child("bot", s, dir.path(), false);
    let action = within("restart", second.restart()).await.unwrap();
    assert_eq!(
        action,
        format!(
            "not running + child restart (pid {})",
            pid_of(&second).await
        )
    );
    eventually("the leftover to be gone", || !pid_alive(old)).await;
    assert_ne!(pid_of(&second).await, old);
    within("shutdown", second.shutdown()).await.unwrap();
    assert!(exits.try_recv().is_err());
}

#[tokio::test]
async fn a_pid_file_naming_another_program_never_gets_it_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut stranger = std::process::Command::new("sleep")
        .arg("301")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = stranger.id();
    // A stale pid file whose pid now belongs to an unrelated process (pid reuse).
    let stale = PidFile {
        pid,
        pgid: pid,
        print: akashic::process::pidfile::CommandPrint::of(&argv(&["python3", "bot.py"])),
        command: Vec::new(),
    };
    stale.write(&PidFile::path(dir.path(), "bot")).unwrap();

    let (c, _exits) = child("bot", spec(&["sleep", "300"]), dir.path(), false);
    within("ensure_started", c.ensure_started()).await.unwrap();
    assert_ne!(pid_of(&c).await, pid);
    assert!(pid_alive(pid), "the stranger is left alone");
    within("shutdown", c.shutdown()).await.unwrap();
    assert!(pid_alive(pid));
    let _ = stranger.kill();
    let _ = stranger.wait();
}

#[tokio::test]
async fn shutdown_stops_the_group_and_removes_the_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let (c, mut exits) = child("bot", with_grandchild(dir.path(), ""), dir.path(), false);
    c.ensure_started().await.unwrap();
    let pid = pid_of(&c).await;
    let grandchild = pid_in(&dir.path().join("gc.pid")).await;
    within("shutdown", c.shutdown()).await.unwrap();
    assert!(!pid_alive(pid) && !pid_alive(grandchild));
    assert!(!PidFile::path(dir.path(), "bot").exists());
    assert!(exits.try_recv().is_err());
}

#[tokio::test]
async fn leave_running_keeps_the_child_and_its_pid_file_for_the_next_akashic() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&["sleep", "302"]);
    let (c, _exits) = child("bot", s.clone(), dir.path(), true);
    c.ensure_started().await.unwrap();
    let pid = pid_of(&c).await;
    within("shutdown", c.shutdown()).await.unwrap();
    assert!(pid_alive(pid));
    assert_eq!(
        PidFile::read(&PidFile::path(dir.path(), "bot"))
            .unwrap()
            .pid,
        pid
    );

    // The next akashic watches the same process, and stops it when it stops.
    let (next, _exits2) = child("bot", s, dir.path(), false);
    within("ensure_started", next.ensure_started())
        .await
        .unwrap();
    assert_eq!(pid_of(&next).await, pid, "adopted, not replaced");
    within("shutdown", next.shutdown()).await.unwrap();
    assert!(!pid_alive(pid));
}

// ---- launchd / systemd / command, with stand-ins on PATH ----

fn standins(log: &Path) -> Tools {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin");
    let path = std::env::var("PATH").unwrap_or_default();
    Tools::default()
        .env("PATH", format!("{}:{path}", bin.display()))
        .env("AKASHIC_STANDIN_LOG", log)
}

fn recorded(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

#[tokio::test]
async fn launchd_kickstarts_the_job_and_reads_its_pid() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let l = LaunchdControl::new("com.me.bot", standins(&log));
    let action = l.restart().await.unwrap();
    let target = format!("gui/{}/com.me.bot", uid());
    assert_eq!(action, format!("launchctl kickstart -k {target}"));
    assert_eq!(l.pid().await, Some(4242));
    l.ensure_started().await.unwrap();
    l.shutdown().await.unwrap();
    assert_eq!(
        recorded(&log),
        [
            format!("launchctl kickstart -k {target}"),
            format!("launchctl print {target}")
        ]
    );
    assert_eq!(l.kind(), "launchd");
}

#[tokio::test]
async fn launchd_failure_names_the_command_code_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let l = LaunchdControl::new(
        "com.me.bot",
        standins(&log).env("AKASHIC_STANDIN_FAIL", "1"),
    );
    let err = l.restart().await.unwrap_err();
    let uid = uid();
    assert_eq!(
        err.to_string(),
        format!(
            "run `launchctl kickstart -k gui/{uid}/com.me.bot`: exited with code 113; \
             stderr: Could not find service \"com.me.bot\" in domain for user gui: {uid}"
        )
    );
    assert_eq!(l.pid().await, None);
}

#[tokio::test]
async fn systemd_restarts_the_user_unit_and_reads_main_pid() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let s = SystemdControl::new("x.service", true, standins(&log));
    assert_eq!(
        s.restart().await.unwrap(),
        "systemctl --user restart x.service"
    );
    assert_eq!(s.pid().await, Some(4242));
    assert_eq!(
        recorded(&log),
        [
            "systemctl --user restart x.service",
            "systemctl --user show -p MainPID --value x.service"
        ]
    );
    let none = SystemdControl::new(
        "x.service",
        true,
        standins(&log).env("AKASHIC_STANDIN_PID", "0"),
    );
    assert_eq!(none.pid().await, None, "MainPID 0 means no process");
    assert_eq!(s.kind(), "systemd");
}

#[tokio::test]
async fn systemd_failure_names_the_command_code_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let s = SystemdControl::new(
        "x.service",
        false,
        standins(&log).env("AKASHIC_STANDIN_FAIL", "1"),
    );
    let err = s.restart().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "run `systemctl restart x.service`: exited with code 5; \
         stderr: Failed to restart x.service: Unit x.service not found."
    );
    assert_eq!(s.pid().await, None);
    assert_eq!(recorded(&log)[0], "systemctl restart x.service");
}

#[tokio::test]
async fn command_backend_runs_the_command_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("restarted");
    let script = format!("echo yes >> {}", marker.display());
    let c = CommandControl::new(argv(&["sh", "-c", &script]), Tools::default());
    let action = c.restart().await.unwrap();
    assert_eq!(action, format!("ran sh -c '{script}'"));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "yes\n");
    assert_eq!(c.pid().await, None);

    let failing = CommandControl::new(
        argv(&["sh", "-c", "echo nope >&2; exit 4"]),
        Tools::default(),
    );
    let err = failing.restart().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "run `sh -c 'echo nope >&2; exit 4'`: exited with code 4; stderr: nope"
    );

    let hung = CommandControl::new(argv(&["sleep", "30"]), Tools::default())
        .with_timeout(Duration::from_millis(200));
    let err = within("the timeout", hung.restart()).await.unwrap_err();
    assert_eq!(err.to_string(), "run `sleep 30`: no answer within 200ms");
}

fn service(restart: Option<RestartSpec>) -> ServiceConfig {
    ServiceConfig {
        name: "bot".into(),
        repo: None,
        log: None,
        digest: None,
        grace: Duration::from_secs(30),
        recovery_window: Duration::from_secs(300),
        restart_budget: RestartBudget {
            max: 3,
            within: Duration::from_secs(3600),
        },
        env_required: vec![],
        migrated_from: None,
        restart,
        checks: vec![],
        leave_running: false,
        depends_on: Vec::new(),
        on_recurrence: Vec::new(),
        dependency: false,
    }
}

#[tokio::test]
async fn backend_for_picks_the_configured_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let kinds = [
        (RestartSpec::Child(spec(&["true"])), "child"),
        (
            RestartSpec::Launchd {
                label: "com.me.bot".into(),
                plist: None,
                program: argv(&["python3", "bot.py"]),
                env: BTreeMap::new(),
            },
            "launchd",
        ),
        (
            RestartSpec::Systemd {
                unit: "bot.service".into(),
                user: true,
                env: BTreeMap::new(),
            },
            "systemd",
        ),
        (
            RestartSpec::Command {
                run: argv(&["true"]),
            },
            "command",
        ),
    ];
    for (restart, kind) in kinds {
        let b = backend_for(&service(Some(restart)), dir.path(), tx.clone()).unwrap();
        assert_eq!(b.kind(), kind);
    }
    assert!(backend_for(&service(None), dir.path(), tx).is_none());
}

// ---- forensics ----

/// A process group killed when the test ends, pass or fail.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A python process bound to 127.0.0.1, one thread in sleep, the main thread blocked on a
/// futex, and a `sleep` child; returns (pid, port).
async fn hung_python(dir: &Path) -> (u32, u16, Group, tokio::process::Child) {
    let script = "import socket, subprocess, threading, time\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
                  subprocess.Popen(['sleep', '300'])\n\
                  threading.Thread(target=time.sleep, args=(300,), daemon=True).start()\n\
                  open('port.tmp', 'w').write(str(s.getsockname()[1]))\n\
                  import os; os.rename('port.tmp', 'port')\n\
                  threading.Event().wait()\n";
    let child = tokio::process::Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let port = pid_in(&dir.join("port")).await as u16;
    (pid, port, Group(pid), child)
}

#[tokio::test]
async fn forensics_of_a_hung_process_shows_threads_wchan_fds_and_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let (pid, port, _group, _child) = hung_python(dir.path()).await;
    // Poll until both threads have settled into their blocking calls.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let snap = loop {
        let snap = akashic::forensics::snapshot(pid, Duration::from_secs(2)).await;
        let settled = snap.text.contains("threads=2 (S:2)") && snap.text.contains("wchan=futex");
        if settled || tokio::time::Instant::now() >= deadline {
            break snap;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = &snap.text;
    assert_eq!(snap.method, "proc", "{text}");
    assert!(!snap.truncated, "{text}");
    assert!(snap.took_ms < 2000);
    assert!(
        text.starts_with(&format!("process {pid} (python")),
        "{text}"
    );
    assert!(text.contains("threads=2 (S:2) cpu="), "{text}");
    assert!(
        text.contains(&format!("listening=127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("sockets=1 "), "{text}");
    assert!(text.contains(&format!("thread {pid} (python")), "{text}");
    assert!(text.contains("state=S wchan=futex"), "{text}");
    assert!(text.contains(" fds="), "{text}");
    assert!(text.contains(" rss="), "{text}");
    assert!(
        text.contains("(sleep) state=S"),
        "the child is listed: {text}"
    );
}

#[tokio::test]
async fn forensics_of_a_dead_pid_says_why() {
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let snap = akashic::forensics::snapshot(pid, Duration::from_secs(2)).await;
    assert_eq!(snap.method, "none");
    assert_eq!(
        snap.text,
        format!("pid {pid} is not running (no such process)")
    );

    let zombie = std::process::Command::new("true").spawn().unwrap();
    let pid = zombie.id();
    eventually("a zombie", || !pid_alive(pid)).await;
    let snap = akashic::forensics::snapshot(pid, Duration::from_secs(2)).await;
    assert_eq!(snap.method, "none");
    assert!(
        snap.text.contains("has exited: a zombie not yet reaped"),
        "{}",
        snap.text
    );
    drop(zombie);
}

#[tokio::test]
async fn forensics_never_outlasts_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (pid, _port, _group, _child) = hung_python(dir.path()).await;
    let start = std::time::Instant::now();
    let snap = akashic::forensics::snapshot(pid, Duration::ZERO).await;
    let took = start.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(snap.truncated);
    assert_eq!(snap.method, "proc");
    assert!(
        snap.text
            .ends_with("(snapshot cut short: the 0s budget ran out)\n"),
        "{}",
        snap.text
    );
}
