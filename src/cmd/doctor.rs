//! `akashic doctor`: placeholder.
use super::CmdResult;
use std::path::Path;
pub fn run(_flag: Option<&Path>, _json: bool) -> CmdResult { Ok(0) }
