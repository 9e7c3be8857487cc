//! `akashic mcp`: the Model Context Protocol over stdio for coding agents (specs/web.md),
//! answering from the same views as the CLI.

mod server;

pub use server::{serve_stdio, McpError};
