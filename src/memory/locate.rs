//! Where the embedding model and onnxruntime live: the default search path and its one clear error.

use super::error::MemoryError;
use std::path::{Path, PathBuf};

/// The model folder name the setup step creates under a models dir.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";
/// Files the model folder must hold.
pub const MODEL_FILES: [&str; 5] = [
    "model.onnx",
    "tokenizer.json",
    "config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

#[cfg(target_os = "macos")]
const RUNTIME_FILE: &str = "libonnxruntime.dylib";
#[cfg(target_os = "windows")]
const RUNTIME_FILE: &str = "onnxruntime.dll";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const RUNTIME_FILE: &str = "libonnxruntime.so";

/// A complete model folder and the onnxruntime library to run it with.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPaths {
    pub dir: PathBuf,
    pub runtime: PathBuf,
    pub model_id: String,
    pub dim: usize,
}

/// Models dirs to try, in order: `model_dir`, `$AKASHIC_MEMORY_DIR/models`, the repo's
/// `memory/models`, then the platform data dir.
pub fn search_path(model_dir: Option<&Path>, memory_dir_env: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = model_dir {
        out.push(d.to_path_buf());
    }
    if let Some(d) = memory_dir_env {
        out.push(d.join("models"));
    }
    out.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("memory")
            .join("models"),
    );
    if let Some(d) = dirs::data_dir() {
        out.push(d.join("akashic").join("models"));
    }
    out
}

/// The model folder inside a models dir (or the dir itself when it already is one).
fn model_folder(root: &Path) -> PathBuf {
    if root.join("model.onnx").is_file() {
        root.to_path_buf()
    } else {
        root.join(MODEL_NAME)
    }
}

/// Finds the model and runtime on the default search path; `ort_dylib` is `$ORT_DYLIB_PATH` when set.
pub fn locate(
    model_dir: Option<&Path>,
    memory_dir_env: Option<&Path>,
    ort_dylib: Option<&Path>,
) -> Result<ModelPaths, MemoryError> {
    locate_in(&search_path(model_dir, memory_dir_env), ort_dylib)
}

/// Finds the model in the first of `roots` (models dirs) that has one.
pub fn locate_in(roots: &[PathBuf], ort_dylib: Option<&Path>) -> Result<ModelPaths, MemoryError> {
    if roots.is_empty() {
        return Err(MemoryError::ModelMissing {
            missing: PathBuf::from(MODEL_NAME),
            searched: Vec::new(),
        });
    }
    let searched: Vec<PathBuf> = roots.iter().map(|r| model_folder(r)).collect();
    let Some(dir) = searched
        .iter()
        .find(|d| d.join("model.onnx").is_file())
        .cloned()
    else {
        return Err(MemoryError::ModelMissing {
            missing: searched[0].join("model.onnx"),
            searched,
        });
    };
    if let Some(f) = MODEL_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| !p.is_file())
    {
        return Err(MemoryError::ModelMissing {
            missing: f,
            searched: vec![dir],
        });
    }
    let runtime = match ort_dylib {
        Some(p) => p.to_path_buf(),
        None => {
            // `<memory>/models/<model>` -> `<memory>/lib/<runtime>`; a bare `model_dir` also looks beside itself.
            let candidates: Vec<PathBuf> = dir
                .ancestors()
                .skip(1)
                .take(2)
                .map(|a| a.join("lib").join(RUNTIME_FILE))
                .collect();
            match candidates.iter().find(|p| p.is_file()) {
                Some(p) => p.clone(),
                None => {
                    return Err(MemoryError::ModelMissing {
                        missing: candidates[candidates.len() - 1].clone(),
                        searched: candidates,
                    })
                }
            }
        }
    };
    if !runtime.is_file() {
        return Err(MemoryError::ModelMissing {
            missing: runtime.clone(),
            searched: vec![runtime],
        });
    }
    let model_id = std::fs::read_to_string(dir.join("MODEL_ID"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| MODEL_NAME.to_string());
    let dim = std::fs::read_to_string(dir.join("DIM"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(384);
    Ok(ModelPaths {
        dir,
        runtime,
        model_id,
        dim,
    })
}

/// `locate` with the process environment (`AKASHIC_MEMORY_DIR`, `ORT_DYLIB_PATH`).
pub fn locate_from_env(model_dir: Option<&Path>) -> Result<ModelPaths, MemoryError> {
    let mem = std::env::var_os("AKASHIC_MEMORY_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let ort = std::env::var_os("ORT_DYLIB_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    locate(model_dir, mem.as_deref(), ort.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_model_dir_names_the_file_and_the_setup_command() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("models");
        let msg = locate_in(std::slice::from_ref(&dir), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(
                &dir.join(MODEL_NAME)
                    .join("model.onnx")
                    .display()
                    .to_string()
            ),
            "{msg}"
        );
        assert!(msg.contains("bash scripts/setup-models.sh"), "{msg}");
    }

    #[test]
    fn incomplete_model_dir_names_the_missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("models").join(MODEL_NAME);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.onnx"), b"x").unwrap();
        let err = locate_in(&[tmp.path().join("models")], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&dir.join("tokenizer.json").display().to_string()),
            "{err}"
        );
        assert!(err.contains("bash scripts/setup-models.sh"), "{err}");
    }

    #[test]
    fn runtime_is_found_beside_the_models_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("models").join(MODEL_NAME);
        std::fs::create_dir_all(&dir).unwrap();
        for f in MODEL_FILES {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        std::fs::write(dir.join("MODEL_ID"), b"m-int8").unwrap();
        std::fs::write(dir.join("DIM"), b"384").unwrap();
        let roots = [tmp.path().join("models")];
        let err = locate_in(&roots, None).unwrap_err().to_string();
        assert!(
            err.contains(
                &tmp.path()
                    .join("lib")
                    .join(RUNTIME_FILE)
                    .display()
                    .to_string()
            ),
            "{err}"
        );
        std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
        std::fs::write(tmp.path().join("lib").join(RUNTIME_FILE), b"x").unwrap();
        let p = locate_in(&roots, None).unwrap();
        assert_eq!((p.model_id.as_str(), p.dim, p.dir), ("m-int8", 384, dir));
    }
}
