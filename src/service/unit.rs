//! systemd user units: akashic's own (Restart=always).

use std::collections::BTreeMap;

/// The unit file name of akashic's own user unit.
pub const AKASHIC_UNIT: &str = "akashic.service";

/// A user unit running `argv` with `env`, restarted always.
pub fn unit(description: &str, argv: &[String], env: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    s.push_str("[Unit]\n");
    s.push_str(&format!("Description={description}\n"));
    s.push_str("After=network-online.target\n\n[Service]\nType=simple\n");
    s.push_str(&format!(
        "ExecStart={}\n",
        argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
    ));
    for (k, v) in env {
        s.push_str(&format!("Environment={}\n", quote(&format!("{k}={v}"))));
    }
    s.push_str("Restart=always\nRestartSec=5\n\n[Install]\nWantedBy=default.target\n");
    s
}

/// systemd quoting: plain words stay, anything else is double-quoted with escapes.
fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:+,@".contains(c))
    {
        a.to_string()
    } else {
        format!(
            "\"{}\"",
            a.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_restarts_always_and_quotes_arguments() {
        let u = unit(
            "akashic",
            &[
                "/bin/akashic".into(),
                "--config".into(),
                "/a b/c.toml".into(),
                "watch".into(),
            ],
            &BTreeMap::from([("PATH".into(), "/usr/bin:/bin".into())]),
        );
        assert!(
            u.contains("ExecStart=/bin/akashic --config \"/a b/c.toml\" watch\n"),
            "{u}"
        );
        assert!(u.contains("Restart=always\n"));
        assert!(u.contains("Environment=PATH=/usr/bin:/bin\n"));
        assert!(u.contains("WantedBy=default.target"));
    }
}
