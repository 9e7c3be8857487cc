//! A test double for [`ProcessControl`]: records calls, answers a set pid, can always fail.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{ProcessControl, ProcessError};

/// Records every call as a word (`ensure_started`, `restart`, `pid`, `shutdown`).
#[derive(Debug, Clone, Default)]
pub struct FakeControl {
    calls: Arc<Mutex<Vec<&'static str>>>,
    pid: Option<u32>,
    /// `Some(stderr)`: restart and ensure_started fail with it.
    failing: Option<String>,
}

impl FakeControl {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `pid()` with this.
    pub fn with_pid(mut self, pid: u32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Makes `restart` and `ensure_started` fail with this stderr.
    pub fn failing(mut self, stderr: &str) -> Self {
        self.failing = Some(stderr.to_string());
        self
    }

    /// The calls so far, in order (shared by clones).
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, call: &'static str) -> Result<(), ProcessError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        match &self.failing {
            Some(stderr) if call != "pid" && call != "shutdown" => Err(ProcessError::Failed {
                command: format!("fake {call}"),
                status: "exited with code 1".to_string(),
                stderr: stderr.clone(),
            }),
            _ => Ok(()),
        }
    }
}

impl ProcessControl for FakeControl {
    fn ensure_started(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        let got = self.record("ensure_started");
        async move { got }.boxed()
    }

    fn restart(&self) -> BoxFuture<'_, Result<String, ProcessError>> {
        let got = self.record("restart").map(|()| "fake restart".to_string());
        async move { got }.boxed()
    }

    fn pid(&self) -> BoxFuture<'_, Option<u32>> {
        let _ = self.record("pid");
        let pid = self.pid;
        async move { pid }.boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ProcessError>> {
        let got = self.record("shutdown");
        async move { got }.boxed()
    }

    fn kind(&self) -> &'static str {
        "fake"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_calls_and_fails_when_told() {
        let ok = FakeControl::new().with_pid(7);
        assert_eq!(ok.restart().await.ok().as_deref(), Some("fake restart"));
        assert_eq!(ok.pid().await, Some(7));
        assert_eq!(ok.calls(), ["restart", "pid"]);

        let bad = FakeControl::new().failing("boom");
        let err = bad.restart().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "run `fake restart`: exited with code 1; stderr: boom"
        );
        assert!(bad.shutdown().await.is_ok());
    }
}
