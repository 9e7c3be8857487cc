//! The session-start digest: what a service's past incidents teach the next work session.

pub mod assemble;
pub mod model;
pub mod recs;
pub mod render;
pub mod write;

pub use assemble::{assemble, Sources};
pub use model::{Digest, ServiceDigest};
pub use recs::{rec_id, ClosedRec, RecBook, RecError};
pub use render::{render, DEFAULT_MAX_TOKENS};
pub use write::{refresh, DigestError};
