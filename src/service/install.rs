//! Installing akashic itself under launchd or systemd: a pure plan (file + commands), then a runner executes it.

use super::plist::{with_path, AgentSpec, PlistError, AKASHIC_LABEL};
use super::unit::{unit, AKASHIC_UNIT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which supervisor to install under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervisor {
    Launchd,
    Systemd,
}

impl Supervisor {
    /// launchd on macOS, systemd elsewhere.
    pub fn for_this_os() -> Supervisor {
        if cfg!(target_os = "macos") {
            Supervisor::Launchd
        } else {
            Supervisor::Systemd
        }
    }
}

/// Everything a plan depends on, gathered by the shell.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub xdg_config: PathBuf,
    /// The absolute path of the running akashic.
    pub exe: PathBuf,
    /// The absolute path of the config.
    pub config: PathBuf,
    /// Where the daemon's stdout/stderr go.
    pub log_dir: PathBuf,
    pub uid: u32,
}

/// A file to write (or remove) and the commands to run after.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub file: PathBuf,
    /// Empty for an uninstall.
    pub contents: String,
    pub commands: Vec<Vec<String>>,
    /// Commands whose failure is expected and ignored (e.g. unloading what is not loaded).
    pub tolerated: Vec<Vec<String>>,
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// akashic's own LaunchAgent.
pub fn agent_spec(p: &Paths) -> AgentSpec {
    AgentSpec {
        label: AKASHIC_LABEL.into(),
        program_arguments: vec![
            p.exe.to_string_lossy().into_owned(),
            "--config".into(),
            p.config.to_string_lossy().into_owned(),
            "watch".into(),
        ],
        working_directory: None,
        stdout: Some(p.log_dir.join("akashic.out.log")),
        stderr: Some(p.log_dir.join("akashic.err.log")),
        env: with_path(BTreeMap::new()),
    }
}

fn plist_path(p: &Paths) -> PathBuf {
    p.home
        .join("Library/LaunchAgents")
        .join(format!("{AKASHIC_LABEL}.plist"))
}

fn unit_path(p: &Paths) -> PathBuf {
    p.xdg_config.join("systemd/user").join(AKASHIC_UNIT)
}

/// What installing means: the file and the commands that load it.
pub fn install_plan(sup: Supervisor, p: &Paths) -> Result<Plan, PlistError> {
    Ok(match sup {
        Supervisor::Launchd => {
            let file = plist_path(p);
            let domain = format!("gui/{}", p.uid);
            let target = format!("{domain}/{AKASHIC_LABEL}");
            Plan {
                contents: agent_spec(p).to_xml()?,
                // A reinstall replaces a loaded agent: unload first, quietly.
                tolerated: vec![argv(&["launchctl", "bootout", &target])],
                commands: vec![argv(&[
                    "launchctl",
                    "bootstrap",
                    &domain,
                    &file.to_string_lossy(),
                ])],
                file,
            }
        }
        Supervisor::Systemd => {
            let spec = agent_spec(p);
            Plan {
                file: unit_path(p),
                contents: unit(
                    "akashic: self-healing watchdog for a fleet of services",
                    &spec.program_arguments,
                    &spec.env,
                ),
                tolerated: Vec::new(),
                commands: vec![
                    argv(&["systemctl", "--user", "daemon-reload"]),
                    argv(&["systemctl", "--user", "enable", "--now", AKASHIC_UNIT]),
                ],
            }
        }
    })
}

/// What uninstalling means: the commands that unload, then the file to remove.
pub fn uninstall_plan(sup: Supervisor, p: &Paths) -> Plan {
    match sup {
        Supervisor::Launchd => Plan {
            file: plist_path(p),
            contents: String::new(),
            tolerated: Vec::new(),
            commands: vec![argv(&[
                "launchctl",
                "bootout",
                &format!("gui/{}/{AKASHIC_LABEL}", p.uid),
            ])],
        },
        Supervisor::Systemd => Plan {
            file: unit_path(p),
            contents: String::new(),
            tolerated: Vec::new(),
            commands: vec![argv(&[
                "systemctl",
                "--user",
                "disable",
                "--now",
                AKASHIC_UNIT,
            ])],
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove {}", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
}

/// The outside port: runs a supervisor command.
pub trait Runner {
    /// Runs `argv`; Err(what it said) when it fails.
    fn run(&self, argv: &[String]) -> Result<(), String>;
}

/// Runs commands for real, found on the process PATH.
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&self, argv: &[String]) -> Result<(), String> {
        let (prog, args) = argv.split_first().ok_or("empty command")?;
        let out = std::process::Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {prog}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(format!("{} ({said})", out.status))
        }
    }
}

