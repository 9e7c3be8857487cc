//! Notifications: a Slack- and Discord-compatible webhook on incident, escalation and recovery, throttled per service.

pub mod notifier;
pub mod throttle;
pub mod webhook;

pub use notifier::Notifier;
pub use throttle::{Event, Kind, Throttle};
pub use webhook::{HttpWebhook, NotifyError, RecordingWebhook, Webhook};
