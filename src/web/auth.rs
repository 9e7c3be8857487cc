//! Who may ask: a bearer token (or the cookie the page keeps it in) when one is configured;
//! without one, only requests addressed to a loopback name (no DNS rebinding). A POST from
//! another origin is refused either way.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The cookie the page keeps the token in, once it came as `?token=`.
const COOKIE: &str = "akashic_token";

/// The token of `http_token_env`; never printed.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    pub fn new(s: String) -> Self {
        Token(s.trim().into())
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Checks every request before any route sees it.
pub async fn check(State(token): State<Option<Token>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if req.method() == Method::POST && !same_origin(headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "a request that changes state must come from this page's origin",
        );
    }
    let Some(token) = token else {
        if !loopback_host(headers) {
            return refuse(
                StatusCode::FORBIDDEN,
                "without a token only loopback names (127.0.0.1, localhost, [::1]) are served",
            );
        }
        return next.run(req).await;
    };
    if bearer(headers).is_some_and(|t| token.matches(t))
        || cookie(headers).is_some_and(|t| token.matches(t))
    {
        return next.run(req).await;
    }
    // The page may take the token once in its address, then keeps it in a cookie.
    let from_query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
    if req.method() == Method::GET && req.uri().path() == "/" {
        if let Some(t) = from_query.filter(|t| token.matches(t)) {
            let cookie = format!("{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/");
            let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return r;
        }
    }
    let mut r = refuse(
        StatusCode::UNAUTHORIZED,
        "missing or wrong token: send Authorization: Bearer <token> (the value of http_token_env)",
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

fn refuse(code: StatusCode, why: &str) -> Response {
    (code, axum::Json(serde_json::json!({ "error": why }))).into_response()
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn cookie(h: &HeaderMap) -> Option<&str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The host a request was addressed to, without its port.
fn host(h: &HeaderMap) -> Option<&str> {
    let host = h.get(header::HOST)?.to_str().ok()?;
    Some(match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    })
}

fn loopback_host(h: &HeaderMap) -> bool {
    host(h).is_some_and(|n| {
        n.eq_ignore_ascii_case("localhost")
            || n.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// No `Origin` (a script, curl), or one whose host is the one addressed.
fn same_origin(h: &HeaderMap) -> bool {
    let Some(origin) = h.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(host)) = (origin.to_str(), h.get(header::HOST)) else {
        return false;
    };
    let origin = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    host.to_str().is_ok_and(|h| h.eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn tokens_compare_whole() {
        let t = Token::new("s3cret".into());
        assert!(t.matches("s3cret"));
        assert!(!t.matches("s3cre"));
        assert!(!t.matches("s3cret!"));
        assert!(!t.matches(""));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn loopback_names_only_without_a_token() {
        for ok in [
            "127.0.0.1:9333",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "127.8.0.1",
        ] {
            assert!(loopback_host(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example.invalid:9333",
            "10.0.0.1:9333",
            "[fe80::1]:1",
            "",
        ] {
            assert!(!loopback_host(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!loopback_host(&HeaderMap::new()));
    }

    #[test]
    fn a_post_from_another_origin_is_not_the_page() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:9333")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:9333"),
            ("origin", "http://127.0.0.1:9333")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:9333"),
            ("origin", "http://evil.example.invalid")
        ])));
    }

    #[test]
    fn the_token_is_read_from_header_or_cookie() {
        let h = headers(&[("authorization", "Bearer abc")]);
        assert_eq!(bearer(&h), Some("abc"));
        let h = headers(&[("cookie", "x=1; akashic_token=abc; y=2")]);
        assert_eq!(cookie(&h), Some("abc"));
        assert_eq!(cookie(&headers(&[("cookie", "akashic_tokenx=abc")])), None);
    }
}
