//! The doctor's outside ports: endpoints that must answer and the embedding model on disk.

use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// What the doctor asks of the world beyond the file system.
pub trait Ports {
    /// Ok(what answered) when `url` answers HTTP at all (any status).
    fn http(&self, url: &str) -> Result<String, String>;
    /// Ok when a TCP connection to `host:port` of `url` opens.
    fn tcp(&self, url: &str) -> Result<(), String>;
    /// Ok(where it is) when the embedding model and runtime are installed.
    fn model(&self, model_dir: Option<&std::path::Path>) -> Result<String, String>;
}

/// The real network and file system.
pub struct RealPorts;

/// `host:port` of an http(s) URL (default ports 80/443).
pub fn host_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        return Some(authority.to_string());
    }
    let port = if scheme == "https" { 443 } else { 80 };
    Some(format!("{authority}:{port}"))
}

impl Ports for RealPorts {
    fn http(&self, url: &str) -> Result<String, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .map_err(|e| e.to_string())?;
            let r = client.get(url).send().await.map_err(|e| format!("{e}"))?;
            Ok(format!("HTTP {}", r.status().as_u16()))
        })
    }

    fn tcp(&self, url: &str) -> Result<(), String> {
        use std::net::ToSocketAddrs;
        let hp = host_port(url).ok_or_else(|| format!("{url:?} is not an http(s) URL"))?;
        let addr = hp
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {hp}: {e}"))?
            .next()
            .ok_or_else(|| format!("cannot resolve {hp}"))?;
        std::net::TcpStream::connect_timeout(&addr, TIMEOUT)
            .map(|_| ())
            .map_err(|e| format!("{hp}: {e}"))
    }

    fn model(&self, model_dir: Option<&std::path::Path>) -> Result<String, String> {
        crate::memory::locate::locate_from_env(model_dir)
            .map(|p| p.dir.display().to_string())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_defaults_by_scheme() {
        assert_eq!(
            host_port("http://127.0.0.1:6334").as_deref(),
            Some("127.0.0.1:6334")
        );
        assert_eq!(
            host_port("https://q.example.invalid/x").as_deref(),
            Some("q.example.invalid:443")
        );
        assert_eq!(host_port("http://u:p@h/v1").as_deref(), Some("h:80"));
        assert_eq!(host_port("nope"), None);
    }
}
