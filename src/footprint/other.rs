//! macOS and other systems: nothing to do. macOS has no `MADV_PAGEOUT`, and the footprint it
//! reports for a process (Activity Monitor's "Memory", `phys_footprint`) does not count clean
//! pages mapped from the binary, which are what Linux sheds.

/// Nothing is shed here; returns 0 bytes advised.
pub fn shed_code() -> std::io::Result<usize> {
    Ok(0)
}
