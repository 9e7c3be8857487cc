//! `akashic resume`: let an escalated service restart again.

use super::CmdResult;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _service: &str) -> CmdResult {
    Err(anyhow::anyhow!("not built yet").into())
}
