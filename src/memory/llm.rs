//! The answering-model port for `ask`: any OpenAI-compatible server through async-openai, and its doubles.

use super::error::MemoryError;
use crate::config::LlmConfig;
use async_trait::async_trait;
use std::time::Duration;

/// A chat model that answers one system + user exchange.
#[async_trait]
pub trait Chat: Send + Sync {
    /// The model name, for `mode: "llm:<model>"`.
    fn model(&self) -> &str;
    async fn complete(&self, system: &str, user: &str) -> Result<String, MemoryError>;
}

/// The `[llm]` server of the config.
pub struct OpenAiChat {
    client: async_openai::Client<async_openai::config::OpenAIConfig>,
    model: String,
    timeout: Duration,
    max_tokens: u32,
}

impl OpenAiChat {
    pub fn new(cfg: &LlmConfig) -> Self {
        let key = cfg
            .api_key_env
            .as_ref()
            .and_then(|k| std::env::var(k).ok())
            .unwrap_or_else(|| "none".into());
        let config = async_openai::config::OpenAIConfig::new()
            .with_api_base(cfg.base_url.trim_end_matches('/'))
            .with_api_key(key);
        OpenAiChat {
            client: async_openai::Client::with_config(config),
            model: cfg.model.clone(),
            timeout: cfg.timeout,
            max_tokens: cfg.max_tokens,
        }
    }
}

#[async_trait]
impl Chat for OpenAiChat {
    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, system: &str, user: &str) -> Result<String, MemoryError> {
        let request = serde_json::json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
            "stream": false,
        });
        let chat = self.client.chat();
        let response = tokio::time::timeout(
            self.timeout,
            chat.create_byot::<_, serde_json::Value>(request),
        )
        .await
        .map_err(|_| {
            MemoryError::Llm(format!(
                "no answer within {}",
                humantime::format_duration(self.timeout)
            ))
        })?
        .map_err(|e| MemoryError::Llm(e.to_string()))?;
        response["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                MemoryError::Llm("the response has no choices[0].message.content".into())
            })
    }
}

/// Test double: answers with a fixed text and records the prompts it saw.
pub struct ScriptedChat {
    pub reply: Result<String, String>,
    pub seen: std::sync::Mutex<Vec<(String, String)>>,
}

impl ScriptedChat {
    pub fn new(reply: Result<&str, &str>) -> Self {
        ScriptedChat {
            reply: reply.map(str::to_string).map_err(str::to_string),
            seen: Default::default(),
        }
    }
}

#[async_trait]
impl Chat for ScriptedChat {
    fn model(&self) -> &str {
        "scripted"
    }

    async fn complete(&self, system: &str, user: &str) -> Result<String, MemoryError> {
        if let Ok(mut s) = self.seen.lock() {
            s.push((system.to_string(), user.to_string()));
        }
        self.reply.clone().map_err(MemoryError::Llm)
    }
}
