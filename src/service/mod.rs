//! Running under a supervisor: launchd plists, systemd units, and installing akashic itself.

pub mod install;
pub mod plist;
pub mod unit;

pub use install::{install_plan, uninstall_plan, Paths, Plan, Runner, Supervisor, SystemRunner};
pub use plist::{AgentSpec, DEFAULT_PATH};
