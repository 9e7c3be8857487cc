//! The listening sockets and their limits: a bounded number of connections, a deadline for a
//! request's head, for each answer and for each connection, and a small body. The server runs
//! on its own tasks: a slow or hostile client holds only its own connection.

use super::source::Source;
use crate::config::model::HttpConfig;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// At most this many connections at once; more are closed as they come.
pub const MAX_CONNECTIONS: usize = 64;
/// A request's head must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection (however many requests it carries) is closed after this.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {addr} ([daemon] http); is another program using the port? pick another or stop it")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Opens the configured addresses (before the watchdog starts, so a taken port is said at once).
pub async fn bind(cfg: &HttpConfig) -> Result<Vec<TcpListener>, WebError> {
    let mut out = Vec::new();
    for addr in &cfg.addrs {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Bind {
                addr: *addr,
                source,
            })?;
        info!(address = %l.local_addr().unwrap_or(*addr), "http: serving the status page, /metrics and /api");
        out.push(l);
    }
    Ok(out)
}

/// The server on a thread and runtime of its own (a current-thread one): a request wakes that
/// thread alone, never the watchdog's workers, and what a client makes it do is done there.
/// Dropping it stops the server.
pub struct Serving {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts serving `listeners` (bound by [`bind`] on any runtime) on the server's own thread.
pub fn spawn(listeners: Vec<TcpListener>, source: Arc<Source>) -> std::io::Result<Serving> {
    let listeners = listeners
        .into_iter()
        .map(TcpListener::into_std)
        .collect::<std::io::Result<Vec<_>>>()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("akashic-http".into())
        .spawn(move || {
            rt.block_on(async move {
                let listeners = listeners
                    .into_iter()
                    .filter_map(|l| {
                        TcpListener::from_std(l)
                            .inspect_err(|e| warn!(error = %e, "http: cannot serve a listener"))
                            .ok()
                    })
                    .collect();
                tokio::select! {
                    () = serve(listeners, source) => {}
                    _ = stopped => {}
                }
            });
            // A request's blocking read of the store is not waited on for long.
            rt.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok(Serving { stop: Some(stop) })
}

/// Serves until dropped.
async fn serve(listeners: Vec<TcpListener>, source: Arc<Source>) {
    let app = super::routes::router(source);
    let open = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        tasks.spawn(accept(l, app.clone(), open.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

async fn accept(listener: TcpListener, app: axum::Router, open: Arc<AtomicUsize>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => {
                backoff = Duration::from_millis(50);
                s
            }
            Err(e) => {
                warn!(error = %e, "http: cannot accept a connection; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let (app, open) = (app.clone(), open.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
