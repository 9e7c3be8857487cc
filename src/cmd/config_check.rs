//! `akashic config check`: validate without touching services, and find every program it runs.

use super::{out, out_json, CmdResult};
use crate::config::{ConfigError, SystemPrograms};
use std::path::Path;

pub fn run(flag: Option<&Path>, json: bool) -> CmdResult {
    let path = crate::config::resolve_path(flag);
    let loaded = crate::config::load_looking(&path, &SystemPrograms)?;
    if !loaded.missing_programs.is_empty() {
        return Err(ConfigError::Invalid {
            path,
            issues: loaded.missing_programs,
        }
        .into());
    }
    let cfg = loaded.config;
    if json {
        out_json(&serde_json::json!({
            "config": cfg.path,
            "ok": true,
            "services": cfg.services.iter().map(|s| &s.name).collect::<Vec<_>>(),
        }));
    } else {
        out(format!(
            "{}: ok ({} service{})",
            cfg.path.display(),
            cfg.services.len(),
            if cfg.services.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(crate::exit::OK)
}
