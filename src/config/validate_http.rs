//! `[daemon] http` and `http_token_env` (specs/web.md): a loopback address, or any address with
//! a token read from the environment.

use super::locate::KeyPath;
use super::model::HttpConfig;
use super::raw::RawDaemon;
use super::validate::Ctx;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The web server's address and token; `None` when `http` is absent or wrong (then a problem
/// is recorded).
pub(super) fn validate_http(cx: &mut Ctx<'_>, d: &RawDaemon, dk: &KeyPath) -> Option<HttpConfig> {
    let key = dk.key("http");
    let token_key = dk.key("http_token_env");
    let token = match &d.http_token_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(t) if !t.trim().is_empty() => Some(crate::web::Token::new(t)),
            _ => {
                cx.bad(
                    &token_key,
                    format!("environment variable {var} is unset or empty; export {var}=<a long random token> before starting akashic, or remove http_token_env"),
                );
                return None;
            }
        },
    };
    let written = d.http.as_ref()?;
    let Some(addrs) = parse(written) else {
        cx.bad(
            &key,
            format!("invalid address {written:?}; write an IP address (or localhost) and a port, like http = \"127.0.0.1:9333\""),
        );
        return None;
    };
    if token.is_none() && !addrs.iter().all(|a| a.ip().is_loopback()) {
        cx.bad(
            &key,
            format!("{written:?} is not a loopback address and no token is configured: anyone who can reach it would read your services' state; set http_token_env = \"AKASHIC_HTTP_TOKEN\" (and export that variable), or listen on http = \"127.0.0.1:{}\"", addrs[0].port()),
        );
        return None;
    }
    Some(HttpConfig {
        address: written.clone(),
        addrs,
        token,
    })
}

/// `IP:port`, `[IPv6]:port` or `localhost:port`.
fn parse(s: &str) -> Option<Vec<SocketAddr>> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(vec![a]);
    }
    let port = s.strip_prefix("localhost:")?.parse::<u16>().ok()?;
    Some(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)])
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn addresses_parse_as_written() {
        assert_eq!(
            parse("127.0.0.1:9333").unwrap()[0].to_string(),
            "127.0.0.1:9333"
        );
        assert_eq!(parse("[::1]:80").unwrap()[0].to_string(), "[::1]:80");
        assert_eq!(parse("localhost:9").unwrap()[0].to_string(), "127.0.0.1:9");
        assert!(parse("example.invalid:9").is_none());
        assert!(parse("127.0.0.1").is_none());
        assert!(parse("localhost:x").is_none());
    }
}
