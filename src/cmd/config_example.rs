//! `akashic config example`: the example config, compiled in, so an installed binary has it too.

use super::{out, out_json, CmdResult};

/// `config/akashic.example.toml`, as shipped.
pub const EXAMPLE: &str = include_str!("../../config/akashic.example.toml");

pub fn run(json: bool) -> CmdResult {
    if json {
        out_json(&serde_json::json!({ "toml": EXAMPLE }));
    } else {
        out(EXAMPLE.trim_end());
    }
    Ok(crate::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_example_is_a_valid_config() {
        let c =
            crate::config::parse(EXAMPLE, std::path::Path::new("/home/me/akashic.toml")).unwrap();
        let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
        // A [[dependency]] starts before what needs it.
        assert_eq!(
            names,
            [
                "exchange-api",
                "trading-bot",
                "content-pipeline",
                "chat-bot",
                "scraper"
            ]
        );
        assert!(c.services[0].dependency);
        assert_eq!(c.services[1].on_recurrence.len(), 1);
    }
}
