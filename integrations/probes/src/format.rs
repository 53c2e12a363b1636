//! Numbers and durations as a chat line shows them: `142 ms`, `0.5%`, `12000/min`.

use std::time::Duration;

/// A value with few enough digits to read at a glance.
pub(crate) fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let decimals = match value.abs() {
        v if v >= 100.0 => 0,
        v if v >= 1.0 => 2,
        _ => 4,
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".into() } else { text }
}

/// `142 ms`, `0.5%`, `12000/min`, `3` (no unit).
pub(crate) fn with_unit(value: f64, unit: Option<&str>) -> String {
    let number = number(value);
    match unit {
        None | Some("") => number,
        Some(unit) if unit.starts_with(['%', '/']) => format!("{number}{unit}"),
        Some(unit) => format!("{number} {unit}"),
    }
}

/// `12 ms`.
pub(crate) fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(142.37), "142");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(0.001234), "0.0012");
        assert_eq!(number(0.0), "0");
        assert_eq!(with_unit(0.5, Some("%")), "0.5%");
        assert_eq!(with_unit(12000.0, Some("/min")), "12000/min");
        assert_eq!(with_unit(142.0, Some("ms")), "142 ms");
        assert_eq!(with_unit(3.0, None), "3");
    }
}
