//! `akashic ask`: answer a question from memory.

use super::CmdResult;
use crate::cli::AskArgs;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _args: &AskArgs) -> CmdResult {
    Err(anyhow::anyhow!("`ask` is not built yet").into())
}
