//! Writing digests: atomically (temp file, then rename) to each service's `digest` path and the fleet-wide one.

use super::assemble::{assemble, Sources};
use super::recs::RecBook;
use super::render::{render, DEFAULT_MAX_TOKENS};
use crate::config::Config;
use crate::heartbeat::{self, Heartbeat};
use crate::incident::Incident;
use crate::memory::MemoryDoc;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("cannot write the digest to {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no service named {0:?} in the config")]
    UnknownService(String),
}

/// The daemon's heartbeat if it is recent enough to say how services are now.
pub fn fresh_heartbeat(state_dir: &Path, now: DateTime<Utc>) -> Option<Heartbeat> {
    let hb = heartbeat::read(state_dir)?;
    let max_age = chrono::Duration::milliseconds((hb.beat.tick_ms as i64 * 10).max(10_000));
    (now - hb.beat.at <= max_age).then_some(hb)
}

/// The Markdown digest of one service (`Some`) or of the fleet.
pub fn markdown(
    cfg: &Config,
    src: &Sources,
    only: Option<&str>,
    now: DateTime<Utc>,
    max_tokens: usize,
) -> Result<String, DigestError> {
    if let Some(s) = only {
        if cfg.service(s).is_none() {
            return Err(DigestError::UnknownService(s.to_string()));
        }
    }
    let d = assemble(src, only, now);
    // Its sources are redacted when stored; this catches what was stored before they were.
    Ok(crate::agent::redact::redact(&render(
        &d,
        only.unwrap_or("fleet"),
        max_tokens,
    )))
}

/// Rewrites every configured digest: each service's `digest` path and the fleet-wide one.
/// Returns the paths written; a failed write is reported and the rest still written.
pub fn refresh(
    cfg: &Config,
    src: &Sources,
    now: DateTime<Utc>,
) -> (Vec<PathBuf>, Vec<DigestError>) {
    let mut targets: Vec<(Option<&str>, PathBuf)> = cfg
        .services
        .iter()
        .filter_map(|s| s.digest.clone().map(|p| (Some(s.name.as_str()), p)))
        .collect();
    targets.push((None, cfg.fleet_digest_path()));
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for (only, path) in targets {
        let res = markdown(cfg, src, only, now, DEFAULT_MAX_TOKENS).and_then(|text| {
            crate::atomic::write(&path, &text).map_err(|source| DigestError::Write {
                path: path.clone(),
                source,
            })
        });
        match res {
            Ok(()) => written.push(path),
            Err(e) => errors.push(e),
        }
    }
    (written, errors)
}

/// Remembered post-mortems of the window (imported ones included); memory that cannot be
/// read leaves the digest to the incident store alone.
pub async fn remembered(
    memory: Option<&crate::memory::Memory>,
    now: DateTime<Utc>,
) -> Vec<MemoryDoc> {
    let Some(m) = memory else {
        return Vec::new();
    };
    let filter = crate::memory::Filter {
        since: Some(now - chrono::Duration::days(super::assemble::WINDOW_DAYS)),
        ..Default::default()
    };
    match m.list(&filter).await {
        Ok(docs) => docs,
        Err(e) => {
            tracing::warn!(error = %crate::errors::chain(&e), "memory unavailable; the digest uses the incident store only");
            Vec::new()
        }
    }
}

/// The sources of a digest: the given incidents and memory, plus the heartbeat and closed recommendations on disk.
pub fn sources(
    cfg: &Config,
    incidents: Vec<Incident>,
    memory: Vec<MemoryDoc>,
    now: DateTime<Utc>,
) -> Sources {
    let closed = match RecBook::load(&cfg.daemon.state_dir) {
        Ok(b) => b.closed,
        Err(e) => {
            tracing::warn!(error = %crate::errors::chain(&e), "closed recommendations unreadable; every recommendation shows as open");
            Vec::new()
        }
    };
    Sources {
        services: cfg.services.iter().map(|s| s.name.clone()).collect(),
        incidents,
        memory,
        heartbeat: fresh_heartbeat(&cfg.daemon.state_dir, now),
        closed,
    }
}
