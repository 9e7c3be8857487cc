//! `akashic watch`: the daemon.

use super::CmdResult;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _for: Option<std::time::Duration>) -> CmdResult {
    Err(anyhow::anyhow!("not built yet").into())
}
