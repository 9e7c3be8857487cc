//! `akashic watch`: the daemon, in the foreground.

use super::{load_config, CmdResult};
use std::path::Path;
use std::time::Duration;

pub fn run(flag: Option<&Path>, stop_after: Option<Duration>) -> CmdResult {
    let cfg = load_config(flag)?;
    if cfg.services.is_empty() {
        eprintln!(
            "error: {} defines no [[service]]: nothing to watch; add one (see config/akashic.example.toml)",
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
