//! The status page, `/metrics` and `/api` (specs/web.md): served by the daemon on its own tasks,
//! off the watchdog's path, from the same views the CLI prints.

mod auth;
mod metrics;
mod page;
mod routes;
mod server;
mod source;
#[cfg(test)]
mod tests;
mod timeline;

pub use auth::Token;
pub use server::{bind, spawn, Serving, WebError};
pub use source::Source;
