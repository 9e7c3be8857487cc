//! akashic: a self-healing, self-explaining watchdog for a fleet of services.

pub mod agent;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod core;
pub mod daemon;
pub mod demo;
pub mod exit;
pub mod forensics;
pub mod incident;
pub mod memory;
pub mod probe;
pub mod process;
