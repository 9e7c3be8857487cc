//! The daemon: runs probes, feeds the state machines, executes their actions.

mod beats;
pub mod control;
mod evidence;
mod execute;
mod files;
mod fleet;
pub mod lock;
mod mounts;
mod open;
mod params;
pub mod postmortem;
mod recur;
mod runtime;
mod schedule;

pub use params::params_for;
pub use runtime::{run, RunOptions};
