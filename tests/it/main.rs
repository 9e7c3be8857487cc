//! The integration tests: one binary, one module per area.

mod agent;
mod config;
mod faults;
mod first_hour;
mod fleet;
mod flood;
mod label;
mod living;
mod memory;
mod others;
mod privacy;
mod process;
mod util;
mod watchdog;
mod web;
