//! The control socket: the CLI reads incidents and resumes services through the running daemon
//! (sled lets one process open the store, so readers ask the daemon while it runs).

use crate::incident::IncidentStore;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// A request over the socket, one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Incidents {
        service: Option<String>,
    },
    Show {
        id: String,
    },
    Resume {
        service: String,
    },
    /// The live heartbeat: the daemon's own state and every service's.
    Status,
}

/// What the main loop is asked (it owns the state machines).
pub enum LoopAsk {
    Resume { service: String },
    Status,
}

/// A request the main loop must answer.
pub struct LoopRequest {
    pub ask: LoopAsk,
    pub reply: oneshot::Sender<Result<serde_json::Value, String>>,
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("akashic.sock")
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the daemon's control socket {} did not answer", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon answered: {0}")]
    Remote(String),
    #[error("the daemon sent an answer that is not JSON")]
    Garbled(#[source] serde_json::Error),
}

/// Asks the running daemon; `Ok(None)` when no daemon listens on this state dir.
pub fn ask(state_dir: &Path, req: &Request) -> Result<Option<serde_json::Value>, ControlError> {
    ask_within(state_dir, req, Duration::from_secs(10))
}

/// [`ask`], waiting at most `timeout` for the answer.
pub fn ask_within(
    state_dir: &Path,
    req: &Request,
    timeout: Duration,
) -> Result<Option<serde_json::Value>, ControlError> {
    let path = socket_path(state_dir);
    let io = |source| ControlError::Io {
        path: path.clone(),
        source,
    };
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(io(e)),
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_string(req).expect("requests serialize");
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(io)?;
    let v: serde_json::Value = serde_json::from_str(&answer).map_err(ControlError::Garbled)?;
    if v["ok"] == serde_json::Value::Bool(true) {
        Ok(Some(v["data"].clone()))
    } else {
        Err(ControlError::Remote(
            v["error"].as_str().unwrap_or("unknown error").to_string(),
        ))
    }
}

/// Serves the socket until the task is dropped.
pub async fn serve(
    listener: tokio::net::UnixListener,
    store: Arc<IncidentStore>,
    to_loop: mpsc::Sender<LoopRequest>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let store = store.clone();
        let to_loop = to_loop.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut lines = tokio::io::BufReader::new(r).lines();
            let Ok(Some(line)) = lines.next_line().await else {
                return;
            };
            let answer = match serde_json::from_str::<Request>(&line) {
                Ok(req) => handle(req, &store, &to_loop).await,
                Err(e) => Err(format!("bad request: {e}")),
            };
            let v = match answer {
                Ok(data) => serde_json::json!({"ok": true, "data": data}),
                Err(error) => serde_json::json!({"ok": false, "error": error}),
            };
            let mut out = v.to_string();
            out.push('\n');
            let _ = w.write_all(out.as_bytes()).await;
        });
    }
}

async fn handle(
    req: Request,
    store: &IncidentStore,
    to_loop: &mpsc::Sender<LoopRequest>,
) -> Result<serde_json::Value, String> {
    match req {
        Request::Incidents { service } => store
            .list(service.as_deref())
            .map(|v| serde_json::to_value(v).expect("incidents serialize"))
            .map_err(|e| crate::errors::chain(&e)),
        Request::Show { id } => store
            .get(&id)
            .map(|v| serde_json::to_value(v).expect("incidents serialize"))
            .map_err(|e| crate::errors::chain(&e)),
        Request::Resume { service } => ask_loop(to_loop, LoopAsk::Resume { service }).await,
        Request::Status => ask_loop(to_loop, LoopAsk::Status).await,
    }
}

async fn ask_loop(
    to_loop: &mpsc::Sender<LoopRequest>,
    ask: LoopAsk,
) -> Result<serde_json::Value, String> {
    let (reply, rx) = oneshot::channel();
    to_loop
        .send(LoopRequest { ask, reply })
        .await
        .map_err(|_| "the daemon is stopping".to_string())?;
    match rx.await {
        Ok(answer) => answer,
        Err(_) => Err("the daemon is stopping".to_string()),
    }
}
