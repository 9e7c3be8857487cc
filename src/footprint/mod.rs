//! The daemon's resident footprint: code pages that start-up (or one post-mortem) touched and
//! the steady loop does not need go back to the system.
//!
//! The kernel maps a binary's code in on first touch, and on Linux each fault maps up to 64 KB
//! around it ("fault-around"), so parsing the config, opening the store or drafting one
//! post-mortem leaves megabytes of code resident that the idle loop never runs again. After
//! such a phase [`shed_code`] asks the kernel to reclaim the executable's read-only pages;
//! what the loop and the page server run comes back on its next touch.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;

#[cfg(target_os = "linux")]
pub use linux::shed_code;
#[cfg(not(target_os = "linux"))]
pub use other::shed_code;

/// Sheds the code pages a phase (`after`: "start-up", "post-mortems") left resident; a
/// failure (a kernel without the advice) only costs memory, so it is logged at debug level.
pub fn shed(after: &str) {
    match shed_code() {
        Ok(bytes) => tracing::debug!(after, bytes, "code pages shed"),
        Err(e) => tracing::debug!(after, error = %e, "cannot shed code pages"),
    }
}

/// The executable's read-only mappings (code and constants) in a `/proc/PID/maps` text:
/// start and length of each line whose path is `exe` and whose permissions do not write.
pub fn read_only_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|l| {
            // "start-end perms offset dev inode" one space apart, then padding and the path
            // (which may hold spaces, and ends in " (deleted)" once the binary was replaced).
            let mut f = l.splitn(6, ' ');
            let (range, perms) = (f.next()?, f.next()?);
            let path = f.nth(3)?.trim_start();
            if path != exe || perms.as_bytes().get(1) != Some(&b'-') {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let a = usize::from_str_radix(a, 16).ok()?;
            let b = usize::from_str_radix(b, 16).ok()?;
            (b > a).then_some((a, b - a))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_read_only_mappings_are_shed() {
        let maps = "\
55aac030c000-55aac07a0000 r--p 00000000 fd:01 123                        /opt/my apps/akashic
55aac07a0000-55aac1667000 r-xp 00494000 fd:01 123                        /opt/my apps/akashic
55aac16fd000-55aac170b000 rw-p 013f1000 fd:01 123                        /opt/my apps/akashic
55aac170b000-55aac170c000 rw-p 00000000 00:00 0 
7f8185912000-7f8185914000 r-xp 00000000 fd:01 77                         /usr/lib/x86_64-linux-gnu/libc.so.6
7f8185a00000-7f8185a01000 r-xp 00000000 fd:01 124                        /opt/my apps/akashic (deleted)
7ffd61326000-7ffd61346000 rw-p 00000000 00:00 0                          [stack]
";
        assert_eq!(
            read_only_ranges(maps, "/opt/my apps/akashic"),
            vec![
                (0x55aac030c000, 0x494000),
                (0x55aac07a0000, 0x55aac1667000 - 0x55aac07a0000)
            ]
        );
        // A binary replaced while it runs: /proc/self/exe names it "(deleted)" too.
        assert_eq!(
            read_only_ranges(maps, "/opt/my apps/akashic (deleted)"),
            vec![(0x7f8185a00000, 0x1000)]
        );
        assert!(read_only_ranges(maps, "/usr/bin/other").is_empty());
    }
}
