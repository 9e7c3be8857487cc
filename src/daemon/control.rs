//! The control socket: the CLI reads incidents and resumes services through the running daemon,
//! which serves its own user only, within limits (connections, line length, idle time, and
//! file descriptors kept for the watchdog).

use crate::incident::IncidentStore;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::warn;

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
    Resume {
        service: String,
    },
    Status,
    /// The services' vitals for `/metrics` (no details: a cheap copy).
    Vitals,
}

/// What the main loop answers: the live heartbeat as a value (turned into JSON, if at all, by
/// whoever asked, off the loop), or a message.
pub enum LoopAnswer {
    Status(Box<crate::heartbeat::Heartbeat>),
    Vitals(Box<crate::heartbeat::Vitals>),
    Message(String),
}

impl LoopAnswer {
    pub fn into_json(self) -> serde_json::Value {
        match self {
            LoopAnswer::Status(hb) => serde_json::to_value(hb).expect("heartbeat serializes"),
            LoopAnswer::Vitals(v) => serde_json::to_value(v).expect("vitals serialize"),
            LoopAnswer::Message(m) => m.into(),
        }
    }
}

/// A request the main loop must answer.
pub struct LoopRequest {
    pub ask: LoopAsk,
    pub reply: oneshot::Sender<Result<LoopAnswer, String>>,
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
    #[error("the daemon's control socket is over its limits (a flood of connections?); try again")]
    Busy,
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
        // Its backlog is full: the daemon is alive but not taking connections now.
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Err(ControlError::Busy),
        Err(e) => return Err(io(e)),
    };
    // A daemon that takes the connection but not the request in time is busy too.
    let slow = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ControlError::Busy,
        _ => io(e),
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_string(req).expect("requests serialize");
    line.push('\n');
    match stream.write_all(line.as_bytes()) {
        // The daemon answered and closed before reading (it refuses this peer): read why.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.map_err(slow)?,
    }
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(slow)?;
    if answer.is_empty() {
        return Err(ControlError::Busy);
    }
    let v: serde_json::Value = serde_json::from_str(&answer).map_err(ControlError::Garbled)?;
    if v["busy"] == serde_json::Value::Bool(true) {
        return Err(ControlError::Busy);
    }
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

/// At most this many connections are served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// A request line longer than this is answered with an error and the connection closed;
/// nothing past it is read into memory.
pub const MAX_LINE: usize = 64 * 1024;
/// A connection that sends nothing (or takes no answer) for this long is closed.
pub const IDLE: Duration = Duration::from_secs(5);
/// File descriptors kept free for the watchdog (its probes, files and restarts): a connection
/// that would leave fewer is not served in full.
pub const FD_RESERVE: usize = 16;
/// Connections served past the limits at once, each only if its request is already there.
const QUICK_MAX: usize = 4;
/// How long a connection past the limits may take to have its request there.
const QUICK_WAIT: Duration = Duration::from_millis(20);
/// How long the socket reports strain after the last connection it could not serve in full.
const STRAIN_MEMORY: Duration = Duration::from_secs(10);

/// How the socket takes one accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Within the limits: served, with the idle timeout.
    Serve,
    /// Past them (connections or file descriptors): answered only if its request is already
    /// there, so `status` still gets through a flood.
    Quick,
    /// Too few file descriptors left even for that: closed at once.
    Refuse,
}

/// Decides how to take a connection, given how many are being served (`open`, `quick`) and how
/// many file descriptors are free now (`None` when that cannot be read).
pub fn admit(open: usize, quick: usize, free_fds: Option<usize>) -> Admit {
    let fds_at_least = |n: usize| free_fds.is_none_or(|f| f >= n);
    if open < MAX_CONNECTIONS && fds_at_least(FD_RESERVE) {
        Admit::Serve
    } else if quick < QUICK_MAX && fds_at_least(FD_RESERVE / 2) {
        Admit::Quick
    } else {
        Admit::Refuse
    }
}

/// The file descriptors this process may still open, if the limit and the open count can be
/// read (`/proc/self/fd` on Linux, `/dev/fd` elsewhere).
fn free_fds() -> Option<usize> {
    let limit = crate::probe::files::open_files_limit()?.rlim_cur;
    let dir = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    // Less one: the listing's own descriptor.
    let open = std::fs::read_dir(dir).ok()?.count().saturating_sub(1);
    Some((limit as usize).saturating_sub(open))
}

