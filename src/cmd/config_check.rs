//! `akashic config check`: validate without touching services.

use super::{load_config, out, out_json, CmdResult};
use std::path::Path;

pub fn run(flag: Option<&Path>, json: bool) -> CmdResult {
    let cfg = load_config(flag)?;
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
