//! Probes: one per check kind. Each answers ok or unhealthy with a failure kind and a readable detail.

mod artifact;
pub mod files;
mod fmt;
mod http;
mod log_stale;
mod port;

pub use fmt::age;

use crate::config::{ArtifactSpec, CheckKind};
use crate::core::machine::{Progress, Verdict};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How long before `now` the time `then` was; a time in the future (a clock stepped back)
/// counts as now, so it never reads as stale.
pub(crate) fn since(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// What one probe run found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub verdict: Verdict,
    pub progress: Option<Progress>,
    /// The HTTP status seen, for the incident's process state.
    pub http_status: Option<u16>,
}

impl ProbeResult {
    pub fn ok(detail: impl Into<String>) -> Self {
        ProbeResult {
            verdict: Verdict::Ok {
                detail: detail.into(),
            },
            progress: None,
            http_status: None,
        }
    }
    pub fn bad(failure: &'static str, detail: impl Into<String>) -> Self {
        ProbeResult {
            verdict: Verdict::Unhealthy {
                failure,
                detail: detail.into(),
            },
            progress: None,
            http_status: None,
        }
    }
    /// akashic could not look (its own resource error): no verdict on the service.
    pub fn blind(detail: impl Into<String>) -> Self {
        ProbeResult {
            verdict: Verdict::Blind {
                detail: detail.into(),
            },
            progress: None,
            http_status: None,
        }
    }
    pub fn with_progress(mut self, p: Progress) -> Self {
        self.progress = Some(p);
        self
    }
}

/// Samples of a counter over its growth window: state a counter check keeps between runs.
#[derive(Debug, Clone, Default)]
pub struct CounterHistory {
    samples: VecDeque<(Instant, i64)>,
}

/// The clocks a probe reads, injected so tests can fix them.
#[derive(Debug, Clone, Copy)]
pub struct Clocks {
    pub wall: SystemTime,
    pub mono: Instant,
}

impl Clocks {
    pub fn now() -> Self {
        Clocks {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }
}

/// Shared, reusable clients for probes.
#[derive(Clone)]
pub struct Probes {
    http: reqwest::Client,
}

impl Default for Probes {
    fn default() -> Self {
        Self::new()
    }
}

impl Probes {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("akashic/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the http client builds with static settings");
        Probes { http }
    }

    /// Runs one check once. Its detail is redacted: a secret in what a check saw (a command's
    /// output, a URL) is never shown or stored.
    pub async fn run(&self, kind: &CheckKind, history: &mut CounterHistory) -> ProbeResult {
        let mut r = match kind {
            CheckKind::LogStale { path, max_age } => {
                log_stale::probe(path, *max_age, Clocks::now().wall).await
            }
            CheckKind::Http {
                url,
                status,
                body_contains,
                timeout,
            } => http::probe(&self.http, url, *status, body_contains.as_deref(), *timeout).await,
            CheckKind::Port { addr, timeout } => port::probe(addr, *timeout).await,
            CheckKind::Artifact(a) => artifact::probe(a, history, Clocks::now()).await,
        };
        r.verdict.redact();
        r
    }
}

/// A short human description of a check's target, for status lines.
pub fn describe(kind: &CheckKind) -> String {
    match kind {
        CheckKind::LogStale { path, .. } => format!("log {}", path.display()),
        CheckKind::Http { url, .. } => {
            format!("GET {}", crate::agent::redact::redact_url(url))
        }
        CheckKind::Port { addr, .. } => format!("tcp {addr}"),
        CheckKind::Artifact(ArtifactSpec::Glob { pattern, .. }) => format!("files {pattern}"),
        CheckKind::Artifact(
            ArtifactSpec::SqliteTimestamp { db, .. } | ArtifactSpec::SqliteCount { db, .. },
        ) => {
            format!("sqlite {}", db.display())
        }
        CheckKind::Artifact(ArtifactSpec::Command { command, .. }) => {
            format!(
                "command {}",
                crate::agent::redact::redact(&command.join(" "))
            )
        }
    }
}

/// When an error is akashic's own lack of resources (file descriptors, memory, local ports)
/// rather than anything about the service, the OS's reason; these make a probe blind, never
/// failed.
pub fn own_resource_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(code) = io.raw_os_error() {
                if [
                    libc::EMFILE,
                    libc::ENFILE,
                    libc::ENOBUFS,
                    libc::ENOMEM,
                    libc::EADDRNOTAVAIL,
                ]
                .contains(&code)
                {
                    return Some(std::io::Error::from_raw_os_error(code).to_string());
                }
            }
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod own_tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connect failed")]
    struct Wrapper(#[source] std::io::Error);

    #[test]
    fn akashic_out_of_descriptors_is_its_own_error_however_deep() {
        let e = Wrapper(std::io::Error::from_raw_os_error(libc::EMFILE));
        let why = own_resource_error(&e).unwrap();
        assert!(why.contains("Too many open files"), "{why}");
        let refused = Wrapper(std::io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(own_resource_error(&refused), None);
    }
}
