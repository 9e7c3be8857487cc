//! The human post-mortem: Markdown rendered from `prompts/postmortem.md.j2`.

use super::model::PostMortem;
use super::prompts;

/// Renders a post-mortem as Markdown (the text under `state_dir/postmortems/` and in `akashic show`).
pub fn render_markdown(pm: &PostMortem) -> String {
    let mut ctx = match serde_json::to_value(pm) {
        Ok(v) => v,
        Err(e) => {
            return format!(
                "# Post-mortem {}\n\n(could not render: {e})\n",
                pm.incident_id
            )
        }
    };
    ctx["detected_hm"] = pm.detected_at.format("%Y-%m-%d %H:%M").to_string().into();
    ctx["drafted_at"] = pm
        .drafted_at
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
        .into();
    match prompts::render(prompts::POSTMORTEM, ctx) {
        Ok(s) => format!("{}\n", s.trim_end()),
        Err(e) => format!(
            "# Post-mortem {}\n\n(could not render: {})\n",
            pm.incident_id,
            crate::errors::chain(&e)
        ),
    }
}
