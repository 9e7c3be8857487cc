//! Errors of the memory module: model files, stores, backends and the answering model.

use std::path::PathBuf;

/// What the setup step is called, for every error that a missing model can cause.
pub const SETUP_COMMAND: &str = "bash scripts/setup-models.sh";

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("embedding model not found: {} is missing (searched {}); run `{SETUP_COMMAND}`", missing.display(), searched_list(searched))]
    ModelMissing {
        missing: PathBuf,
        searched: Vec<PathBuf>,
    },
    #[error("cannot load onnxruntime from {}: {detail}; run `{SETUP_COMMAND}` or set ORT_DYLIB_PATH", path.display())]
    Runtime { path: PathBuf, detail: String },
    #[error("cannot load the embedding model from {}: {detail}", dir.display())]
    ModelLoad { dir: PathBuf, detail: String },
    #[error("embedding failed: {0}")]
    Embed(String),
    #[error("embedder returned {got} vectors for {expected} texts")]
    EmbedCount { expected: usize, got: usize },
    #[error("cannot open the memory store at {}", path.display())]
    StoreOpen {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the memory store at {} is still locked by another akashic process after {}; retry when it is done", path.display(), humantime::format_duration(*waited))]
    StoreLocked {
        path: PathBuf,
        waited: std::time::Duration,
    },
    #[error("memory store I/O failed")]
    StoreIo(#[from] rusqlite::Error),
    #[error("stored memory entry {id} is corrupt: {detail}")]
    Corrupt { id: String, detail: String },
    #[error("vector for {id} has {got} dimensions but the memory holds {expected}-dimensional vectors; mixing dimensions is refused (run `akashic memory reindex` after a model change)")]
    DimensionMismatch {
        id: String,
        expected: usize,
        got: usize,
    },
    #[error("memory was embedded with model {stored} but the current model is {current}; run `akashic memory reindex`")]
    ModelMismatch { stored: String, current: String },
    #[error("qdrant at {url} is unreachable: {detail}")]
    QdrantUnreachable { url: String, detail: String },
    #[error("qdrant {op} failed: {detail}")]
    Qdrant { op: &'static str, detail: String },
    #[error(
        "environment variable {0} (the qdrant api key named by [memory] api_key_env) is not set"
    )]
    ApiKeyMissing(String),
    #[error("cannot use {path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("cannot read the search index file (memory.idx in the state_dir): {0}; remove it and the next search rebuilds it from the store")]
    IndexFile(#[from] std::io::Error),
    #[error("answering model failed: {0}")]
    Llm(String),
    #[error("background task failed: {0}")]
    Task(String),
}

fn searched_list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
