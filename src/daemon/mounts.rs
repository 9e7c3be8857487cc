//! Where file systems are mounted, read from the system's mount table without touching any of
//! them (a hung or full file system is never waited on): `/proc/self/mountinfo` on Linux,
//! `getmntinfo` on macOS.

use std::path::{Path, PathBuf};

/// The mount point a path is under: the longest mount point it starts with (component-wise),
/// `/` when none is known. The path itself is never looked at (it may not exist: a write
/// refused for lack of space may have left no file).
pub fn mount_of(path: &Path, mounts: &[PathBuf]) -> PathBuf {
    mounts
        .iter()
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.components().count())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Every mount point of this system.
#[cfg(target_os = "linux")]
pub fn mount_points() -> Vec<PathBuf> {
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => parse_mountinfo(&text),
        Err(_) => vec![PathBuf::from("/")],
    }
}

/// The mount points of `/proc/self/mountinfo`: its fifth field, octal escapes undone.
#[cfg(any(target_os = "linux", test))]
fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .collect()
}

/// `\040` (space), `\011`, `\012`, `\134` as the kernel writes them.
#[cfg(any(target_os = "linux", test))]
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every mount point of this system.
#[cfg(target_os = "macos")]
pub fn mount_points() -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf: *mut libc::statfs = std::ptr::null_mut();
    // SAFETY: getmntinfo points `buf` at its own array of `n` records (not ours to free);
    // MNT_NOWAIT returns what the kernel has without asking any file system.
    let n = unsafe { libc::getmntinfo(&mut buf, libc::MNT_NOWAIT) };
    if n <= 0 || buf.is_null() {
        return vec![PathBuf::from("/")];
    }
    // SAFETY: `buf` holds `n` records, alive until the next getmntinfo call on this thread.
    let all = unsafe { std::slice::from_raw_parts(buf, n as usize) };
    all.iter()
        .map(|s| {
            // SAFETY: f_mntonname is a NUL-terminated C string inside the record.
            let name = unsafe { std::ffi::CStr::from_ptr(s.f_mntonname.as_ptr()) };
            PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()))
        })
        .collect()
}

/// Every mount point of this system (only `/` is known here).
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn mount_points() -> Vec<PathBuf> {
    vec![PathBuf::from("/")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_under_the_longest_mount_point_it_starts_with() {
        let mounts = parse_mountinfo(
            "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
             30 22 8:2 / /data rw - ext4 /dev/sdb1 rw\n\
             31 22 8:3 / /data/big\\040disk rw - xfs /dev/sdc1 rw\n\
             32 22 0:5 / /database rw - tmpfs tmpfs rw\n",
        );
        assert_eq!(
            mounts,
            ["/", "/data", "/data/big disk", "/database"].map(PathBuf::from)
        );
        let at = |p: &str| mount_of(Path::new(p), &mounts);
        assert_eq!(at("/data/ingest/never-written.json"), Path::new("/data"));
        assert_eq!(at("/data/big disk/x"), Path::new("/data/big disk"));
        // Component-wise: /database is not under /data.
        assert_eq!(at("/database/pg/base"), Path::new("/database"));
        assert_eq!(at("/srv/x"), Path::new("/"));
        assert_eq!(mount_of(Path::new("/x"), &[]), Path::new("/"));
    }

    #[test]
    fn this_systems_mount_table_has_the_root() {
        let mounts = mount_points();
        assert!(mounts.iter().any(|m| m == Path::new("/")), "{mounts:?}");
        #[cfg(target_os = "linux")]
        assert_eq!(
            mount_of(Path::new("/proc/self/status"), &mounts),
            Path::new("/proc")
        );
    }
}
