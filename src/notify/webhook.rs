//! The webhook port: a real HTTP poster (Slack `text` + Discord `content`) and a recording double.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot reach the webhook")]
    Send(#[source] reqwest::Error),
    #[error("the webhook answered HTTP {0}")]
    Status(u16),
    #[error("the webhook refused: {0}")]
    Refused(String),
}

/// Discord refuses content over 2000 characters.
const MAX_CHARS: usize = 1900;

/// The JSON both Slack (`text`) and Discord (`content`) incoming webhooks accept.
pub fn body(text: &str) -> Value {
    let t: String = text.chars().take(MAX_CHARS).collect();
    json!({ "text": t, "content": t })
}

/// Where messages go.
pub trait Webhook: Send + Sync {
    fn post<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// An incoming webhook over HTTP(S).
pub struct HttpWebhook {
    url: String,
    client: reqwest::Client,
}

impl HttpWebhook {
    pub fn new(url: &str) -> HttpWebhook {
        HttpWebhook {
            url: url.to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Webhook for HttpWebhook {
    fn post<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, Result<(), NotifyError>> {
        async move {
            let r = self
                .client
                .post(&self.url)
                .json(body)
                .send()
                .await
                .map_err(NotifyError::Send)?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(NotifyError::Status(r.status().as_u16()))
            }
        }
        .boxed()
    }
}

/// A double that records bodies and fails the first `fail_first` posts.
#[derive(Default, Clone)]
pub struct RecordingWebhook {
    pub posted: Arc<Mutex<Vec<Value>>>,
    pub attempts: Arc<Mutex<u32>>,
    pub fail_first: u32,
}

impl Webhook for RecordingWebhook {
    fn post<'a>(&'a self, body: &'a Value) -> BoxFuture<'a, Result<(), NotifyError>> {
        async move {
            let n = {
                let mut a = self.attempts.lock().expect("lock");
                *a += 1;
                *a
            };
            if n <= self.fail_first {
                return Err(NotifyError::Refused(format!("attempt {n} fails")));
            }
            self.posted.lock().expect("lock").push(body.clone());
            Ok(())
        }
        .boxed()
    }
}
