//! The minijinja templates of `prompts/`, compiled into the binary and rendered with strict undefined.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::sync::LazyLock;

/// A template failed to render (a bug: every template is tested).
#[derive(Debug, thiserror::Error)]
#[error("render template {name}")]
pub struct RenderError {
    pub name: &'static str,
    #[source]
    pub source: minijinja::Error,
}

pub const SUMMARY: &str = "summary.j2";
pub const ROOT_CAUSE: &str = "root_cause.j2";
pub const RECOMMENDATIONS: &str = "recommendations.j2";
pub const POSTMORTEM: &str = "postmortem.md.j2";
pub const SYSTEM: &str = "system.j2";
pub const USER: &str = "user.j2";

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(false);
    let templates: [(&str, &str); 6] = [
        (SUMMARY, include_str!("../../prompts/summary.j2")),
        (ROOT_CAUSE, include_str!("../../prompts/root_cause.j2")),
        (
            RECOMMENDATIONS,
            include_str!("../../prompts/recommendations.j2"),
        ),
        (POSTMORTEM, include_str!("../../prompts/postmortem.md.j2")),
        (SYSTEM, include_str!("../../prompts/system.j2")),
        (USER, include_str!("../../prompts/user.j2")),
    ];
    for (name, text) in templates {
        env.add_template(name, text)
            .expect("bundled template parses");
    }
    env
});

/// Renders one of the bundled templates.
pub fn render(name: &'static str, ctx: impl Serialize) -> Result<String, RenderError> {
    ENV.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|source| RenderError { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_an_error() {
        let e = render(SUMMARY, minijinja::context! { service => "x" }).expect_err("strict");
        assert!(format!("{e}").contains("summary.j2"));
    }
}
