//! The `child` backend: akashic spawns and owns the process in its own process group.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{mpsc, watch, Mutex};

use super::pidfile::PidFile;
use super::signal::{group_alive, pid_alive, stop_group, Stopped, Target};
use super::{describe_exit, ExitEvent, ProcessControl, ProcessError};
use crate::config::ChildSpec;

/// An owned child process and its supervision.
pub struct ChildControl {
    service: String,
    spec: ChildSpec,
    pid_path: PathBuf,
    leave_running: bool,
    exits: mpsc::UnboundedSender<ExitEvent>,
    /// The child akashic started last; the lock also serialises start/restart/shutdown.
    current: Mutex<Option<Running>>,
    /// The live child's pid, 0 when none: readable without waiting for a restart.
    pid: Arc<AtomicU32>,
}

/// A spawned child, watched by a task that reaps it.
struct Running {
    /// Also its process group id (`process_group(0)`).
    pid: u32,
    /// Set before akashic stops it, so its exit is not reported as a crash.
    expected: Arc<AtomicBool>,
    /// `Some(how it ended)` once reaped.
    exited: watch::Receiver<Option<String>>,
}

impl Running {
    fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Stops the whole group: SIGTERM, SIGKILL after `grace`, until reaped and no member is left.
    async fn stop(&self, grace: std::time::Duration) -> Result<Stopped, ProcessError> {
        self.expected.store(true, Ordering::SeqCst);
        let exited = self.exited.clone();
        let pgid = self.pid;
        stop_group(Target::Group(pgid), grace, move || {
            exited.borrow().is_some() && !group_alive(pgid)
        })
        .await
    }
}

