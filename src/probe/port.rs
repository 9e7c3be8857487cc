//! `port`: a TCP connect to `addr` must succeed within the timeout.

use super::fmt::age;
use super::ProbeResult;
use std::time::Duration;
use tokio::net::TcpStream;

pub async fn probe(addr: &str, timeout: Duration) -> ProbeResult {
    let started = std::time::Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => ProbeResult::ok(format!(
            "{addr} accepted a connection in {}",
            ms(started.elapsed())
        )),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ProbeResult::bad("refused", format!("{addr} refused the connection"))
        }
        Ok(Err(e)) => ProbeResult::bad("error", format!("cannot connect to {addr}: {e}")),
        Err(_) => ProbeResult::bad(
            "timeout",
            format!("{addr} did not accept within {}", age(timeout)),
        ),
    }
}

pub(super) fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::machine::Verdict;

    #[tokio::test]
    async fn bound_port_is_ok_and_closed_port_is_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        assert!(probe(&addr, Duration::from_secs(2)).await.verdict.is_ok());
        drop(l);
        let r = probe(&addr, Duration::from_secs(2)).await;
        assert!(
            matches!(
                r.verdict,
                Verdict::Unhealthy {
                    failure: "refused",
                    ..
                }
            ),
            "{r:?}"
        );
    }
}
