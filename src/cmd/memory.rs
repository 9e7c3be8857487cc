//! `akashic memory import|reindex|migrate`.

use super::CmdResult;
use crate::cli::MemoryCmd;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _cmd: &MemoryCmd) -> CmdResult {
    Err(anyhow::anyhow!("`memory` is not built yet").into())
}
