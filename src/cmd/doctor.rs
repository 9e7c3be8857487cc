//! `akashic doctor [--json]`: what will break a service under its supervisor; exit 1 on any error.

use super::{load_config, out, out_json, CmdResult};
use crate::doctor::{checks::Shell, diagnose, render::render, RealPorts};
use std::path::Path;

pub fn run(flag: Option<&Path>, json: bool) -> CmdResult {
    let cfg = load_config(flag)?;
    let report = diagnose(&cfg, &RealPorts, &Shell::current());
    if json {
        out_json(&report);
    } else {
        out(render(&report));
    }
    Ok(report.exit_code())
}
