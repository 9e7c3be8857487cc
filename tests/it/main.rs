//! The integration tests: one binary, one module per area.

mod agent;
mod label;
mod living;
mod memory;
mod process;
mod util;
mod watchdog;
