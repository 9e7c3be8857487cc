//! The daemon: runs probes, feeds the state machines, executes their actions.

pub mod control;
mod evidence;
mod files;
pub mod heartbeat;
pub mod lock;
mod params;
pub mod postmortem;
mod runtime;

pub use params::params_for;
pub use runtime::{run, RunOptions};
