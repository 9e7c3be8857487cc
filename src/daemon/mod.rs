//! The daemon: runs probes, feeds the state machines, executes their actions.

pub mod heartbeat;
