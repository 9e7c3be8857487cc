//! The routes of specs/web.md: the page, `/metrics`, and `/api` with the CLI's `--json` shapes.

use super::source::{Source, SourceError};
use crate::cmd::incident_view::{brief, full};
use crate::daemon::control::LoopAsk;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Any answer but `ask` is given within this.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// `ask` may load the embedding model and ask a model: it gets longer.
const ASK_TIMEOUT: Duration = Duration::from_secs(90);
/// Request bodies (POSTs carry none) are cut here.
const MAX_BODY: usize = 16 * 1024;

type Src = State<Arc<Source>>;

pub fn router(source: Arc<Source>) -> Router {
    let token = source
        .cfg
        .daemon
        .http
        .as_ref()
        .and_then(|h| h.token.clone());
    Router::new()
        .route("/", get(page))
        .route("/ui/live", get(live))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/incidents", get(incidents))
        .route("/api/incidents/{id}", get(show))
        .route("/api/ask", get(ask))
        .route("/api/services/{name}/resume", post(resume))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route".into()) })
        .layer(axum::middleware::from_fn(deadline))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            token,
            super::auth::check,
        ))
        .with_state(source)
}

/// Every answer within its deadline (503 past it; the work left behind is dropped), saying in
/// `Server-Timing` how long the server took.
async fn deadline(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let limit = if req.uri().path() == "/api/ask" {
        ASK_TIMEOUT
    } else {
        ANSWER_TIMEOUT
    };
    let started = std::time::Instant::now();
    let mut r = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no answer within {}s", limit.as_secs()),
        ),
    };
    let took = format!("app;dur={:.3}", started.elapsed().as_secs_f64() * 1e3);
    if let Ok(v) = header::HeaderValue::from_str(&took) {
        r.headers_mut().insert("server-timing", v);
    }
    r
}

fn error(code: StatusCode, why: String) -> Response {
    (code, Json(json!({ "error": why }))).into_response()
}

fn failed(e: SourceError) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, crate::errors::chain(&e))
}

async fn page(State(src): Src) -> Response {
    match src.snapshot().await {
        Ok(snap) => match super::page::render(&src.cfg, &snap, false) {
            Ok(html) => Html(html).into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        },
        Err(e) => failed(e),
    }
}

/// The live part of the page, for its refresh.
async fn live(State(src): Src) -> Response {
    match src.snapshot().await {
        Ok(snap) => match super::page::render(&src.cfg, &snap, true) {
            Ok(html) => Html(html).into_response(),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
        },
        Err(e) => failed(e),
    }
}

async fn metrics(State(src): Src) -> Response {
    match src.metrics().await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            // The kept parts themselves, not a copy of them.
            text.body(),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

async fn status(State(src): Src) -> Response {
    match src.snapshot().await {
        Ok(snap) => Json(&snap.status).into_response(),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct IncidentsQuery {
    service: Option<String>,
}

async fn incidents(State(src): Src, Query(q): Query<IncidentsQuery>) -> Response {
    match src.incidents(q.service).await {
        Ok(list) => {
            Json(json!({ "incidents": list.iter().map(brief).collect::<Vec<_>>() })).into_response()
        }
        Err(e) => failed(e),
    }
}

async fn show(State(src): Src, Path(id): Path<String>) -> Response {
    match src.incident(id.clone()).await {
        Ok(Some(inc)) => Json(full(&inc)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no incident {id:?}")),
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
struct AskQuery {
    q: String,
    service: Option<String>,
    k: Option<usize>,
}

async fn ask(State(src): Src, Query(q): Query<AskQuery>) -> Response {
    let k = q.k.unwrap_or(5);
    if !(1..=50).contains(&k) || q.q.trim().is_empty() || q.q.len() > 2000 {
        return error(
            StatusCode::BAD_REQUEST,
            "ask needs q (1 to 2000 characters) and k from 1 to 50".into(),
        );
    }
    let Ok(_turn) = src.asks.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "stopping".into());
    };
    let filter = crate::memory::Filter {
        service: q.service,
        ..Default::default()
    };
    match crate::cmd::ask::ask(&src.cfg, &q.q, &filter, k, false).await {
        Ok(asked) => Json(asked.json()).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, crate::errors::chain(&e)),
    }
}

async fn resume(State(src): Src, Path(name): Path<String>) -> Response {
    if src.cfg.service(&name).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no service named {name:?} in the config"),
        );
    }
    match src
        .ask_loop(LoopAsk::Resume {
            service: name.clone(),
        })
        .await
    {
        Ok(v) => Json(json!({ "service": name, "resumed": true, "message": v.into_json() }))
            .into_response(),
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}
