//! `akashic check`: run every check once, restart nothing.

use super::{load_config, out, out_json, CmdResult};
use crate::probe::{describe, CounterHistory, Probes};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct CheckOut {
    kind: String,
    ok: bool,
    detail: String,
}

#[derive(Serialize)]
struct ServiceOut {
    name: String,
    healthy: bool,
    checks: Vec<CheckOut>,
}

pub fn run(flag: Option<&Path>, json: bool) -> CmdResult {
    let cfg = load_config(flag)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let probes = Probes::new();
    let services: Vec<ServiceOut> = rt.block_on(async {
        let all = cfg.services.iter().map(|s| {
            let probes = probes.clone();
            async move {
                let checks = futures::future::join_all(s.checks.iter().map(|c| {
                    let probes = probes.clone();
                    async move {
                        let r = probes.run(&c.kind, &mut CounterHistory::default()).await;
                        CheckOut {
                            kind: c.kind.name().to_string(),
                            ok: r.verdict.is_ok(),
                            detail: with_target(&describe(&c.kind), r.verdict.detail()),
                        }
                    }
                }))
                .await;
                ServiceOut {
                    name: s.name.clone(),
                    healthy: checks.iter().all(|c| c.ok),
                    checks,
                }
            }
        });
        futures::future::join_all(all).await
    });
    let healthy = services.iter().all(|s| s.healthy);
    if json {
        out_json(&serde_json::json!({ "services": services }));
    } else {
        for s in &services {
            out(format!(
                "{} {}",
                if s.healthy { "ok  " } else { "FAIL" },
                s.name
            ));
            for c in &s.checks {
                out(format!(
                    "  {} {:<9} {}",
                    if c.ok { "ok  " } else { "FAIL" },
                    c.kind,
                    c.detail
                ));
            }
        }
    }
    Ok(if healthy {
        crate::exit::OK
    } else {
        crate::exit::FAILURE
    })
}

/// The check's target before its detail, unless the detail names it already.
fn with_target(target: &str, detail: &str) -> String {
    let bare = target.split_once(' ').map(|(_, t)| t).unwrap_or(target);
    if detail.contains(bare) {
        detail.to_string()
    } else {
        format!("{target}: {detail}")
    }
}
