//! Evidence captured at detection, before the kill: process state, forensics, log tail.

use crate::config::{CheckKind, ServiceConfig};
use crate::incident::{Forensics, ProcessState};
use crate::process::ProcessControl;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

/// How much of the log's end is kept in the incident.
pub const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// What the runtime knew from its last probe answers.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub http_status: Option<u16>,
    pub port_bound: Option<bool>,
}

/// Process state at detection; each part bounded so the restart is never held up.
pub async fn process_state(
    svc: &ServiceConfig,
    backend: Option<&dyn ProcessControl>,
    seen: &Seen,
) -> ProcessState {
    let pid = match backend {
        Some(b) => tokio::time::timeout(Duration::from_secs(1), b.pid())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let running = pid.map(crate::process::pid_alive);
    let port_bound = match seen.port_bound {
        Some(b) => Some(b),
        None => match http_addr(svc) {
            Some(addr) => Some(matches!(
                tokio::time::timeout(
                    Duration::from_millis(500),
                    tokio::net::TcpStream::connect(addr.as_str())
                )
                .await,
                Ok(Ok(_))
            )),
            None => None,
        },
    };
    ProcessState {
        running,
        pid,
        port_bound,
        http_status: seen.http_status,
    }
}

/// host:port of the first http check, to test whether the port is bound.
fn http_addr(svc: &ServiceConfig) -> Option<String> {
    svc.checks.iter().find_map(|c| match &c.kind {
        CheckKind::Http { url, .. } => {
            let rest = url.split_once("://")?.1;
            let hostport = rest.split('/').next()?;
            if hostport.contains(':') {
                Some(hostport.to_string())
            } else if url.starts_with("https") {
                Some(format!("{hostport}:443"))
            } else {
                Some(format!("{hostport}:80"))
            }
        }
        _ => None,
    })
}

/// A forensics snapshot of a live pid within the budget; a dead or unknown pid says why.
pub async fn forensics(
    pid: Option<u32>,
    running: Option<bool>,
    budget: Duration,
) -> Option<Forensics> {
    match (pid, running) {
        (Some(pid), Some(true)) => Some(crate::forensics::snapshot(pid, budget).await),
        (Some(pid), _) => Some(Forensics {
            method: "none".into(),
            text: format!("pid {pid} was not running at detection"),
            took_ms: 0,
            truncated: false,
        }),
        (None, _) => None,
    }
}

/// The last `LOG_TAIL_BYTES` of a log, starting at a line boundary.
pub fn log_tail(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::with_capacity((len - start) as usize);
    f.read_to_end(&mut buf).ok()?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        if let Some(nl) = text.find('\n') {
            text.drain(..=nl);
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_starts_at_a_line_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        let line = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
        std::fs::write(&p, line.repeat(2000)).unwrap();
        let t = log_tail(&p).unwrap();
        assert!(t.len() as u64 <= LOG_TAIL_BYTES);
        assert!(t.starts_with("0123"), "{:?}", &t[..10]);
        assert!(log_tail(&dir.path().join("missing.log")).is_none());
    }

    mod any_file {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Any bytes, any size around the limit: the tail is bounded, starts on a line of
            /// the file, and reading never panics.
            #[test]
            fn any_log_file_has_a_bounded_tail(
                bytes in proptest::collection::vec(any::<u8>(), 0..256),
                repeat in 0usize..700,
            ) {
                let dir = tempfile::tempdir().unwrap();
                let p = dir.path().join("x.log");
                let body = bytes.repeat(repeat);
                std::fs::write(&p, &body).unwrap();
                let t = log_tail(&p).unwrap();
                // Lossy UTF-8 may widen a byte to three; the read itself is bounded.
                prop_assert!(t.len() as u64 <= 3 * LOG_TAIL_BYTES);
                if (body.len() as u64) <= LOG_TAIL_BYTES {
                    prop_assert_eq!(t, String::from_utf8_lossy(&body).into_owned());
                }
            }
        }
    }
}
