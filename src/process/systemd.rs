//! The `systemd` backend: `systemctl [--user] restart <unit>`, pid from `show -p MainPID`.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::exec::display_argv;
use super::{ProcessControl, ProcessError, Tools};

/// `restart` waits for the unit's stop job, whose own default timeout is 90s.
const RESTART_TIMEOUT: Duration = Duration::from_secs(120);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A systemd unit, in the user manager (`--user`) or the system one.
pub struct SystemdControl {
    unit: String,
    user: bool,
    tools: Tools,
}

impl SystemdControl {
    pub fn new(unit: &str, user: bool, tools: Tools) -> Self {
        SystemdControl {
            unit: unit.to_string(),
            user,
            tools,
        }
    }

    /// `systemctl [--user] <args...> <unit>`.
    fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["systemctl".to_string()];
        if self.user {
            argv.push("--user".to_string());
        }
        argv.extend(args.iter().map(|a| a.to_string()));
        argv.push(self.unit.clone());
        argv
    }

    async fn restart_unit(&self) -> Result<String, ProcessError> {
        let argv = self.argv(&["restart"]);
        self.tools.run(&argv, RESTART_TIMEOUT).await?;
        Ok(display_argv(&argv))
    }

    async fn main_pid(&self) -> Option<u32> {
        let argv = self.argv(&["show", "-p", "MainPID", "--value"]);
        match self.tools.run(&argv, QUERY_TIMEOUT).await {
            Ok(out) => parse_main_pid(&out),
            Err(error) => {
                tracing::debug!(unit = %self.unit, error = %format!("{error:#}"), "no pid from systemctl");
                None
            }
        }
    }
}

/// `MainPID` as printed by `show --value`; `0` means no process.
pub fn parse_main_pid(out: &str) -> Option<u32> {
    out.trim().parse().ok().filter(|p| *p > 0)
}

impl ProcessControl for SystemdControl {
    fn ensure_started(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        async { Ok(()) }.boxed()
    }

    fn restart(&self) -> BoxFuture<'_, Result<String, ProcessError>> {
        self.restart_unit().boxed()
    }

    fn pid(&self) -> BoxFuture<'_, Option<u32>> {
        self.main_pid().boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        async { Ok(()) }.boxed()
    }

    fn kind(&self) -> &'static str {
        "systemd"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_pid_zero_is_none() {
        assert_eq!(parse_main_pid("4242\n"), Some(4242));
        assert_eq!(parse_main_pid("0\n"), None);
        assert_eq!(parse_main_pid(""), None);
    }

    #[test]
    fn system_units_have_no_user_flag() {
        let s = SystemdControl::new("x.service", false, Tools::default());
        assert_eq!(s.argv(&["restart"]), ["systemctl", "restart", "x.service"]);
    }
}
