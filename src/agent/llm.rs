//! The model port: an OpenAI-compatible chat server via async-openai, adapting to the structured output it accepts.

use crate::config::LlmConfig;
use crate::core::category::Category;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// How a request asks for structured output, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `response_format: {type: json_schema, json_schema: {...}}`
    JsonSchema,
    /// `response_format: {type: json_object, schema: {...}}` (llama.cpp servers)
    JsonObject,
    /// No `response_format`; the JSON is extracted from the text.
    Plain,
}

impl Mode {
    fn next(self) -> Option<Mode> {
        match self {
            Mode::JsonSchema => Some(Mode::JsonObject),
            Mode::JsonObject => Some(Mode::Plain),
            Mode::Plain => None,
        }
    }
}

/// Why one chat call failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The server could not be reached or did not answer (connection refused, reset, timeout).
    #[error("reach the model server")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The server answered with an error status (it may not accept the request's shape).
    #[error("model server rejected the request: {0}")]
    Rejected(String),
}

/// Why drafting with the model gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("call the model")]
    Chat(#[from] ChatError),
    #[error("get an answer from the model within {0:?}")]
    Timeout(Duration),
    #[error("read the model's answer: {0}")]
    BadAnswer(String),
    #[error("render the prompt")]
    Prompt(#[from] super::prompts::RenderError),
}

/// An OpenAI-compatible chat endpoint (a port: the real one below, fakes in tests).
pub trait ChatPort: Send + Sync {
    /// Sends one `chat/completions` request body and returns the response body.
    fn chat(&self, body: Value) -> BoxFuture<'_, Result<Value, ChatError>>;
}

/// The real endpoint, through async-openai's bring-your-own-types calls.
pub struct OpenAiChat {
    client: async_openai::Client<OpenAIConfig>,
}

impl OpenAiChat {
    pub fn new(cfg: &LlmConfig) -> Self {
        let key = cfg
            .api_key_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .unwrap_or_else(|| "none".to_string());
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .build()
            .unwrap_or_default();
        // No retries: a rejected shape must be seen at once, and the caller owns the time budget.
        let no_retry = backoff::ExponentialBackoff {
            max_elapsed_time: Some(Duration::ZERO),
            ..Default::default()
        };
        let client = async_openai::Client::with_config(
            OpenAIConfig::new()
                .with_api_base(cfg.base_url.trim_end_matches('/'))
                .with_api_key(key),
        )
        .with_http_client(http)
        .with_backoff(no_retry);
        OpenAiChat { client }
    }
}

impl ChatPort for OpenAiChat {
    fn chat(&self, body: Value) -> BoxFuture<'_, Result<Value, ChatError>> {
        Box::pin(async move {
            match self.client.chat().create_byot::<Value, Value>(body).await {
                Ok(v) => Ok(v),
                Err(OpenAIError::Reqwest(e)) => Err(ChatError::Unreachable(Box::new(e))),
                Err(OpenAIError::ApiError(e)) => Err(ChatError::Rejected(e.message)),
                Err(OpenAIError::JSONDeserialize(e, body)) => Err(ChatError::Rejected(format!(
                    "{e}: {}",
                    body.chars().take(200).collect::<String>()
                ))),
                Err(e) => Err(ChatError::Rejected(e.to_string())),
            }
        })
    }
}

/// What worked per server and model, remembered for the life of the process.
static MODES: LazyLock<Mutex<HashMap<String, Mode>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn remembered(key: &str) -> Option<Mode> {
    MODES.lock().ok().and_then(|m| m.get(key).copied())
}

fn remember(key: &str, mode: Mode) {
    if let Ok(mut m) = MODES.lock() {
        m.insert(key.to_string(), mode);
    }
}

/// Forgets what worked (tests start each fake server fresh).
pub fn forget_modes() {
    if let Ok(mut m) = MODES.lock() {
        m.clear();
    }
}

/// The JSON schema of the model's answer.
pub fn answer_schema() -> Value {
    let cats: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": cats},
            "summary": {"type": "string", "maxLength": 300},
            "root_cause": {"type": "string", "maxLength": 800},
            "evidence": {"type": "array", "items": {"type": "string", "maxLength": 400}, "minItems": 1, "maxItems": 5},
            "recommendations": {"type": "array", "items": {"type": "string", "maxLength": 300}, "minItems": 1, "maxItems": 4},
            "related_incidents": {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 5}
        },
        "required": ["category", "summary", "root_cause", "evidence", "recommendations", "related_incidents"],
        "additionalProperties": false
    })
}

