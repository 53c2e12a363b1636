//! How the record writes Markdown: table cells that cannot break the table, times in
//! UTC, durations as incident threads say them.

/// `text` safe inside a Markdown table cell: pipes escaped, line breaks as `<br>`.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// `2026-11-20 07:00:00` (UTC).
pub fn time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// `1h 5m`, `4m 10s`, `42s`, `3d 2h`: as incident threads say how long things lasted.
pub fn duration(span: jiff::SignedDuration) -> String {
    crate::incidents::seconds_text(span.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_durations() {
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
        assert_eq!(duration(jiff::SignedDuration::from_secs(330)), "5m 30s");
        assert_eq!(duration(jiff::SignedDuration::from_secs(-5)), "0s");
    }
}
