//! Looking up the programs a config runs (a child's command, a restart command, a counter
//! command): the outside port, its real implementation, and which argv entries name programs.

use std::path::{Path, PathBuf};

/// Where programs are found.
pub trait Programs {
    /// Where `program` resolves when run with `path` as PATH in `cwd`; `None` if it cannot run.
    fn find(&self, program: &str, path: &str, cwd: Option<&Path>) -> Option<PathBuf>;
    /// akashic's own PATH: what a program gets when its config sets none.
    fn own_path(&self) -> String;
}

/// The file system and this process's PATH.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemPrograms;

impl Programs for SystemPrograms {
    fn find(&self, program: &str, path: &str, cwd: Option<&Path>) -> Option<PathBuf> {
        let p = Path::new(program);
        if program.contains('/') && p.is_relative() {
            let from = match cwd {
                Some(c) => c.to_path_buf(),
                None => std::env::current_dir().ok()?,
            };
            let full = from.join(p);
            return crate::service::plist::which(&full.to_string_lossy(), path);
        }
        crate::service::plist::which(program, path)
    }

    fn own_path(&self) -> String {
        std::env::var("PATH").unwrap_or_default()
    }
}

/// The argv entries that name a program, with their index: the first, and after `env` (with its
/// options and `NAME=value` pairs) the program it runs.
pub fn to_look_up(argv: &[String]) -> Vec<(usize, &str)> {
    let Some(first) = argv.first().filter(|a| !a.is_empty()) else {
        return Vec::new();
    };
    let mut out = vec![(0, first.as_str())];
    if first.rsplit('/').next() == Some("env") {
        if let Some((i, prog)) = argv
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, a)| !a.starts_with('-') && !a.contains('='))
        {
            out.push((i, prog.as_str()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn env_wrappers_name_the_program_they_run() {
        assert_eq!(
            to_look_up(&argv(&["python3", "bot.py"])),
            vec![(0, "python3")]
        );
        assert_eq!(
            to_look_up(&argv(&["/usr/bin/env", "-i", "MODE=live", "node", "x.js"])),
            vec![(0, "/usr/bin/env"), (3, "node")]
        );
        assert!(to_look_up(&[]).is_empty());
    }

    #[test]
    fn relative_programs_are_found_from_their_working_directory() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let sys = SystemPrograms;
        assert_eq!(
            sys.find("./run.sh", "", Some(tmp.path())),
            Some(tmp.path().join("./run.sh"))
        );
        assert_eq!(sys.find("run.sh", "/nonexistent", Some(tmp.path())), None);
        assert_eq!(
            sys.find("run.sh", &tmp.path().display().to_string(), None),
            Some(script)
        );
    }
}
