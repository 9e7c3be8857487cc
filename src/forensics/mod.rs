//! Forensics snapshot of a hung process, within a time budget.

mod budget;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(any(target_os = "macos", test))]
mod macos;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod other;
mod snapshot;

pub use snapshot::{snapshot, DEFAULT_BUDGET};
