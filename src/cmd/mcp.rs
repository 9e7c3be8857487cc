//! `akashic mcp`: the MCP server on stdio, for coding agents.

use super::{load_config, CmdResult};
use anyhow::Context;
use std::path::Path;

pub fn run(flag: Option<&Path>) -> CmdResult {
    let cfg = load_config(flag)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(crate::mcp::serve_stdio(cfg))
        .map_err(anyhow::Error::from)?;
    Ok(crate::exit::OK)
}