/// The socket's load, shared with the main loop for `status`.
#[derive(Debug, Default)]
pub struct SocketHealth {
    open: AtomicUsize,
    quick: AtomicUsize,
    /// When the socket last could not serve a connection in full, and why.
    strain: Mutex<Option<(Instant, String)>>,
}

impl SocketHealth {
    fn strained(&self, now: Instant, why: String) {
        *self.strain.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, why));
    }

    /// The `degraded` line of a live `status`, while the socket is at its limits or was within
    /// the last 10 s.
    pub fn describe(&self, now: Instant) -> Option<String> {
        let strain = self
            .strain
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((at, why)) = strain.filter(|(at, _)| now.duration_since(*at) < STRAIN_MEMORY) {
            return Some(format!(
                "control socket over its limits {}s ago ({why}); the watchdog keeps {FD_RESERVE} file descriptors of its own",
                now.duration_since(at).as_secs()
            ));
        }
        let open = self.open.load(Ordering::Relaxed);
        (open >= MAX_CONNECTIONS).then(|| {
            format!("control socket full: {open} connections open (at most {MAX_CONNECTIONS})")
        })
    }
}

/// Gives back a connection's slot when its task ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves the socket until the task is dropped: connections from this user (or root) only,
/// within the limits above. Out of file descriptors, it backs off instead of spinning.
pub async fn serve(
    listener: tokio::net::UnixListener,
    store: Arc<IncidentStore>,
    to_loop: mpsc::Sender<LoopRequest>,
    health: Arc<SocketHealth>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(50);
                stream
            }
            Err(e) => {
                if crate::probe::own_resource_error(&e).is_some() {
                    health.strained(Instant::now(), format!("cannot accept: {e}"));
                    warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "control socket cannot accept a connection; backing off");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let peer = crate::secure::peer_uid(stream.as_fd());
        if !peer
            .as_ref()
            .is_ok_and(|uid| crate::secure::peer_allowed(*uid))
        {
            warn!(peer = ?peer.map_err(|e| e.to_string()), "control socket: refused a connection from another user");
            let _ = stream.try_write(
                answer_line(Err(
                    "refused: this socket serves the user akashic runs as".into()
                ))
                .as_bytes(),
            );
            continue;
        }
        let open = health.open.load(Ordering::Relaxed);
        let quick = health.quick.load(Ordering::Relaxed);
        let free = free_fds();
        let full = match admit(open, quick, free) {
            Admit::Serve => true,
            Admit::Quick => {
                health.strained(Instant::now(), strain_reason(open, free));
                false
            }
            Admit::Refuse => {
                health.strained(Instant::now(), strain_reason(open, free));
                let _ = stream.try_write(BUSY.as_bytes());
                drop(stream);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (store, to_loop, health) = (store.clone(), to_loop.clone(), health.clone());
        tokio::spawn(async move {
            let (counter, wait) = if full {
                (&health.open, IDLE)
            } else {
                (&health.quick, QUICK_WAIT)
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let _slot = Slot(counter);
            converse(stream, wait, &store, &to_loop).await;
        });
    }
}

fn strain_reason(open: usize, free: Option<usize>) -> String {
    match free {
        Some(f) if f < FD_RESERVE => format!("{f} file descriptors free"),
        _ => format!("{open} connections open"),
    }
}

/// Reads one request (waiting at most `wait` for it), answers it, and closes.
async fn converse(
    stream: tokio::net::UnixStream,
    wait: Duration,
    store: &IncidentStore,
    to_loop: &mpsc::Sender<LoopRequest>,
) {
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    let answer = match tokio::time::timeout(wait, read_request(&mut r)).await {
        Err(_) if wait < IDLE => {
            let _ = tokio::time::timeout(IDLE, w.write_all(BUSY.as_bytes())).await;
            return;
        }
        Err(_) | Ok(Ok(None)) => return,
        Ok(Err(e)) => Err(e),
        Ok(Ok(Some(line))) => match parse_request(&line) {
            Ok(req) => handle(req, store, to_loop).await,
            Err(e) => Err(e),
        },
    };
    let _ = tokio::time::timeout(IDLE, w.write_all(answer_line(answer).as_bytes())).await;
}

/// One request line, at most [`MAX_LINE`] bytes: `None` at a clean end before any byte; an
/// error for a longer line (of which no more than the limit was read) or one not UTF-8.
async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| format!("cannot read the request: {e}"))?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE {
        return Err(format!(
            "request longer than {} KiB; closed",
            MAX_LINE / 1024
        ));
    } else if buf.is_empty() {
        return Ok(None);
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| "bad request: not UTF-8".to_string())
}

