//! The `launchd` backend: `launchctl kickstart -k gui/<uid>/<label>`, pid from `launchctl print`.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::exec::display_argv;
use super::{ProcessControl, ProcessError, Tools};

/// `kickstart -k` kills and relaunches at once; it should not take long.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A launchd job in the user's GUI domain.
pub struct LaunchdControl {
    /// `gui/<uid>/<label>`.
    target: String,
    tools: Tools,
}

impl LaunchdControl {
    /// The job `label` in `gui/<uid of akashic>`.
    pub fn new(label: &str, tools: Tools) -> Self {
        let uid = nix::unistd::getuid();
        LaunchdControl {
            target: format!("gui/{uid}/{label}"),
            tools,
        }
    }

    async fn kickstart(&self) -> Result<String, ProcessError> {
        let argv = ["launchctl", "kickstart", "-k", &self.target].map(String::from);
        self.tools.run(&argv, RESTART_TIMEOUT).await?;
        Ok(display_argv(&argv))
    }

    async fn query_pid(&self) -> Option<u32> {
        let argv = ["launchctl", "print", &self.target].map(String::from);
        match self.tools.run(&argv, QUERY_TIMEOUT).await {
            Ok(out) => parse_print_pid(&out),
            Err(error) => {
                tracing::debug!(target_job = %self.target, error = %format!("{error:#}"), "no pid from launchctl");
                None
            }
        }
    }
}

/// The job's own `pid = N` line of `launchctl print` (top level, not a nested block).
pub fn parse_print_pid(out: &str) -> Option<u32> {
    let mut depth = 0usize;
    for line in out.lines() {
        let line = line.trim();
        if line.starts_with('}') {
            depth = depth.saturating_sub(1);
        }
        if depth == 1 {
            if let Some(pid) = line.strip_prefix("pid = ") {
                return pid.trim().parse().ok().filter(|p| *p > 0);
            }
        }
        if line.ends_with('{') {
            depth += 1;
        }
    }
    None
}

impl ProcessControl for LaunchdControl {
    fn ensure_started(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        async { Ok(()) }.boxed()
    }

    fn restart(&self) -> BoxFuture<'_, Result<String, ProcessError>> {
        self.kickstart().boxed()
    }

    fn pid(&self) -> BoxFuture<'_, Option<u32>> {
        self.query_pid().boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        async { Ok(()) }.boxed()
    }

    fn kind(&self) -> &'static str {
        "launchd"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_own_pid_is_read_not_a_nested_one() {
        let out = "gui/501/com.me.bot = {\n\tactive count = 1\n\tstate = running\n\tspawn = {\n\t\tpid = 7\n\t}\n\tpid = 4242\n}\n";
        assert_eq!(parse_print_pid(out), Some(4242));
        assert_eq!(
            parse_print_pid("gui/501/x = {\n\tstate = not running\n}\n"),
            None
        );
        assert_eq!(parse_print_pid("gui/501/x = {\n\tpid = garbage\n}\n"), None);
    }
}
