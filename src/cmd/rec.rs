//! `akashic rec done ID` / `rec list`: the lifecycle of the recommendations the digest shows.

use super::{load_config, out, out_json, CmdResult};
use crate::cli::RecCmd;
use crate::digest::{self, ClosedRec, RecBook};
use chrono::Utc;
use serde_json::json;
use std::path::Path;

pub fn run(flag: Option<&Path>, cmd: &RecCmd) -> CmdResult {
    let cfg = load_config(flag)?;
    let now = Utc::now();
    let src = super::digest::load_sources(&cfg, now)?;
    let d = digest::assemble(&src, None, now);
    match cmd {
        RecCmd::List(a) => {
            let mut rows = Vec::new();
            for s in &d.services {
                for r in &s.open_recommendations {
                    rows.push(json!({"id": r.id, "service": s.name, "pattern": r.pattern, "status": "open", "text": r.text, "incidents": r.incidents}));
                }
                for r in &s.regressions {
                    rows.push(json!({"id": r.rec_id, "service": s.name, "pattern": r.pattern, "status": "regressed", "text": r.text, "incidents": [r.incident]}));
                }
            }
            for c in &src.closed {
                if !rows.iter().any(|r| r["id"] == c.id.as_str()) {
                    rows.push(json!({"id": c.id, "service": c.service, "pattern": c.pattern, "status": "closed", "text": c.text, "incidents": []}));
                }
            }
            if a.json {
                out_json(&json!({ "recommendations": rows }));
            } else if rows.is_empty() {
                out("no recommendations yet");
            } else {
                for r in rows {
                    out(format!(
                        "{}  {:<9} {:<16} {}: {}",
                        r["id"].as_str().unwrap_or_default(),
                        r["status"].as_str().unwrap_or_default(),
                        r["service"].as_str().unwrap_or_default(),
                        r["pattern"].as_str().unwrap_or_default(),
                        r["text"].as_str().unwrap_or_default()
                    ));
                }
            }
            Ok(crate::exit::OK)
        }
        RecCmd::Done(a) => {
            let found = d.services.iter().find_map(|s| {
                s.open_recommendations
                    .iter()
                    .find(|r| r.id == a.id)
                    .map(|r| (s.name.clone(), r.clone()))
            });
            let Some((service, rec)) = found else {
                let known = src.closed.iter().any(|c| c.id == a.id);
                eprintln!(
                    "error: {}",
                    if known {
                        format!("recommendation {} is already closed", a.id)
                    } else {
                        format!(
                            "no open recommendation with id {:?}; `akashic rec list` shows them",
                            a.id
                        )
                    }
                );
                return Ok(crate::exit::FAILURE);
            };
            let state_dir = &cfg.daemon.state_dir;
            let mut book = RecBook::load(state_dir).map_err(anyhow::Error::from)?;
            book.close(ClosedRec {
                id: rec.id.clone(),
                service: service.clone(),
                pattern: rec.pattern.clone(),
                text: rec.text.clone(),
                closed_at: now,
            });
            book.save(state_dir).map_err(anyhow::Error::from)?;
            let mut src = src;
            src.closed = book.closed;
            let (_, errors) = digest::refresh(&cfg, &src, now);
            for e in errors {
                tracing::warn!(error = %crate::errors::chain(&e), "digest not rewritten");
            }
            out(format!(
                "closed {} ({service}, {}): {}\nif `{}` recurs, the digest flags a regression",
                rec.id, rec.pattern, rec.text, rec.pattern
            ));
            Ok(crate::exit::OK)
        }
    }
}
