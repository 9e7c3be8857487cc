//! The MCP server: tools `ask`, `incidents`, `show`, `status`, `digest`, and each configured
//! digest as a resource. Each tool's JSON is what the CLI's `--json` prints, read the way the
//! CLI reads it (through the daemon's socket when one runs); stdout carries protocol only.

use crate::config::Config;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{json, Value};
use std::sync::Arc;

/// The fleet digest's resource; a service's is `akashic://digest/<service>`.
const DIGEST_URI: &str = "akashic://digest";

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("cannot start the MCP session on stdio")]
    Start(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the MCP session ended with an error")]
    Session(#[source] tokio::task::JoinError),
}

/// Serves MCP on stdin/stdout until the client closes it.
pub async fn serve_stdio(cfg: Config) -> Result<(), McpError> {
    let server = Akashic { cfg: Arc::new(cfg) };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpError::Start(Box::new(e)))?;
    running.waiting().await.map_err(McpError::Session)?;
    Ok(())
}

#[derive(Clone)]
struct Akashic {
    cfg: Arc<Config>,
}

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => unreachable!("tool schemas are objects"),
    }
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "ask",
            "Answer a question from akashic's memory of post-mortems, citing incident and post-mortem ids (as `akashic ask --json`).",
            schema(json!({"type": "object", "properties": {
                "question": {"type": "string", "description": "the question, in your own words"},
                "service": {"type": "string", "description": "only this service's post-mortems"},
                "k": {"type": "integer", "minimum": 1, "maximum": 50, "description": "how many post-mortems to retrieve (default 5)"}
            }, "required": ["question"]})),
        ),
        Tool::new(
            "incidents",
            "Incidents, newest first (as `akashic incidents --json`).",
            schema(json!({"type": "object", "properties": {
                "service": {"type": "string", "description": "only this service's incidents"},
                "limit": {"type": "integer", "minimum": 1, "description": "at most this many"}
            }})),
        ),
        Tool::new(
            "show",
            "One incident with its timeline and full post-mortem (as `akashic show ID --json`).",
            schema(json!({"type": "object", "properties": {
                "id": {"type": "string", "description": "the incident id, as `incidents` lists it"}
            }, "required": ["id"]})),
        ),
        Tool::new(
            "status",
            "Whether akashic runs, and each service's state and checks (as `akashic status --json`).",
            schema(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "digest",
            "The session-start digest in Markdown: health now, failure patterns of the last 90 days, open recommendations, the last post-mortems.",
            schema(json!({"type": "object", "properties": {
                "service": {"type": "string", "description": "only this service"}
            }})),
        ),
    ]
}

fn text_arg(args: &JsonObject, key: &str) -> Option<String> {
    args.get(key).and_then(Value::as_str).map(str::to_string)
}

fn num_arg(args: &JsonObject, key: &str) -> Option<usize> {
    args.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
}

/// A tool's failure, told to the agent as the tool's result (it reads it; a protocol error it
/// would not).
fn failed(why: impl std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!("error: {why:#}"))])
}

