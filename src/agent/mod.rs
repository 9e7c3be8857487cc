//! The post-mortem agent: gather evidence, draft, ground, remember.

pub mod model;

/// SHIM until the agent branch lands.
pub fn render_markdown(pm: &model::PostMortem) -> String {
    format!("Post-mortem ({}): {}\n", pm.author, pm.summary)
}
