//! Process control: the restart backends (child, launchd, systemd, command) behind one trait.

mod backend;
pub mod child;
pub mod command;
mod control;
mod error;
mod exec;
pub mod fake;
pub mod launchd;
pub mod pidfile;
mod signal;
pub mod systemd;

pub use backend::backend_for;
pub use control::{ExitEvent, ProcessControl};
pub use error::ProcessError;
pub use exec::Tools;
pub use signal::{describe_exit, pid_alive};
