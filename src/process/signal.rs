//! Signals and liveness: is a pid or a process group still alive, stop a group, name an exit.

use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::time::Instant;

use super::ProcessError;

/// How often a stopping group is polled.
const POLL: Duration = Duration::from_millis(20);
/// How long a group may take to vanish after SIGKILL before it counts as unkillable.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// Is a pid alive (`kill(pid, 0)`); zombies count as not alive on Linux.
pub fn pid_alive(pid: u32) -> bool {
    let Some(raw) = to_pid(pid) else {
        return false;
    };
    match kill(raw, None) {
        Ok(()) | Err(Errno::EPERM) => !is_zombie(pid),
        Err(_) => false,
    }
}

/// Does the process group have a member that is not a zombie?
pub(crate) fn group_alive(pgid: u32) -> bool {
    let Some(raw) = to_pid(pgid) else {
        return false;
    };
    match killpg(raw, None) {
        Ok(()) | Err(Errno::EPERM) => live_member(pgid),
        Err(_) => false,
    }
}

/// A readable exit: `exited with code 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    if let Some(sig) = status.signal() {
        let name = Signal::try_from(sig)
            .map(|s| s.as_str())
            .unwrap_or("unknown");
        return format!("killed by signal {sig} ({name})");
    }
    format!("ended ({status})")
}

/// How a group stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// Nothing was running.
    AlreadyGone,
    /// Gone this long after SIGTERM.
    Exited(Duration),
    /// Still there after the grace period: SIGKILLed.
    Killed(Duration),
}

impl Stopped {
    /// e.g. `SIGTERM + exited within 0.2s`, `SIGTERM + SIGKILL after 5s`.
    pub(crate) fn describe(self) -> String {
        match self {
            Stopped::AlreadyGone => "already exited".to_string(),
            Stopped::Exited(took) => format!("SIGTERM + exited within {:.1}s", took.as_secs_f64()),
            Stopped::Killed(grace) => {
                format!(
                    "SIGTERM + SIGKILL after {}",
                    humantime::format_duration(grace)
                )
            }
        }
    }
}

/// What to signal: a whole process group, or one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Group(u32),
    Process(u32),
}

/// SIGTERM the target, wait up to `grace` for `gone()`, then SIGKILL it and wait for `gone()` again.
pub(crate) async fn stop_group(
    target: Target,
    grace: Duration,
    mut gone: impl FnMut() -> bool,
) -> Result<Stopped, ProcessError> {
    if gone() {
        return Ok(Stopped::AlreadyGone);
    }
    let start = Instant::now();
    send(target, Signal::SIGTERM)?;
    if wait_until(start + grace, &mut gone).await {
        return Ok(Stopped::Exited(start.elapsed()));
    }
    send(target, Signal::SIGKILL)?;
    if wait_until(Instant::now() + AFTER_KILL, &mut gone).await {
        return Ok(Stopped::Killed(grace));
    }
    let (Target::Group(pgid) | Target::Process(pgid)) = target;
    Err(ProcessError::Unkillable {
        pgid,
        waited: AFTER_KILL,
    })
}

async fn wait_until(deadline: Instant, gone: &mut impl FnMut() -> bool) -> bool {
    loop {
        if gone() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL.min(deadline - Instant::now())).await;
    }
}

/// Signal a group or a process; one that is already gone is not an error.
fn send(target: Target, sig: Signal) -> Result<(), ProcessError> {
    let (Target::Group(pgid) | Target::Process(pgid)) = target;
    let Some(raw) = to_pid(pgid) else {
        return Ok(());
    };
    let sent = match target {
        Target::Group(_) => killpg(raw, sig),
        Target::Process(_) => kill(raw, sig),
    };
    match sent {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(source) => Err(ProcessError::Signal { pgid, source }),
    }
}

/// A positive pid that fits `pid_t`; 0 and 1 are never ours to signal.
fn to_pid(pid: u32) -> Option<Pid> {
    i32::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .map(Pid::from_raw)
}

/// `(state, pgrp)` from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn stat_of(pid: &str) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(target_os = "linux")]
fn is_zombie(pid: u32) -> bool {
    matches!(stat_of(&pid.to_string()), Some(('Z' | 'X', _)))
}

#[cfg(not(target_os = "linux"))]
fn is_zombie(_pid: u32) -> bool {
    false
}

/// A non-zombie member of the group: on Linux, by scanning `/proc` (orphaned zombies
/// may linger when pid 1 does not reap); elsewhere `killpg(0)` is taken at its word.
#[cfg(target_os = "linux")]
fn live_member(pgid: u32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        matches!(stat_of(pid), Some((state, pgrp)) if pgrp == pgid && state != 'Z' && state != 'X')
    })
}

#[cfg(not(target_os = "linux"))]
fn live_member(_pgid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_descriptions_say_what_happened() {
        assert_eq!(
            Stopped::Exited(Duration::from_millis(230)).describe(),
            "SIGTERM + exited within 0.2s"
        );
        assert_eq!(
            Stopped::Killed(Duration::from_secs(5)).describe(),
            "SIGTERM + SIGKILL after 5s"
        );
    }

    #[test]
    fn pid_zero_and_init_are_never_ours() {
        assert!(!pid_alive(0));
        assert!(!group_alive(0));
        assert!(!pid_alive(u32::MAX));
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_that_is_gone_is_not_signalled() {
        let got = stop_group(Target::Group(999_999), Duration::from_secs(5), || true).await;
        assert_eq!(got.ok(), Some(Stopped::AlreadyGone));
    }
}
