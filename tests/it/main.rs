//! The integration tests: one binary, one module per area.

mod agent;
mod config;
mod first_hour;
mod living;
mod memory;
mod process;
mod util;
mod watchdog;
