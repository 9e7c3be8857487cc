//! The daemon's heartbeat records and files: its pid, when it last ticked, and each service's
//! state. Below both the daemon that writes them and the readers (`status`, the digest, the
//! page), so a reader never depends on the daemon's module.

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
    /// When the newest output this check saw was written (log and artifact checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_at: Option<DateTime<Utc>>,
}

/// The live services without their details, as `/metrics` shows them: per service its state,
/// per check whether its last answer passed and when its newest output was written. The loop
/// copies it in microseconds (no detail strings, no file check's answer written out), so a
/// scraper does not make the watchdog build what only the page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vitals {
    /// Each service's state, in the config's order.
    pub states: Vec<&'static str>,
    /// Every service's checks, service after service, each service's in the config's order.
    pub checks: Vec<CheckVitals>,
}

/// See [`Vitals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CheckVitals {
    /// `None` before the first answer, and for a blind one (akashic could not look).
    pub ok: Option<bool>,
    pub output_at: Option<DateTime<Utc>>,
}

/// The daemon's liveness and each service's state, as `status` and the digest read them.
/// On disk it is two files: `heartbeat.json` (the [`Beat`], written at start and stop and
/// touched every tick: its modification time is the last beat, see [`touch_beat`]) and
/// `services.json` (the services, rewritten when a state or a check's ok-ness changes, once a
/// minute otherwise, and at a clean stop), so a large fleet does not rewrite every check's
/// detail every tick. A running daemon answers `status` with live services over its socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    #[serde(flatten)]
    pub beat: Beat,
    pub services: Vec<ServiceStatus>,
    /// What keeps the daemon from doing its whole job (e.g. a state_dir that refuses writes),
    /// live answers only; empty when nothing does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
}

/// The daemon's pid and times.
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
        degraded: Vec::new(),
        beat,
        services: read_services(state_dir),
    })
}

/// Beats once more: sets the beat file's modification time to now, which readers take as
/// the beat's `at`. No data is written, where rewriting the file would allocate, write and
/// flush a new one every tick. The time is this machine's clock (not a file server's, as
/// "now" would be on a network file system). `NotFound` when there is no beat file.
pub fn touch_beat(state_dir: &Path) -> std::io::Result<()> {
    crate::secure::open(&path_in(state_dir), crate::secure::Open::Write)?
        .set_modified(std::time::SystemTime::now())
}

/// The last beat alone: as written, its `at` the last touch (unless the daemon stopped).
pub fn read_beat(state_dir: &Path) -> Option<Beat> {
    let file = crate::secure::open(&path_in(state_dir), crate::secure::Open::Read).ok()?;
    let touched = file.metadata().and_then(|m| m.modified()).ok();
    let mut beat: Beat = serde_json::from_reader(std::io::BufReader::new(file)).ok()?;
    if let Some(t) = touched.filter(|_| beat.stopped_at.is_none()) {
        // The touch, not the written time: a clock stepped back must not keep a frozen
        // daemon looking fresh until it catches up with a written time in the future.
        beat.at = t.into();
    }
    Some(beat)
}

/// The services as last written (none if that file is missing).
pub fn read_services(state_dir: &Path) -> Vec<ServiceStatus> {
    crate::secure::read(&services_path_in(state_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The pid of the daemon that last wrote a heartbeat here.
pub fn read_pid(state_dir: &Path) -> Option<u32> {
    read_beat(state_dir).map(|b| b.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(stopped: bool) -> Beat {
        let long_ago: DateTime<Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
        Beat {
            pid: 7,
            started_at: long_ago,
            at: long_ago,
            tick_ms: 1000,
            stopped_at: stopped.then_some(long_ago),
        }
    }

    #[test]
    fn a_touch_moves_the_beat_on_and_a_stopped_beat_stays_put() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            touch_beat(dir.path()).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        write_beat(dir.path(), &beat(false)).unwrap();
        let written = read_beat(dir.path()).unwrap();
        // The file was made now: its mtime is the beat.
        assert!(written.at > beat(false).at);
        let set_back = |t: std::time::SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(path_in(dir.path()))
                .unwrap()
                .set_modified(t)
                .unwrap()
        };
        // Earlier than the written `at`: the touch wins all the same.
        let last_touch: DateTime<Utc> = "2019-06-01T00:00:00Z".parse().unwrap();
        set_back(last_touch.into());
        assert_eq!(read_beat(dir.path()).unwrap().at, last_touch);
        touch_beat(dir.path()).unwrap();
        let touched = read_beat(dir.path()).unwrap();
        assert!(touched.at >= written.at, "{touched:?}");
        assert!(
            (Utc::now() - touched.at).num_seconds().abs() < 5,
            "{touched:?}"
        );
        assert_eq!((touched.pid, touched.stopped_at), (7, None));

        write_beat(dir.path(), &beat(true)).unwrap();
        touch_beat(dir.path()).unwrap();
        assert_eq!(read_beat(dir.path()).unwrap(), beat(true));
    }
}
