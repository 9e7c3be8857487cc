//! `snapshot`: the platform's collector under the budget, with the time it took.

use std::time::Duration;

use tokio::time::Instant;

use crate::incident::Forensics;

/// The budget used when the config does not set one.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(2);

/// A snapshot of a (possibly hung) process, never taking longer than `budget`
/// (returns what it had, `truncated = true`, when the budget runs out).
pub async fn snapshot(pid: u32, budget: Duration) -> Forensics {
    let start = Instant::now();
    if !crate::process::pid_alive(pid) {
        return Forensics {
            method: "none".to_string(),
            text: not_running(pid),
            took_ms: millis(start.elapsed()),
            truncated: false,
        };
    }
    let (method, mut text, complete) = collect(pid, budget).await;
    let took = start.elapsed();
    if !complete {
        text.push_str(&format!(
            "(snapshot cut short: the {} budget ran out)\n",
            humantime::format_duration(budget)
        ));
    }
    Forensics {
        method: method.to_string(),
        text,
        took_ms: millis(took),
        truncated: !complete,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(target_os = "linux")]
async fn collect(pid: u32, budget: Duration) -> (&'static str, String, bool) {
    super::linux::collect(pid, budget).await
}

#[cfg(target_os = "linux")]
fn not_running(pid: u32) -> String {
    super::linux::not_running(pid)
}

#[cfg(target_os = "macos")]
async fn collect(pid: u32, budget: Duration) -> (&'static str, String, bool) {
    super::macos::collect(pid, budget).await
}

#[cfg(not(target_os = "linux"))]
fn not_running(pid: u32) -> String {
    format!("pid {pid} is not running")
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
async fn collect(pid: u32, budget: Duration) -> (&'static str, String, bool) {
    super::other::collect(pid, budget).await
}
