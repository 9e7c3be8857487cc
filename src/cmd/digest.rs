//! `akashic digest`: the session-start digest of one service or the fleet, to stdout or a file.

use super::{load_config, out, out_json, CmdResult};
use crate::cli::DigestArgs;
use crate::config::Config;
use crate::digest::{self, Sources};
use chrono::{DateTime, Utc};
use std::path::Path;

/// Incidents (through the daemon when it runs), memory, heartbeat and closed recommendations.
pub fn load_sources(cfg: &Config, now: DateTime<Utc>) -> anyhow::Result<Sources> {
    let incidents = super::incident_view::list(cfg, None)?;
    let docs = match crate::memory::Memory::open(cfg) {
        Ok(m) => super::memory::runtime()?.block_on(digest::write::remembered(Some(&m), now)),
        Err(e) => {
            tracing::warn!(error = %crate::errors::chain(&e), "memory unavailable; the digest uses the incident store only");
            Vec::new()
        }
    };
    Ok(digest::write::sources(cfg, incidents, docs, now))
}

pub fn run(flag: Option<&Path>, args: &DigestArgs) -> CmdResult {
    let cfg = load_config(flag)?;
    let now = Utc::now();
    let src = load_sources(&cfg, now)?;
    if args.json {
        if let Some(s) = &args.service {
            if cfg.service(s).is_none() {
                return Err(
                    anyhow::Error::from(digest::DigestError::UnknownService(s.clone())).into(),
                );
            }
        }
        out_json(&digest::assemble(&src, args.service.as_deref(), now));
        return Ok(crate::exit::OK);
    }
    let text = digest::write::markdown(&cfg, &src, args.service.as_deref(), now, args.max_tokens)
        .map_err(anyhow::Error::from)?;
    match &args.out {
        Some(path) => {
            crate::atomic::write(path, &text).map_err(|source| {
                anyhow::Error::from(digest::DigestError::Write {
                    path: path.clone(),
                    source,
                })
            })?;
            eprintln!("wrote {}", path.display());
        }
        None => out(text.trim_end()),
    }
    Ok(crate::exit::OK)
}
