//! `akashic watch`: the daemon, in the foreground.

use super::CmdResult;
use crate::config::SystemPrograms;
use std::path::Path;
use std::time::Duration;

pub fn run(flag: Option<&Path>, stop_after: Option<Duration>) -> CmdResult {
    let loaded = crate::config::load_looking(&crate::config::resolve_path(flag), &SystemPrograms)?;
    let cfg = loaded.config;
    // Warned, not refused: one missing program must not leave every other service unwatched, and
    // under launchd or systemd at boot a program may appear later (a volume mounted, a tool
    // installed); its failed starts are recorded as incidents like any other.
    for i in &loaded.missing_programs {
        tracing::warn!(
            config = %cfg.path.display(),
            line = i.line,
            key = %i.key,
            "{}; `akashic config check` lists every problem",
            i.message
        );
    }
    if cfg.services.is_empty() {
        eprintln!(
            "error: {} defines no [[service]]: nothing to watch; add one (`akashic config example` shows how)",
            cfg.path.display()
        );
        return Ok(crate::exit::CONFIG);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    rt.block_on(crate::daemon::run(
        cfg,
        crate::daemon::RunOptions {
            stop_after,
            stop: None,
        },
    ))?;
    Ok(crate::exit::OK)
}
