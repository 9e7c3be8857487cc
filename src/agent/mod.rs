//! The post-mortem agent: gather evidence, draft, ground, remember.

pub mod case;
pub mod classify;
pub mod draft;
pub mod eval;
pub mod evidence;
pub mod facts;
pub mod label;
pub mod llm;
pub mod model;
pub mod priors;
pub mod prompts;
pub mod redact;
pub mod render;
pub mod signals;
pub mod signatures;
pub mod template;
pub mod validate;

pub use draft::{draft, draft_with};
pub use evidence::{gather, gather_from, Change, Evidence};
pub use llm::{ChatPort, OpenAiChat};
pub use model::{EvidenceQuote, PostMortem, PriorIncident};
pub use priors::{MemPriors, NoPriors, PriorCandidate, PriorSource};
pub use redact::redact;
pub use render::render_markdown;
pub use validate::{grounding, validate, Problem};
