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

/// The daemon's liveness and each service's state, as `status` and the digest read them.
/// On disk it is two files: `heartbeat.json` (the [`Beat`], rewritten every tick) and
/// `services.json` (the services, rewritten when a state or a check's ok-ness changes, once a
/// minute otherwise, and at a clean stop), so a large fleet does not rewrite every check's
/// detail every tick. A running daemon answers `status` with live services over its socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    #[serde(flatten)]
    pub beat: Beat,
    pub services: Vec<ServiceStatus>,
}

/// What the daemon writes every tick.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Beat {
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub tick_ms: u64,
    /// Set by a clean stop: the services are as they were then.
    #[serde(default)]
    pub stopped_at: Option<DateTime<Utc>>,
}

pub fn path_in(state_dir: &Path) -> PathBuf {
    state_dir.join("heartbeat.json")
}

pub fn services_path_in(state_dir: &Path) -> PathBuf {
    state_dir.join("services.json")
}

/// Writes the beat atomically (temp file, then rename).
pub fn write_beat(state_dir: &Path, beat: &Beat) -> std::io::Result<()> {
    crate::atomic::write(
        &path_in(state_dir),
        serde_json::to_vec(beat).expect("heartbeat serializes"),
    )
}

/// Writes the services' states atomically.
pub fn write_services(state_dir: &Path, services: &[ServiceStatus]) -> std::io::Result<()> {
    crate::atomic::write(
        &services_path_in(state_dir),
        serde_json::to_vec(services).expect("service states serialize"),
    )
}

/// The last beat and the services as last written.
pub fn read(state_dir: &Path) -> Option<Heartbeat> {
    let beat = read_beat(state_dir)?;
    Some(Heartbeat {
        beat,
        services: read_services(state_dir),
    })
}

/// The last beat alone.
pub fn read_beat(state_dir: &Path) -> Option<Beat> {
    serde_json::from_slice(&std::fs::read(path_in(state_dir)).ok()?).ok()
}

/// The services as last written (none if that file is missing).
pub fn read_services(state_dir: &Path) -> Vec<ServiceStatus> {
    std::fs::read(services_path_in(state_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The pid of the daemon that last wrote a heartbeat here.
pub fn read_pid(state_dir: &Path) -> Option<u32> {
    read_beat(state_dir).map(|b| b.pid)
}
