//! The integration tests: one binary, one module per area.

mod process;
mod util;
mod watchdog;
