//! `akashic service`: placeholder.
use super::CmdResult;
use crate::cli::ServiceCmd;
use std::path::Path;
pub fn run(_flag: Option<&Path>, _c: &ServiceCmd) -> CmdResult { Ok(0) }
