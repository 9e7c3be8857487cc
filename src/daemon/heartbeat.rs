//! The daemon's heartbeat file: its pid, when it last ticked, and each service's state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One service as the daemon last saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatus {
    pub name: String,
    pub state: String,
    pub incident: Option<String>,
    pub checks: Vec<CheckStatus>,
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckStatus {
    pub kind: String,
    pub ok: Option<bool>,
    pub detail: String,
}

/// What the daemon writes every tick.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub tick_ms: u64,
    /// Set by a clean stop: the services are as they were then.
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
    pub services: Vec<ServiceStatus>,
}

pub fn path_in(state_dir: &Path) -> PathBuf {
    state_dir.join("heartbeat.json")
}

/// Writes the heartbeat atomically (temp file, then rename).
pub fn write(state_dir: &Path, hb: &Heartbeat) -> std::io::Result<()> {
    crate::atomic::write(
        &path_in(state_dir),
        serde_json::to_vec(hb).expect("heartbeat serializes"),
    )
}

pub fn read(state_dir: &Path) -> Option<Heartbeat> {
    let bytes = std::fs::read(path_in(state_dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The pid of the daemon that last wrote a heartbeat here.
pub fn read_pid(state_dir: &Path) -> Option<u32> {
    read(state_dir).map(|h| h.pid)
}
