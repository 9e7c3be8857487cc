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

/// Reads one request line; the error says what was wrong, in a bounded message.
pub fn parse_request(line: &str) -> Result<Request, String> {
    serde_json::from_str::<Request>(line).map_err(|e| {
        let mut why = e.to_string();
        if why.len() > 200 {
            let mut end = 200;
            while !why.is_char_boundary(end) {
                end -= 1;
            }
            why.truncate(end);
            why.push_str("...");
        }
        format!("bad request: {why}")
    })
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
            let answer = match parse_request(&line) {
                Ok(req) => handle(req, &store, &to_loop).await,
                Err(e) => Err(e),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request() -> impl Strategy<Value = Request> {
        let s = ".{0,40}";
        prop_oneof![
            proptest::option::of(s).prop_map(|service| Request::Incidents { service }),
            s.prop_map(|id| Request::Show { id }),
            s.prop_map(|service| Request::Resume { service }),
            Just(Request::Status),
        ]
    }

    /// Lines shaped like requests: a known or unknown op, fields of any JSON type.
    fn requestish() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            Just("null".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            ".{0,20}".prop_map(|s| serde_json::Value::String(s).to_string()),
            Just("[1,{}]".to_string()),
            Just("{\"a\":{}}".to_string()),
        ];
        let key = prop_oneof![
            Just("op"),
            Just("service"),
            Just("id"),
            Just("extra"),
            Just("")
        ];
        let op = prop_oneof![
            Just("\"incidents\""),
            Just("\"show\""),
            Just("\"resume\""),
            Just("\"status\""),
            Just("\"shutdown\""),
            Just("7")
        ];
        (op, proptest::collection::vec((key, value), 0..4)).prop_map(|(op, fields)| {
            let mut s = format!("{{\"op\":{op}");
            for (k, v) in fields {
                s.push_str(&format!(",\"{k}\":{v}"));
            }
            s.push('}');
            s
        })
    }

    proptest! {
        #[test]
        fn any_line_parses_or_fails_with_a_short_message(line in ".{0,400}") {
            if let Err(e) = parse_request(&line) {
                prop_assert!(e.len() <= 220, "{}", e.len());
            }
        }

        #[test]
        fn requestish_lines_never_panic(line in requestish()) {
            let _ = parse_request(&line);
        }

        #[test]
        fn every_request_round_trips(req in request()) {
            let line = serde_json::to_string(&req).unwrap();
            prop_assert_eq!(parse_request(&line).unwrap(), req);
        }
    }

    #[test]
    fn a_huge_garbage_line_gives_a_short_error() {
        let line = format!("{{\"op\":\"{}\"}}", "x".repeat(1_000_000));
        let e = parse_request(&line).unwrap_err();
        assert!(e.starts_with("bad request: unknown variant `xxxx"), "{e}");
        assert!(e.len() <= 220, "{}", e.len());
    }
}
