//! `akashic incidents`: list incidents.

use super::CmdResult;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _service: Option<&str>, _json: bool) -> CmdResult {
    Err(anyhow::anyhow!("not built yet").into())
}
