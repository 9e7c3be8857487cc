//! `akashic check`: run every check once.

use super::CmdResult;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _json: bool) -> CmdResult {
    Err(anyhow::anyhow!("not built yet").into())
}
