//! `akashic incidents`: newest first.

use super::incident_view::{brief, list, state};
use super::{load_config, out, out_json, CmdResult};
use std::path::Path;

pub fn run(flag: Option<&Path>, service: Option<&str>, json: bool) -> CmdResult {
    let cfg = load_config(flag)?;
    let incidents = list(&cfg, service)?;
    if json {
        out_json(
            &serde_json::json!({ "incidents": incidents.iter().map(brief).collect::<Vec<_>>() }),
        );
        return Ok(crate::exit::OK);
    }
    if incidents.is_empty() {
        out("no incidents");
        return Ok(crate::exit::OK);
    }
    out(format!(
        "{:<29} {:<20} {:<19}  {:<9} {:<22} {}",
        "ID", "SERVICE", "DETECTED (UTC)", "STATE", "CATEGORY", "FIRST FAILED CHECK"
    ));
    for i in &incidents {
        let category = i
            .postmortem
            .as_ref()
            .map(|p| p.category.as_str())
            .unwrap_or("-");
        let failed = i
            .failed_checks
            .first()
            .map(|f| f.detail.as_str())
            .unwrap_or("");
        out(format!(
            "{:<29} {:<20} {}  {:<9} {:<22} {}",
            i.id,
            i.service,
            i.detected_at.format("%Y-%m-%d %H:%M:%S"),
            state(i),
            category,
            failed
        ));
    }
    Ok(crate::exit::OK)
}