/// The answer of a connection the socket could not serve: the client may read elsewhere.
const BUSY: &str =
    "{\"ok\":false,\"busy\":true,\"error\":\"busy: the control socket is over its limits\"}\n";

fn answer_line(answer: Result<serde_json::Value, String>) -> String {
    let v = match answer {
        Ok(data) => serde_json::json!({"ok": true, "data": data}),
        Err(error) => serde_json::json!({"ok": false, "error": error}),
    };
    let mut out = v.to_string();
    out.push('\n');
    out
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
        Ok(answer) => answer.map(LoopAnswer::into_json),
        Err(_) => Err("the daemon is stopping".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connections_past_the_limits_are_served_quick_then_refused() {
        assert_eq!(admit(0, 0, Some(100)), Admit::Serve);
        assert_eq!(admit(0, 0, None), Admit::Serve);
        assert_eq!(
            admit(MAX_CONNECTIONS - 1, 0, Some(FD_RESERVE)),
            Admit::Serve
        );
        assert_eq!(admit(MAX_CONNECTIONS, 0, Some(1000)), Admit::Quick);
        assert_eq!(admit(3, 0, Some(FD_RESERVE - 1)), Admit::Quick);
        assert_eq!(admit(MAX_CONNECTIONS, QUICK_MAX, Some(1000)), Admit::Refuse);
        assert_eq!(admit(3, 0, Some(FD_RESERVE / 2 - 1)), Admit::Refuse);
    }

    #[tokio::test]
    async fn a_line_past_the_limit_is_an_error_and_is_not_read_whole() {
        let long = vec![b'x'; 10 * MAX_LINE];
        let mut r = tokio::io::BufReader::new(&long[..]);
        let e = read_request(&mut r).await.unwrap_err();
        assert_eq!(e, "request longer than 64 KiB; closed");
        let left = tokio::io::AsyncBufReadExt::fill_buf(&mut r)
            .await
            .unwrap()
            .len();
        assert!(left > 0, "stopped reading at the limit");
        let mut ok = tokio::io::BufReader::new(&b"{\"op\":\"status\"}\nrest"[..]);
        assert_eq!(
            read_request(&mut ok).await.unwrap().as_deref(),
            Some("{\"op\":\"status\"}")
        );
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        let mut r = tokio::io::BufReader::new(&exact[..]);
        assert_eq!(read_request(&mut r).await.unwrap().unwrap().len(), MAX_LINE);
        let mut empty = tokio::io::BufReader::new(&b""[..]);
        assert_eq!(read_request(&mut empty).await.unwrap(), None);
    }

    #[test]
    fn a_daemon_that_takes_no_request_in_time_is_busy_so_the_cli_reads_the_store() {
        let dir = tempfile::tempdir().unwrap();
        // Listening, never reading: the request sits in the socket, no answer comes.
        let _listener = std::os::unix::net::UnixListener::bind(socket_path(dir.path())).unwrap();
        let e = ask_within(dir.path(), &Request::Status, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, ControlError::Busy), "{e:?}");
        assert!(ask(tempfile::tempdir().unwrap().path(), &Request::Status)
            .unwrap()
            .is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn strain_is_reported_for_ten_seconds_then_forgotten() {
        let h = SocketHealth::default();
        let t0 = Instant::now();
        assert_eq!(h.describe(t0), None);
        h.strained(t0, "9 file descriptors free".into());
        assert_eq!(
            h.describe(t0 + Duration::from_secs(3)).as_deref(),
            Some("control socket over its limits 3s ago (9 file descriptors free); the watchdog keeps 16 file descriptors of its own")
        );
        assert_eq!(h.describe(t0 + STRAIN_MEMORY), None);
        h.open.store(MAX_CONNECTIONS, Ordering::Relaxed);
        assert_eq!(
            h.describe(t0 + STRAIN_MEMORY).as_deref(),
            Some("control socket full: 32 connections open (at most 32)")
        );
    }

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
