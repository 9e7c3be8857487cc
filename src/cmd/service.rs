//! `akashic service plist|install|uninstall`: plists for services, and akashic itself under launchd or systemd.

use super::{load_config, out, CmdResult};
use crate::cli::{ServiceCmd, SupervisorArgs};
use crate::service::install::{self, apply_install, apply_uninstall, Supervisor, SystemRunner};
use anyhow::Context;
use std::path::Path;

fn supervisor(a: &SupervisorArgs) -> Supervisor {
    match (a.launchd, a.systemd) {
        (true, _) => Supervisor::Launchd,
        (_, true) => Supervisor::Systemd,
        _ => Supervisor::for_this_os(),
    }
}

pub fn run(flag: Option<&Path>, cmd: &ServiceCmd) -> CmdResult {
    let cfg = load_config(flag)?;
    match cmd {
        ServiceCmd::Plist(a) => {
            let svc = cfg
                .service(&a.service)
                .ok_or_else(|| crate::service::plist::PlistError::UnknownService(a.service.clone()))
                .map_err(anyhow::Error::from)?;
            let spec = crate::service::plist::for_service(svc).map_err(anyhow::Error::from)?;
            out(spec.to_xml().map_err(anyhow::Error::from)?.trim_end());
            Ok(crate::exit::OK)
        }
        ServiceCmd::Install(a) => {
            let sup = supervisor(&a.supervisor);
            let paths = install::paths(&cfg.path, &cfg.daemon.state_dir)
                .context("cannot locate akashic, its config or the home directory")?;
            let plan = install::install_plan(sup, &paths).map_err(anyhow::Error::from)?;
            if a.print {
                out(plan.contents.trim_end());
                return Ok(crate::exit::OK);
            }
            std::fs::create_dir_all(&paths.log_dir)
                .with_context(|| format!("cannot create {}", paths.log_dir.display()))?;
            apply_install(&plan, &SystemRunner).map_err(anyhow::Error::from)?;
            out(format!(
                "installed {} and loaded it ({})",
                plan.file.display(),
                plan.commands
                    .iter()
                    .map(|c| c.join(" "))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            Ok(crate::exit::OK)
        }
        ServiceCmd::Uninstall(a) => {
            let sup = supervisor(a);
            let paths = install::paths(&cfg.path, &cfg.daemon.state_dir)
                .context("cannot locate akashic, its config or the home directory")?;
            let plan = install::uninstall_plan(sup, &paths);
            apply_uninstall(&plan, &SystemRunner).map_err(anyhow::Error::from)?;
            out(format!("unloaded and removed {}", plan.file.display()));
            Ok(crate::exit::OK)
        }
    }
}
