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
        Ok(Err(e)) => connect_failed(addr, &e),
        Err(_) => ProbeResult::bad(
            "timeout",
            format!("{addr} did not accept within {}", age(timeout)),
        ),
    }
}

/// A connect that failed other than by refusal: blind when akashic itself ran out of resources.
fn connect_failed(addr: &str, e: &std::io::Error) -> ProbeResult {
    match super::own_resource_error(e) {
        Some(why) => ProbeResult::blind(format!(
            "akashic could not look: connecting to {addr}: {why} (akashic's own limit)"
        )),
        None => ProbeResult::bad("error", format!("cannot connect to {addr}: {e}")),
    }
}

pub(super) fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::machine::Verdict;

    #[test]
    fn out_of_file_descriptors_is_blind_not_unhealthy() {
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        let r = connect_failed("127.0.0.1:9", &e);
        assert!(r.verdict.is_blind(), "{r:?}");
        assert!(
            r.verdict.detail().contains("akashic could not look"),
            "{r:?}"
        );
        let e = std::io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert!(matches!(
            connect_failed("10.0.0.1:9", &e).verdict,
            Verdict::Unhealthy {
                failure: "error",
                ..
            }
        ));
    }

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