impl Akashic {
    /// Runs blocking CLI code (socket reads, store reads) off the protocol's task.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Config) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let cfg = self.cfg.clone();
        tokio::task::spawn_blocking(move || f(&cfg)).await?
    }

    async fn digest(&self, service: Option<String>) -> anyhow::Result<String> {
        if let Some(s) = &service {
            if self.cfg.service(s).is_none() {
                anyhow::bail!(crate::digest::DigestError::UnknownService(s.clone()));
            }
        }
        self.blocking(move |cfg| {
            let now = chrono::Utc::now();
            let src = crate::cmd::digest::load_sources(cfg, now)?;
            Ok(crate::digest::write::markdown(
                cfg,
                &src,
                service.as_deref(),
                now,
                crate::digest::DEFAULT_MAX_TOKENS,
            )?)
        })
        .await
    }

    async fn call(&self, name: &str, args: JsonObject) -> CallToolResult {
        let json = match name {
            "status" => {
                self.blocking(|cfg| {
                    let view = crate::cmd::status::view(&cfg.daemon.state_dir, || {
                        crate::daemon::control::ask_within(
                            &cfg.daemon.state_dir,
                            &crate::daemon::control::Request::Status,
                            std::time::Duration::from_secs(2),
                        )
                        .ok()
                        .flatten()
                        .and_then(|v| serde_json::from_value(v).ok())
                    });
                    Ok(serde_json::to_value(view)?)
                })
                .await
            }
            "incidents" => {
                let service = text_arg(&args, "service");
                let limit = num_arg(&args, "limit").unwrap_or(usize::MAX);
                self.blocking(move |cfg| {
                    let list = crate::cmd::incident_view::list(cfg, service.as_deref())?;
                    let brief: Vec<Value> = list
                        .iter()
                        .take(limit)
                        .map(crate::cmd::incident_view::brief)
                        .collect();
                    Ok(json!({ "incidents": brief }))
                })
                .await
            }
            "show" => {
                let Some(id) = text_arg(&args, "id") else {
                    return failed("show needs an id");
                };
                self.blocking(move |cfg| match crate::cmd::incident_view::get(cfg, &id)? {
                    Some(inc) => Ok(crate::cmd::incident_view::full(&inc)),
                    None => anyhow::bail!("no incident {id:?}; the incidents tool lists them"),
                })
                .await
            }
            "ask" => {
                let Some(question) = text_arg(&args, "question") else {
                    return failed("ask needs a question");
                };
                let filter = crate::memory::Filter {
                    service: text_arg(&args, "service"),
                    ..Default::default()
                };
                let k = num_arg(&args, "k").unwrap_or(5).clamp(1, 50);
                crate::cmd::ask::ask(&self.cfg, &question, &filter, k, false)
                    .await
                    .map(|a| a.json())
                    .map_err(anyhow::Error::from)
            }
            "digest" => {
                return match self.digest(text_arg(&args, "service")).await {
                    Ok(md) => CallToolResult::success(vec![ContentBlock::text(md)]),
                    Err(e) => failed(e),
                }
            }
            other => return failed(format!("no tool {other:?}")),
        };
        match json {
            Ok(v) => CallToolResult::structured(v),
            Err(e) => failed(e),
        }
    }

    /// Each configured digest: the fleet's, and each service's with a `digest` path.
    fn resources(&self) -> Vec<Resource> {
        let fleet = self
            .cfg
            .daemon
            .digest
            .clone()
            .unwrap_or_else(|| self.cfg.daemon.state_dir.join("DIGEST.md"));
        let mut out = vec![Resource::new(DIGEST_URI, "digest")
            .with_title("akashic digest (fleet)")
            .with_description(format!(
                "The fleet's session-start digest (written to {})",
                fleet.display()
            ))
            .with_mime_type("text/markdown")];
        for s in &self.cfg.services {
            if let Some(p) = &s.digest {
                out.push(
                    Resource::new(
                        format!("{DIGEST_URI}/{}", s.name),
                        format!("digest-{}", s.name),
                    )
                    .with_title(format!("akashic digest ({})", s.name))
                    .with_description(format!(
                        "{}'s session-start digest (written to {})",
                        s.name,
                        p.display()
                    ))
                    .with_mime_type("text/markdown"),
                );
            }
        }
        out
    }
}

impl ServerHandler for Akashic {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("akashic", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "akashic watches a fleet of services, restarts what freezes and writes post-mortems. \
             Ask it what broke (incidents, show), what was learned (ask) and read the digest before working on a service.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        Ok(self.call(&request.name, args).await.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(self.resources()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let service = match uri.strip_prefix(DIGEST_URI) {
            Some("") => None,
            Some(rest) => match rest.strip_prefix('/') {
                Some(s) if self.cfg.service(s).is_some() => Some(s.to_string()),
                _ => {
                    return Err(ErrorData::resource_not_found(
                        format!("no resource {uri}"),
                        None,
                    ))
                }
            },
            None => {
                return Err(ErrorData::resource_not_found(
                    format!("no resource {uri}"),
                    None,
                ))
            }
        };
        match self.digest(service).await {
            Ok(md) => {
                let contents = ResourceContents::TextResourceContents {
                    uri: uri.clone(),
                    mime_type: Some("text/markdown".into()),
                    text: md,
                    meta: None,
                };
                Ok(ReadResourceResult::new(vec![contents]).into())
            }
            Err(e) => Err(ErrorData::internal_error(format!("{e:#}"), None)),
        }
    }
}
