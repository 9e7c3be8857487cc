//! `http`: status and body of a GET, with refused, timeout, wrong status and wrong body told apart.

use super::port::ms;
use super::ProbeResult;
use std::time::Duration;

/// How much of a body is read to look for `body_contains`.
const BODY_LIMIT: usize = 64 * 1024;

pub async fn probe(
    client: &reqwest::Client,
    url: &str,
    want: u16,
    body_contains: Option<&str>,
    timeout: Duration,
) -> ProbeResult {
    let started = std::time::Instant::now();
    // What is shown and stored: no user info, no query secrets.
    let shown = crate::agent::redact::redact_url(url);
    let fut = async {
        let resp = client.get(url).send().await?;
        let status = resp.status().as_u16();
        let body = match body_contains {
            Some(_) => read_limited(resp).await?,
            None => String::new(),
        };
        Ok::<_, reqwest::Error>((status, body))
    };
    let res = tokio::time::timeout(timeout, fut).await;
    let took = ms(started.elapsed());
    let mut r = match res {
        Err(_) => ProbeResult::bad(
            "timeout",
            format!("GET {shown} timed out after {}", super::age(timeout)),
        ),
        Ok(Err(e)) => classify_error(&shown, &e),
        Ok(Ok((status, body))) => {
            let mut r = judge(&shown, status, &body, want, body_contains, &took);
            r.http_status = Some(status);
            return r;
        }
    };
    r.http_status = None;
    r
}

async fn read_limited(mut resp: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        buf.extend_from_slice(&chunk);
        if buf.len() >= BODY_LIMIT {
            buf.truncate(BODY_LIMIT);
            break;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `url` is the URL as shown; the error's own copy of it is replaced by that.
fn classify_error(url: &str, e: &reqwest::Error) -> ProbeResult {
    let mut chain = crate::errors::chain(e);
    if let Some(raw) = e.url() {
        chain = chain.replace(raw.as_str(), url);
    }
    if let Some(why) = super::own_resource_error(e) {
        ProbeResult::blind(format!(
            "akashic could not look: GET {url}: {why} (akashic's own limit)"
        ))
    } else if e.is_connect() && chain.contains("refused") {
        ProbeResult::bad("refused", format!("GET {url}: connection refused"))
    } else if e.is_timeout() {
        ProbeResult::bad("timeout", format!("GET {url} timed out"))
    } else {
        ProbeResult::bad("error", format!("GET {url}: {chain}"))
    }
}

/// The pure judgement of an answer.
pub fn judge(
    url: &str,
    status: u16,
    body: &str,
    want: u16,
    body_contains: Option<&str>,
    took: &str,
) -> ProbeResult {
    if status != want {
        return ProbeResult::bad(
            "status",
            format!("GET {url} answered HTTP {status} (expected {want})"),
        );
    }
    if let Some(needle) = body_contains {
        if !body.contains(needle) {
            let snippet: String = body.chars().take(80).collect();
            return ProbeResult::bad(
                "body",
                format!("GET {url} answered HTTP {status} but the body lacks {needle:?} (body starts {snippet:?})"),
            );
        }
    }
    ProbeResult::ok(format!("HTTP {status} in {took}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::machine::Verdict;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn failure(r: &ProbeResult) -> &'static str {
        match r.verdict {
            Verdict::Unhealthy { failure, .. } => failure,
            Verdict::Ok { .. } => "ok",
            Verdict::Blind { .. } => "blind",
        }
    }

    /// A one-route HTTP server on 127.0.0.1 answering with a fixed status and body, or never.
    async fn server(status: u16, body: &'static str, hang: bool) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    if hang {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}/health")
    }

    #[tokio::test]
    async fn refused_timeout_status_and_body_are_different_kinds() {
        let client = reqwest::Client::new();
        let t = Duration::from_millis(500);

        let ok = server(200, "{\"ok\":true}", false).await;
        let r = probe(&client, &ok, 200, Some("\"ok\":true"), t).await;
        assert_eq!(failure(&r), "ok");
        assert_eq!(r.http_status, Some(200));
        assert_eq!(
            failure(&probe(&client, &ok, 200, Some("\"ok\":false"), t).await),
            "body"
        );

        let bad = server(503, "down", false).await;
        let r = probe(&client, &bad, 200, None, t).await;
        assert_eq!(failure(&r), "status");
        assert_eq!(r.http_status, Some(503));

        let hang = server(200, "", true).await;
        assert_eq!(
            failure(&probe(&client, &hang, 200, None, t).await),
            "timeout"
        );

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/health", l.local_addr().unwrap())
        };
        assert_eq!(
            failure(&probe(&client, &closed, 200, None, t).await),
            "refused"
        );
    }

    #[test]
    fn wrong_status_detail_names_both_codes() {
        let r = judge("http://h/health", 500, "", 200, None, "1ms");
        assert_eq!(
            r.verdict.detail(),
            "GET http://h/health answered HTTP 500 (expected 200)"
        );
    }
}