/// Writes the file, then runs the commands.
pub fn apply_install(plan: &Plan, runner: &dyn Runner) -> Result<(), InstallError> {
    crate::atomic::write(&plan.file, &plan.contents).map_err(|source| InstallError::Write {
        path: plan.file.clone(),
        source,
    })?;
    for c in &plan.tolerated {
        let _ = runner.run(c);
    }
    run_all(&plan.commands, runner)
}

/// Runs the commands, then removes the file (a file already gone is fine).
pub fn apply_uninstall(plan: &Plan, runner: &dyn Runner) -> Result<(), InstallError> {
    let res = run_all(&plan.commands, runner);
    match std::fs::remove_file(&plan.file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(InstallError::Remove {
                path: plan.file.clone(),
                source,
            })
        }
    }
    res
}

fn run_all(commands: &[Vec<String>], runner: &dyn Runner) -> Result<(), InstallError> {
    for c in commands {
        runner.run(c).map_err(|detail| InstallError::Command {
            command: c.join(" "),
            detail,
        })?;
    }
    Ok(())
}

/// Where the shell finds everything for a plan.
pub fn paths(config: &Path, state_dir: &Path) -> std::io::Result<Paths> {
    let home = dirs::home_dir().ok_or_else(|| std::io::Error::other("no home directory"))?;
    let xdg_config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    let exe = std::env::current_exe()?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let config = config.canonicalize()?;
    Ok(Paths {
        home,
        xdg_config,
        exe,
        config,
        log_dir: state_dir.join("logs"),
        uid: nix::unistd::getuid().as_raw(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn paths() -> Paths {
        Paths {
            home: "/Users/me".into(),
            xdg_config: "/Users/me/.config".into(),
            exe: "/opt/akashic/bin/akashic".into(),
            config: "/Users/me/akashic.toml".into(),
            log_dir: "/Users/me/state/logs".into(),
            uid: 501,
        }
    }

    /// Records every command; fails the ones that start with `fail`.
    #[derive(Default)]
    struct Recorder {
        calls: RefCell<Vec<String>>,
        fail: Option<&'static str>,
    }

    impl Runner for Recorder {
        fn run(&self, argv: &[String]) -> Result<(), String> {
            let line = argv.join(" ");
            self.calls.borrow_mut().push(line.clone());
            match self.fail {
                Some(f) if line.starts_with(f) => Err("exit status: 5".into()),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn launchd_plan_bootstraps_into_the_gui_domain() {
        let plan = install_plan(Supervisor::Launchd, &paths()).unwrap();
        assert_eq!(
            plan.file,
            PathBuf::from("/Users/me/Library/LaunchAgents/com.akashic.daemon.plist")
        );
        assert_eq!(
            plan.commands,
            vec![argv(&[
                "launchctl",
                "bootstrap",
                "gui/501",
                "/Users/me/Library/LaunchAgents/com.akashic.daemon.plist"
            ])]
        );
        let v: plist::Value = plist::from_bytes(plan.contents.as_bytes()).unwrap();
        let args: Vec<&str> = v.as_dictionary().unwrap()["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_string())
            .collect();
        assert_eq!(
            args,
            [
                "/opt/akashic/bin/akashic",
                "--config",
                "/Users/me/akashic.toml",
                "watch"
            ]
        );
    }

    #[test]
    fn systemd_plan_reloads_and_enables_now() {
        let plan = install_plan(Supervisor::Systemd, &paths()).unwrap();
        assert_eq!(
            plan.file,
            PathBuf::from("/Users/me/.config/systemd/user/akashic.service")
        );
        assert_eq!(
            plan.commands[1].join(" "),
            "systemctl --user enable --now akashic.service"
        );
        assert!(plan.contents.contains("Restart=always"));
        assert!(plan
            .contents
            .contains("ExecStart=/opt/akashic/bin/akashic --config /Users/me/akashic.toml watch"));
    }

    #[test]
    fn a_failed_load_is_an_error_naming_the_command_and_uninstall_still_removes_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = paths();
        p.home = tmp.path().into();
        let plan = install_plan(Supervisor::Launchd, &p).unwrap();
        let r = Recorder {
            fail: Some("launchctl bootstrap"),
            ..Default::default()
        };
        let msg = apply_install(&plan, &r).unwrap_err().to_string();
        assert!(msg.starts_with("`launchctl bootstrap gui/501 "), "{msg}");
        assert!(plan.file.is_file());
        let un = uninstall_plan(Supervisor::Launchd, &p);
        let r = Recorder::default();
        apply_uninstall(&un, &r).unwrap();
        assert!(!plan.file.exists());
        assert_eq!(
            r.calls.borrow().as_slice(),
            ["launchctl bootout gui/501/com.akashic.daemon"]
        );
    }
}
