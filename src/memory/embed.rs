//! The embedder port: the real fastembed model, and deterministic and failing doubles.

use super::doc::normalize;
use super::error::MemoryError;
use super::locate::ModelPaths;
use crate::fnv::fnv1a;
use std::sync::OnceLock;

/// Turns texts into vectors of one dimension, produced by one model.
pub trait Embedder: Send {
    fn model_id(&self) -> &str;
    fn dim(&self) -> usize;
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError>;
}

/// all-MiniLM-L6-v2 through fastembed and a dynamically loaded onnxruntime; ~400 MB while alive.
pub struct FastEmbedder {
    model: fastembed::TextEmbedding,
    model_id: String,
    dim: usize,
}

static RUNTIME: OnceLock<Result<(), String>> = OnceLock::new();

impl FastEmbedder {
    /// Loads the model (about half a second); drop it to release the memory.
    pub fn load(paths: &ModelPaths) -> Result<Self, MemoryError> {
        RUNTIME
            .get_or_init(|| {
                ort::init_from(&paths.runtime)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|detail| MemoryError::Runtime {
                path: paths.runtime.clone(),
                detail,
            })?;
        let read = |name: &str| {
            let p = paths.dir.join(name);
            std::fs::read(&p).map_err(|e| MemoryError::Io {
                path: p,
                detail: e.to_string(),
            })
        };
        let tokenizer = fastembed::TokenizerFiles {
            tokenizer_file: read("tokenizer.json")?,
            config_file: read("config.json")?,
            special_tokens_map_file: read("special_tokens_map.json")?,
            tokenizer_config_file: read("tokenizer_config.json")?,
        };
        let user = fastembed::UserDefinedEmbeddingModel::new(read("model.onnx")?, tokenizer)
            .with_pooling(fastembed::Pooling::Mean);
        let model = fastembed::TextEmbedding::try_new_from_user_defined(
            user,
            fastembed::InitOptionsUserDefined::default(),
        )
        .map_err(|e| MemoryError::ModelLoad {
            dir: paths.dir.clone(),
            detail: format!("{e:#}"),
        })?;
        Ok(FastEmbedder {
            model,
            model_id: paths.model_id.clone(),
            dim: paths.dim,
        })
    }
}

impl Embedder for FastEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        let out = self
            .model
            .embed(texts, Some(64))
            .map_err(|e| MemoryError::Embed(format!("{e:#}")))?;
        if let Some(v) = out.iter().find(|v| v.len() != self.dim) {
            return Err(MemoryError::DimensionMismatch {
                id: "the model output".into(),
                expected: self.dim,
                got: v.len(),
            });
        }
        Ok(out)
    }
}

/// Test double: a deterministic bag of hashed words, so equal words give near vectors. Not a
/// language model; selected only by tests (and `AKASHIC_TEST_EMBEDDER=hash` for the durability test).
pub struct HashEmbedder {
    dim: usize,
    model_id: String,
    /// Every batch it was asked to embed, for tests that count calls.
    pub calls: Vec<usize>,
}

impl HashEmbedder {
    pub fn new(dim: usize) -> Self {
        HashEmbedder {
            dim,
            model_id: format!("test-hash-{dim}"),
            calls: Vec::new(),
        }
    }

    /// One text's vector.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let h = fnv1a(word.to_lowercase().as_bytes());
            let i = (h % self.dim as u64) as usize;
            v[i] += if (h >> 63) == 0 { 1.0 } else { -1.0 };
        }
        if v.iter().all(|x| *x == 0.0) {
            v[0] = 1.0;
        }
        normalize(&mut v);
        v
    }
}

impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        self.calls.push(texts.len());
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}

/// Test double: a model that loads but fails every embedding.
pub struct FailingEmbedder;

impl Embedder for FailingEmbedder {
    fn model_id(&self) -> &str {
        "failing"
    }

    fn dim(&self) -> usize {
        384
    }

    fn embed(&mut self, _texts: &[String]) -> Result<Vec<Vec<f32>>, MemoryError> {
        Err(MemoryError::Embed(
            "the failing test embedder always fails".into(),
        ))
    }
}
