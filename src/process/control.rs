//! The process-control port: what the daemon asks of every restart backend.

use futures::future::BoxFuture;

use super::ProcessError;

/// An owned child exited without akashic causing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitEvent {
    pub service: String,
    /// e.g. `exited with code 1`, `killed by signal 9 (SIGKILL)`.
    pub detail: String,
}

/// Starts, restarts, inspects and stops one service's process.
pub trait ProcessControl: Send + Sync {
    /// Make sure the service runs: an owned child is spawned (cleaning a leftover
    /// from a previous akashic first); launchd/systemd/command: no-op.
    fn ensure_started(&self) -> BoxFuture<'_, Result<(), ProcessError>>;
    /// Kill and start again; `Ok(what was done)`, e.g.
    /// `SIGTERM + SIGKILL after 5s + child restart (pid 4242)` or `systemctl --user restart bot.service`.
    fn restart(&self) -> BoxFuture<'_, Result<String, ProcessError>>;
    /// The service's main pid now, if known.
    fn pid(&self) -> BoxFuture<'_, Option<u32>>;
    /// Stop for good at daemon shutdown (child only, unless `leave_running`); others: no-op.
    fn shutdown(&self) -> BoxFuture<'_, Result<(), ProcessError>>;
    /// `child` | `launchd` | `systemd` | `command`.
    fn kind(&self) -> &'static str;
}
