//! Compact duration text for probe details: `45s`, `12m04s`, `3h02m`.

use std::time::Duration;

pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        if d.as_millis() < 10_000 && s < 10 {
            format!("{:.1}s", d.as_secs_f64())
        } else {
            format!("{s}s")
        }
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// A config duration as the user would write it: `10m`, `90s`, `2h`.
pub fn limit(d: Duration) -> String {
    humantime::format_duration(d).to_string().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_clock() {
        assert_eq!(age(Duration::from_millis(2300)), "2.3s");
        assert_eq!(age(Duration::from_secs(45)), "45s");
        assert_eq!(age(Duration::from_secs(12 * 60 + 4)), "12m04s");
        assert_eq!(age(Duration::from_secs(3 * 3600 + 2 * 60 + 9)), "3h02m");
        assert_eq!(age(Duration::from_secs(2 * 86_400 + 3600)), "2d01h");
        assert_eq!(limit(Duration::from_secs(600)), "10m");
        assert_eq!(limit(Duration::from_secs(5400)), "1h30m");
    }
}
