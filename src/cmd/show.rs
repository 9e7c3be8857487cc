//! `akashic show`: one incident.

use super::CmdResult;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _id: &str, _json: bool) -> CmdResult {
    Err(anyhow::anyhow!("not built yet").into())
}
