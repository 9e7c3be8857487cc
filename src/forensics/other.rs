//! Forensics on platforms without a collector: says so.

use std::time::Duration;

pub(super) async fn collect(pid: u32, _budget: Duration) -> (&'static str, String, bool) {
    (
        "none",
        format!("pid {pid} is running; no forensics collector for this platform\n"),
        true,
    )
}
