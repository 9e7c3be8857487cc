//! Akashic memory: embeddings and vector stores of post-mortems (wiring and the public API).

pub mod answer;
mod doc;
pub mod embed;
pub mod embedded;
mod error;
mod facade;
mod flat;
pub mod hybrid;
pub mod import;
pub mod import_line;
pub mod index;
pub mod index_file;
pub mod lexical;
pub mod llm;
pub mod locate;
pub mod order;
pub mod plain;
pub mod priors;
pub mod qdrant;
pub mod question;
pub mod services;
pub mod store;
pub mod when;

pub use doc::{normalize, Filter, Hit, MemoryDoc, Record, Vector};
pub use embed::{Embedder, FailingEmbedder, FastEmbedder, HashEmbedder};
pub use embedded::EmbeddedStore;
pub use error::{MemoryError, SETUP_COMMAND};
pub use facade::{
    embedder_factory, embedder_factory_for, release_memory, Asked, EmbedderFactory, Memory,
    RememberOutcome, StoreSpec,
};
pub use qdrant::{QdrantSpec, QdrantStore};
pub use store::VectorStore;
