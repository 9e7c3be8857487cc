//! akashic: a self-healing, self-explaining watchdog for a fleet of services.

pub mod agent;
pub mod atomic;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod core;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod doctor;
pub mod errors;
pub mod exit;
pub mod fnv;
pub mod footprint;
pub mod forensics;
pub mod heartbeat;
pub mod incident;
pub mod mcp;
pub mod memory;
pub mod notify;
pub mod probe;
pub mod process;
pub mod secure;
pub mod service;
pub mod web;
