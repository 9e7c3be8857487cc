//! The web face of the daemon (specs/web.md) through real sockets on 127.0.0.1: the token,
//! the API against the CLI's JSON, the page in a real browser, the MCP server with a real client.

mod api;
mod browser;
mod http;
mod mcp;
mod token;
mod webdriver;
