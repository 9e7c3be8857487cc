//! Exit codes of the `akashic` binary, named in one place.

/// Success.
pub const OK: i32 = 0;
/// Some check is unhealthy, an id is unknown, a finding is an error, or a line was bad.
pub const FAILURE: i32 = 1;
/// Wrong command-line usage (clap's own code).
pub const USAGE: i32 = 2;
/// The configuration is invalid (EX_CONFIG from sysexits.h).
pub const CONFIG: i32 = 78;
/// An internal or I/O error that is not the user's input.
pub const SOFTWARE: i32 = 70;
/// Stopped by SIGINT (128 + 2, as shells report it).
pub const INTERRUPTED: i32 = 130;
