//! Linux: `madvise(MADV_PAGEOUT)` (kernel 5.4 and later) over the executable's read-only
//! mappings, found in `/proc/self/maps`.

use super::read_only_ranges;

/// Asks the kernel to reclaim the executable's resident read-only pages; returns the bytes
/// advised. The pages are clean copies of the binary on disk: a later touch maps them again.
pub fn shed_code() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut advised = 0;
    for (start, len) in read_only_ranges(&maps, &exe.to_string_lossy()) {
        // SAFETY: the range is one of this process's own file-backed, read-only mappings, as
        // /proc/self/maps lists it; MADV_PAGEOUT only drops pages that can be read back from
        // the file, so no content changes and no memory is unmapped.
        let r = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        advised += len;
    }
    Ok(advised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_file_kb() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap()
    }

    #[test]
    fn shedding_gives_resident_code_back() {
        let before = rss_file_kb();
        match shed_code() {
            Ok(advised) => assert!(advised > 0, "the test binary has read-only mappings"),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                eprintln!("skipped: this kernel has no MADV_PAGEOUT (Linux 5.4 and later)");
                return;
            }
            Err(e) => panic!("shed_code: {e}"),
        }
        let after = rss_file_kb();
        assert!(
            after < before,
            "RssFile {before} kB before, {after} kB after"
        );
    }
}