impl ChildControl {
    /// A backend for `service`; exits akashic did not cause are sent on `exits`.
    pub fn new(
        service: &str,
        spec: ChildSpec,
        state_dir: &Path,
        leave_running: bool,
        exits: mpsc::UnboundedSender<ExitEvent>,
    ) -> Self {
        ChildControl {
            service: service.to_string(),
            pid_path: PidFile::path(state_dir, service),
            spec,
            leave_running,
            exits,
            current: Mutex::new(None),
            pid: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Where the pid file of this child lives.
    pub fn pid_path(&self) -> &Path {
        &self.pid_path
    }

    async fn start(&self) -> Result<(), ProcessError> {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|r| !r.has_exited()) {
            return Ok(());
        }
        if let Some(adopted) = self.adopt_leftover().await? {
            *current = Some(adopted);
            return Ok(());
        }
        *current = Some(self.spawn().await?);
        Ok(())
    }

    async fn restart_child(&self) -> Result<String, ProcessError> {
        let mut current = self.current.lock().await;
        let stopped = match current.as_ref() {
            Some(running) => running.stop(self.spec.stop_grace).await?.describe(),
            None => {
                self.clean_leftover().await?;
                "not running".to_string()
            }
        };
        let running = self.spawn().await?;
        let pid = running.pid;
        *current = Some(running);
        Ok(format!("{stopped} + child restart (pid {pid})"))
    }

    async fn stop_for_good(&self) -> Result<(), ProcessError> {
        let current = self.current.lock().await;
        let Some(running) = current.as_ref() else {
            return Ok(());
        };
        if self.leave_running && !running.has_exited() {
            tracing::info!(service = %self.service, pid = running.pid, "leaving child running (leave_running)");
            return Ok(());
        }
        let stopped = running.stop(self.spec.stop_grace).await?;
        tracing::info!(service = %self.service, pid = running.pid, how = %stopped.describe(), "child stopped");
        PidFile::remove_if(&self.pid_path, running.pid);
        Ok(())
    }

    /// A child left by an akashic that died without stopping it, still running the recorded
    /// command line: watched again as it is, not restarted (a healthy service is left alone;
    /// a failing one meets its checks and gets an incident like any other). A pid that was
    /// reused by another program is never touched.
    async fn adopt_leftover(&self) -> Result<Option<Running>, ProcessError> {
        let Some(left) = PidFile::read(&self.pid_path) else {
            return Ok(None);
        };
        if !left.is_running().await {
            self.clean_leftover().await?;
            return Ok(None);
        }
        tracing::warn!(
            service = %self.service,
            pid = left.pid,
            pgid = left.pgid,
            "adopted a child left running by a previous akashic; its checks decide whether it needs a restart"
        );
        self.pid.store(left.pid, Ordering::SeqCst);
        let expected = Arc::new(AtomicBool::new(false));
        let (tx, exited) = watch::channel(None);
        let watcher = Watcher {
            service: self.service.clone(),
            pid: left.pid,
            pid_path: self.pid_path.clone(),
            expected: expected.clone(),
            current_pid: self.pid.clone(),
            exits: self.exits.clone(),
        };
        // Not our child: its end is seen by polling, its exit status is not known.
        tokio::spawn(async move {
            while pid_alive(watcher.pid) {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            let detail = "exited (adopted from a previous akashic: exit status unknown)";
            watcher.exited(detail);
            let _ = tx.send(Some(detail.to_string()));
        });
        Ok(Some(Running {
            pid: left.pid,
            expected,
            exited,
        }))
    }

    /// A child left by an akashic that died without stopping it: stop its group if the pid
    /// still runs the recorded command line; never touch a pid that was reused.
    async fn clean_leftover(&self) -> Result<(), ProcessError> {
        let Some(left) = PidFile::read(&self.pid_path) else {
            return Ok(());
        };
        if left.is_running().await {
            tracing::warn!(
                service = %self.service,
                pid = left.pid,
                pgid = left.pgid,
                "found a child left by a previous akashic; stopping its group and starting fresh"
            );
            let live_pgid = i32::try_from(left.pid)
                .ok()
                .and_then(|pid| nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid))).ok())
                .map(|pgid| pgid.as_raw());
            let target = match live_pgid {
                Some(pgid) if i64::from(pgid) == i64::from(left.pgid) => Target::Group(left.pgid),
                _ => Target::Process(left.pid),
            };
            let how = stop_group(target, self.spec.stop_grace, || match target {
                Target::Group(pgid) => !group_alive(pgid),
                Target::Process(pid) => !pid_alive(pid),
            })
            .await?;
            tracing::warn!(service = %self.service, pid = left.pid, how = %how.describe(), "leftover child stopped");
        } else if pid_alive(left.pid) {
            tracing::warn!(
                service = %self.service,
                pid = left.pid,
                "pid file names a process that now runs another command; leaving it alone"
            );
        }
        let _ = std::fs::remove_file(&self.pid_path);
        Ok(())
    }

    /// Starts the child behind a gate: `sh` waits on a pipe until the pid file is written,
    /// then execs the program (same pid, same process group). If akashic dies before the pid
    /// file is written, the pipe closes and the program never runs, so a later akashic can
    /// never miss a copy of the service and start a second one.
    async fn spawn(&self) -> Result<Running, ProcessError> {
        let (program, args) = self
            .spec
            .command
            .split_first()
            .ok_or(ProcessError::EmptyCommand)?;
        let cwd_shown = match &self.spec.cwd {
            Some(cwd) => cwd.display().to_string(),
            None => std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "(unknown)".to_string()),
        };
        let spawn_err = |source| ProcessError::Spawn {
            program: program.clone(),
            cwd: cwd_shown.clone(),
            source,
        };
        // The gate's shell would report a missing program only as an exit; say it here, as
        // a spawn error with the OS's reason, like a direct spawn would.
        let path = self
            .spec
            .env
            .get("PATH")
            .cloned()
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        let relative_to_cwd = match &self.spec.cwd {
            Some(cwd) if program.contains('/') && !Path::new(program).is_absolute() => {
                cwd.join(program).display().to_string()
            }
            _ => program.clone(),
        };
        if crate::service::plist::which(&relative_to_cwd, &path).is_none() {
            let exists = program.contains('/') && Path::new(&relative_to_cwd).exists();
            return Err(spawn_err(std::io::Error::from_raw_os_error(if exists {
                libc::EACCES
            } else {
                libc::ENOENT
            })));
        }
        let (gate_read, gate_write) = gate_pipe().map_err(spawn_err)?;
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(GATE_SCRIPT)
            .arg("akashic-gate")
            .arg(program)
            .args(args)
            .envs(&self.spec.env)
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cwd) = &self.spec.cwd {
            if !cwd.is_dir() {
                return Err(spawn_err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the working directory does not exist",
                )));
            }
            cmd.current_dir(cwd);
        }
        let (out, err) = self.output()?;
        cmd.stdout(out).stderr(err);
        let gate_fd = gate_read.as_raw_fd();
        // SAFETY: between fork and exec only dup2, which is async-signal-safe: the gate's read
        // end becomes fd 3 of the shell (dup2 clears close-on-exec on the copy).
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(gate_fd, GATE_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(spawn_err)?;
        drop(gate_read);
        let Some(pid) = child.id() else {
            return Err(spawn_err(std::io::Error::other(
                "the child exited before it could be watched",
            )));
        };
        tracing::info!(service = %self.service, pid, command = ?self.spec.command, "child started");
        let record = PidFile {
            pid,
            pgid: pid,
            print: super::pidfile::CommandPrint::of(&self.spec.command),
            command: Vec::new(),
        };
        if let Err(error) = record.write(&self.pid_path) {
            tracing::error!(service = %self.service, error = %format!("{error:#}"), "child runs without a pid file: an akashic killed now would not find it");
        }
        // The record is durable: open the gate.
        let mut gate_write = std::fs::File::from(gate_write);
        if let Err(error) = gate_write.write_all(b"go\n") {
            tracing::warn!(service = %self.service, %error, "could not open the start gate");
        }
        drop(gate_write);
        self.pid.store(pid, Ordering::SeqCst);

        let expected = Arc::new(AtomicBool::new(false));
        let (tx, exited) = watch::channel(None);
        let watcher = Watcher {
            service: self.service.clone(),
            pid,
            pid_path: self.pid_path.clone(),
            expected: expected.clone(),
            current_pid: self.pid.clone(),
            exits: self.exits.clone(),
        };
        tokio::spawn(async move {
            let detail = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(error) => format!("could not be waited for: {error}"),
            };
            watcher.exited(&detail);
            let _ = tx.send(Some(detail));
        });
        Ok(Running {
            pid,
            expected,
            exited,
        })
    }

    /// The child's stdout and stderr: both appended to the `stdout` file, else /dev/null.
    fn output(&self) -> Result<(Stdio, Stdio), ProcessError> {
        let Some(path) = &self.spec.stdout else {
            return Ok((Stdio::null(), Stdio::null()));
        };
        let err = |source| ProcessError::Output {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = crate::secure::open(path, crate::secure::Open::Append).map_err(err)?;
        let second = file.try_clone().map_err(err)?;
        Ok((Stdio::from(file), Stdio::from(second)))
    }
}

