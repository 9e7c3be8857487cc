//! `akashic eval`: score post-mortem drafting on cases.

use super::CmdResult;
use crate::cli::EvalArgs;
use std::path::Path;

pub fn run(_flag: Option<&Path>, _args: &EvalArgs) -> CmdResult {
    Err(anyhow::anyhow!("`eval` is not built yet").into())
}
