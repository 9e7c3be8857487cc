//! The notifier task: events in by channel (never blocking the watchdog), throttled, posted with bounded retries.

use super::throttle::{Event, Throttle};
use super::webhook::{body, Webhook};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, warn};

/// Attempts per message, and the pause before each retry.
const RETRIES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];
/// Messages waiting to be posted; past this, new ones are dropped (and logged).
const QUEUE: usize = 64;

/// A cheap handle the daemon sends events to.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Event>,
}

impl Notifier {
    /// Starts the throttle and poster tasks on the current runtime.
    pub fn spawn(reminder: Duration, hook: Arc<dyn Webhook>) -> Notifier {
        let (tx, rx) = mpsc::unbounded_channel();
        let (out_tx, out_rx) = mpsc::channel::<String>(QUEUE);
        tokio::spawn(throttle_task(rx, Throttle::new(reminder), out_tx));
        tokio::spawn(post_task(out_rx, hook));
        Notifier { tx }
    }

    /// Hands an event over; never waits.
    pub fn send(&self, ev: Event) {
        if self.tx.send(ev).is_err() {
            warn!("notifier stopped; event not sent");
        }
    }
}

fn queue(out: &mpsc::Sender<String>, text: String) {
    if let Err(e) = out.try_send(text) {
        warn!(error = %e, "notification queue full; message dropped");
    }
}

async fn throttle_task(
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut throttle: Throttle,
    out: mpsc::Sender<String>,
) {
    loop {
        let deadline = throttle.next_deadline();
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                let now = Instant::now();
                for r in throttle.due(now) {
                    queue(&out, r);
                }
                if let Some(text) = throttle.offer(&ev, now) {
                    queue(&out, text);
                }
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                for r in throttle.due(Instant::now()) {
                    queue(&out, r);
                }
            }
        }
    }
}

async fn post_task(mut rx: mpsc::Receiver<String>, hook: Arc<dyn Webhook>) {
    while let Some(text) = rx.recv().await {
        let b = body(&text);
        let mut attempt = 0;
        loop {
            match hook.post(&b).await {
                Ok(()) => break,
                Err(e) if attempt < RETRIES.len() => {
                    warn!(error = %format!("{:#}", anyhow::Error::from(e)), attempt = attempt + 1, "notification failed; retrying");
                    tokio::time::sleep(RETRIES[attempt]).await;
                    attempt += 1;
                }
                Err(e) => {
                    error!(error = %format!("{:#}", anyhow::Error::from(e)), "notification failed; giving up on this message");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::throttle::Kind;
    use super::super::webhook::RecordingWebhook;
    use super::*;

    fn ev(id: &str) -> Event {
        Event {
            kind: Kind::Incident,
            service: "bot".into(),
            incident: id.into(),
            detail: "stale".into(),
        }
    }

    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_retried_a_bounded_number_of_times_and_sending_never_waits() {
        let hook = RecordingWebhook {
            fail_first: 2,
            ..Default::default()
        };
        let n = Notifier::spawn(Duration::from_secs(60), Arc::new(hook.clone()));
        n.send(ev("i1"));
        settle().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        settle().await;
        assert_eq!(*hook.attempts.lock().unwrap(), 3);
        let posted = hook.posted.lock().unwrap().clone();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0]["text"], posted[0]["content"]);
        assert!(posted[0]["text"].as_str().unwrap().contains("incident i1"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_that_keeps_failing_is_given_up() {
        let hook = RecordingWebhook {
            fail_first: 100,
            ..Default::default()
        };
        let n = Notifier::spawn(Duration::from_secs(60), Arc::new(hook.clone()));
        n.send(ev("i1"));
        settle().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        settle().await;
        assert_eq!(*hook.attempts.lock().unwrap(), 3);
        assert!(hook.posted.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn suppressed_events_come_back_as_one_reminder() {
        let hook = RecordingWebhook::default();
        let n = Notifier::spawn(Duration::from_secs(60), Arc::new(hook.clone()));
        for i in 0..5 {
            n.send(ev(&format!("i{i}")));
        }
        settle().await;
        assert_eq!(hook.posted.lock().unwrap().len(), 1);
        tokio::time::sleep(Duration::from_secs(61)).await;
        settle().await;
        let posted = hook.posted.lock().unwrap().clone();
        assert_eq!(posted.len(), 2, "{posted:?}");
        assert!(posted[1]["text"]
            .as_str()
            .unwrap()
            .contains("4 more incident events"));
    }
}
