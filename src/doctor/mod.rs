//! `akashic doctor`: the operational lessons of launchd and systemd, turned into checks.

pub mod checks;
pub mod compose;
pub mod job;
pub mod model;
pub mod ports;
pub mod render;

pub use checks::diagnose;
pub use model::{Finding, Report, Severity};
pub use ports::{Ports, RealPorts};

#[cfg(test)]
mod tests;