/// The request body for one mode: temperature 0, both token limits, the structured-output ask.
pub fn request_body(model: &str, system: &str, user: &str, max_tokens: u32, mode: Mode) -> Value {
    let user = match mode {
        Mode::Plain => format!("{user}\nReply with the JSON object only, no other text."),
        _ => user.to_string(),
    };
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user}
        ],
        "temperature": 0,
        "max_tokens": max_tokens,
        "max_completion_tokens": max_tokens,
        "stream": false
    });
    match mode {
        Mode::JsonSchema => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "postmortem", "strict": true, "schema": answer_schema()}
            });
        }
        Mode::JsonObject => {
            body["response_format"] = json!({"type": "json_object", "schema": answer_schema()});
        }
        Mode::Plain => {}
    }
    body
}

/// The first JSON object in a text (bare, fenced, or surrounded by prose).
pub fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    let fixed = escape_controls(t);
    let t = fixed.as_str();
    let bytes = t.as_bytes();
    for (start, _) in t.match_indices('{') {
        let mut de = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<Value>();
        if let Some(Ok(v @ Value::Object(_))) = de.next() {
            return Some(v);
        }
    }
    None
}

/// Escapes raw control characters inside JSON strings (small models copy tabs and newlines verbatim).
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut escaped) = (false, false);
    for ch in text.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_str = false;
            } else if (ch as u32) < 0x20 {
                out.push_str(&format!("\\u{:04x}", ch as u32));
                continue;
            }
        } else if ch == '"' {
            in_str = true;
        }
        out.push(ch);
    }
    out
}

/// The assistant text of a chat completion response.
fn content_of(resp: &Value) -> Option<String> {
    resp.pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Asks the model, stepping down `json_schema` -> `json_object` -> plain on rejection; returns the parsed
/// answer and the mode that worked. Unbounded in time: the caller wraps it in its timeout.
pub async fn ask(
    port: &dyn ChatPort,
    key: &str,
    model: &str,
    system: &str,
    user: &str,
    max_tokens: u32,
) -> Result<(Value, Mode), LlmError> {
    let mut mode = remembered(key).unwrap_or(Mode::JsonSchema);
    loop {
        let body = request_body(model, system, user, max_tokens, mode);
        match port.chat(body).await {
            Ok(resp) => {
                remember(key, mode);
                let text = content_of(&resp)
                    .ok_or_else(|| LlmError::BadAnswer("no message content".into()))?;
                let v = extract_json(&text).ok_or_else(|| {
                    LlmError::BadAnswer(format!(
                        "no JSON object in: {}",
                        text.chars().take(120).collect::<String>()
                    ))
                })?;
                return Ok((v, mode));
            }
            Err(ChatError::Rejected(why)) => match mode.next() {
                Some(next) => {
                    tracing::debug!(?mode, %why, "model server rejected the structured-output mode; stepping down");
                    mode = next;
                }
                None => return Err(ChatError::Rejected(why).into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_in_prose_and_fences() {
        let v = extract_json("Sure! ```json\n{\"category\": \"crash\"}\n``` done").expect("found");
        assert_eq!(v["category"], "crash");
        assert!(extract_json("no json {here").is_none());
        let v = extract_json("{\"evidence\": [\"a\tb\"]}").expect("control chars escaped");
        assert_eq!(v["evidence"][0], "a\tb");
    }

    #[test]
    fn bodies_set_both_token_limits_and_temperature_zero() {
        let b = request_body("m", "s", "u", 123, Mode::JsonObject);
        assert_eq!(b["max_tokens"], 123);
        assert_eq!(b["max_completion_tokens"], 123);
        assert_eq!(b["temperature"], 0);
        assert_eq!(b["response_format"]["type"], "json_object");
        assert!(b["response_format"]["schema"].is_object());
        assert!(request_body("m", "s", "u", 1, Mode::Plain)
            .get("response_format")
            .is_none());
    }
}
