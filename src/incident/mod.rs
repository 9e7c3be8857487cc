//! Incidents: the model and its durable store.

pub mod model;
pub mod store;

pub use model::*;
pub use store::{IncidentStore, StoreError};