/// The shell between fork and the program: waits for akashic's "go" on fd 3, then execs the
/// program with fd 3 closed; on EOF (akashic died first) it exits without running it.
pub const GATE_SCRIPT: &str = r#"read -r _ <&3 || exit 125; exec 3<&-; exec "$@""#;
const GATE_FD: i32 = 3;

/// A pipe for the start gate, both ends close-on-exec (the child's copy of the read end is
/// made by `dup2` onto [`GATE_FD`]), so no other child spawned meanwhile holds it open.
#[cfg(target_os = "linux")]
fn gate_pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

/// macOS has no `pipe2`: close-on-exec is set right after; a child spawned by another thread
/// in between could hold the write end, which keeps a gate shut (never open) if akashic dies.
#[cfg(not(target_os = "linux"))]
fn gate_pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    let (r, w) = nix::unistd::pipe().map_err(std::io::Error::from)?;
    for fd in [&r, &w] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(std::io::Error::from)?;
    }
    Ok((r, w))
}

/// What the reaping task needs once the child ends.
struct Watcher {
    service: String,
    pid: u32,
    pid_path: PathBuf,
    expected: Arc<AtomicBool>,
    current_pid: Arc<AtomicU32>,
    exits: mpsc::UnboundedSender<ExitEvent>,
}

impl Watcher {
    fn exited(&self, detail: &str) {
        let _ = self
            .current_pid
            .compare_exchange(self.pid, 0, Ordering::SeqCst, Ordering::SeqCst);
        if self.expected.load(Ordering::SeqCst) {
            tracing::debug!(service = %self.service, pid = self.pid, detail, "child stopped by akashic");
            return;
        }
        tracing::warn!(service = %self.service, pid = self.pid, detail, "child exited on its own");
        PidFile::remove_if(&self.pid_path, self.pid);
        let _ = self.exits.send(ExitEvent {
            service: self.service.clone(),
            detail: detail.to_string(),
        });
    }
}

impl ProcessControl for ChildControl {
    fn ensure_started(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        self.start().boxed()
    }

    fn restart(&self) -> BoxFuture<'_, Result<String, ProcessError>> {
        self.restart_child().boxed()
    }

    fn pid(&self) -> BoxFuture<'_, Option<u32>> {
        let pid = self.pid.load(Ordering::SeqCst);
        async move { (pid != 0 && pid_alive(pid)).then_some(pid) }.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        self.stop_for_good().boxed()
    }

    fn kind(&self) -> &'static str {
        "child"
    }
}
