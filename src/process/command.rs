//! The `command` backend: a restart is whatever command the operator configured.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::exec::display_argv;
use super::{ProcessControl, ProcessError, Tools};

/// How long a configured restart command may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Restarts by running `run`; success is exit 0.
pub struct CommandControl {
    run: Vec<String>,
    timeout: Duration,
    tools: Tools,
}

impl CommandControl {
    pub fn new(run: Vec<String>, tools: Tools) -> Self {
        CommandControl {
            run,
            timeout: DEFAULT_TIMEOUT,
            tools,
        }
    }

    /// Overrides [`DEFAULT_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn run_it(&self) -> Result<String, ProcessError> {
        self.tools.run(&self.run, self.timeout).await?;
        Ok(format!("ran {}", display_argv(&self.run)))
    }
}

impl ProcessControl for CommandControl {
    fn ensure_started(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        async { Ok(()) }.boxed()
    }

    fn restart(&self) -> BoxFuture<'_, Result<String, ProcessError>> {
        self.run_it().boxed()
    }

    fn pid(&self) -> BoxFuture<'_, Option<u32>> {
        async { None }.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        async { Ok(()) }.boxed()
    }

    fn kind(&self) -> &'static str {
        "command"
    }
}
