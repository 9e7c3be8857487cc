//! `akashic status`: the daemon and each service.

use super::CmdResult;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _json: bool) -> CmdResult {
    Err(anyhow::anyhow!("not built yet").into())
}
