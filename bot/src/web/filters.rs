//! The filters of the console's search forms, as people type them: empty fields mean "any",
//! and `since` is either a duration back from now (`24h`, `7d`), a time (RFC 3339) or `all`.

use opsbot_commands::HumanDuration;

use super::error::WebError;

/// `Some(trimmed)` unless the field is empty.
pub fn field(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The `since` field: `24h` (back from `now`) or `2026-12-07T09:00:00Z`; empty or `all`:
/// no bound.
pub fn since(
    value: &Option<String>,
    now: jiff::Timestamp,
) -> Result<Option<jiff::Timestamp>, WebError> {
    let Some(text) = field(value) else {
        return Ok(None);
    };
    if text.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(Some(at));
    }
    let back: HumanDuration = text.parse().map_err(|_| {
        WebError::Bad(format!(
            "since: `{text}` is neither a duration like `24h` or `7d` nor a time like `2026-12-07T09:00:00Z`"
        ))
    })?;
    let span = jiff::SignedDuration::try_from(back.as_duration())
        .map_err(|_| WebError::Bad(format!("since: `{text}` is too long")))?;
    now.checked_sub(span)
        .map(Some)
        .map_err(|_| WebError::Bad(format!("since: `{text}` is too long")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_duration_or_a_time() {
        let now: jiff::Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        assert_eq!(since(&None, now).unwrap(), None);
        assert_eq!(since(&Some("  ".into()), now).unwrap(), None);
        assert_eq!(since(&Some("all".into()), now).unwrap(), None);
        assert_eq!(
            since(&Some("2h".into()), now).unwrap(),
            Some("2026-12-07T08:00:00Z".parse().unwrap())
        );
        assert_eq!(
            since(&Some("2026-12-01T00:00:00Z".into()), now).unwrap(),
            Some("2026-12-01T00:00:00Z".parse().unwrap())
        );
        let bad = since(&Some("yesterday".into()), now).unwrap_err();
        assert!(bad.to_string().contains("`yesterday`"), "{bad}");
    }
}
