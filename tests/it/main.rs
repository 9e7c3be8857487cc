//! The integration tests: one binary, one module per area.

mod memory;
mod process;
mod util;
mod watchdog;
