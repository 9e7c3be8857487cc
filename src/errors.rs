//! Error text with its causes: `a: b: c`. thiserror's Display shows only the first link,
//! and `{:#}` chains causes for anyhow errors only.

/// An error and every cause under it, joined with `: `.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("spawn `x`")]
    struct Spawn(#[source] std::io::Error);

    #[test]
    fn causes_are_kept() {
        let e = Spawn(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        assert_eq!(super::chain(&e), "spawn `x`: no such file");
    }
}
