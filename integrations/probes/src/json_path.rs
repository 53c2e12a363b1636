//! Dotted JSON paths with `[]` segments (`models[].name`) and the `equals` / `contains`
//! expectations of a health check, compared on the value as text.

use opsbot_commands::catalog::JsonExpectation;
use serde_json::Value;

/// The values at `path`. `a.b` descends into objects; a `[]` suffix (`models[]`) or a
/// bare `[]` segment maps over an array. An empty path selects the document itself.
pub fn select<'v>(root: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut current = vec![root];
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, map) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        if !name.is_empty() {
            current = current.into_iter().filter_map(|v| v.get(name)).collect();
        }
        if map {
            current = current
                .into_iter()
                .filter_map(Value::as_array)
                .flatten()
                .collect();
        }
    }
    current
}

/// A value as text: strings without quotes, everything else as compact JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Whether the body meets the expectation; the error says what was found instead.
pub fn check_expectation(body: &Value, expectation: &JsonExpectation) -> Result<(), String> {
    let path = expectation.path.as_str();
    let found: Vec<String> = select(body, path).into_iter().map(as_text).collect();
    if found.is_empty() {
        return Err(format!("`{path}` is missing"));
    }
    let satisfied = |text: &String| {
        expectation.equals.as_ref().is_none_or(|want| text == want)
            && expectation
                .contains
                .as_ref()
                .is_none_or(|part| text.contains(part.as_str()))
    };
    if found.iter().any(satisfied) {
        return Ok(());
    }
    let wanted = match (&expectation.equals, &expectation.contains) {
        (Some(want), _) => format!("expected \"{want}\""),
        (None, Some(part)) => format!("expected one containing \"{part}\""),
        (None, None) => unreachable!("an expectation without conditions always holds"),
    };
    Err(if found.len() == 1 {
        format!("`{path}` is \"{}\", {wanted}", shorten(&found[0]))
    } else {
        let shown: Vec<String> = found.iter().take(5).map(|t| shorten(t)).collect();
        let more = if found.len() > 5 {
            format!(", … {} more", found.len() - 5)
        } else {
            String::new()
        };
        format!("`{path}` is [{}{more}], {wanted}", shown.join(", "))
    })
}

/// Long values (a whole object) cut to fit a chat line.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(path: &str, equals: Option<&str>, contains: Option<&str>) -> JsonExpectation {
        JsonExpectation {
            path: path.into(),
            equals: equals.map(Into::into),
            contains: contains.map(Into::into),
        }
    }

    #[test]
    fn selects_dotted_paths_and_maps_over_arrays() {
        let body = json!({
            "status": "healthy",
            "data": {"db": {"ok": true}},
            "models": [{"name": "llama3:8b"}, {"name": "gpt-oss:20b"}],
        });
        assert_eq!(select(&body, "status"), vec![&json!("healthy")]);
        assert_eq!(select(&body, "data.db.ok"), vec![&json!(true)]);
        assert_eq!(select(&body, "models[].name").len(), 2);
        assert!(select(&body, "missing.path").is_empty());
        let list = json!([{"a": 1}, {"a": 2}]);
        assert_eq!(select(&list, "[].a"), vec![&json!(1), &json!(2)]);
    }

    #[test]
    fn expectations_compare_text() {
        let body = json!({
            "status": "degraded",
            "version": "0.1.32",
            "ready": true,
            "models": [{"name": "llama3:8b"}, {"name": "gpt-oss:20b"}],
        });
        assert!(
            check_expectation(&body, &expect("models[].name", None, Some("gpt-oss:20b"))).is_ok()
        );
        assert!(check_expectation(&body, &expect("version", None, Some("."))).is_ok());
        assert!(check_expectation(&body, &expect("ready", Some("true"), None)).is_ok());
        let err = check_expectation(&body, &expect("status", Some("healthy"), None)).unwrap_err();
        assert_eq!(err, "`status` is \"degraded\", expected \"healthy\"");
        let err =
            check_expectation(&body, &expect("models[].name", None, Some("mistral"))).unwrap_err();
        assert!(err.contains("[llama3:8b, gpt-oss:20b]"), "{err}");
        let err = check_expectation(&body, &expect("nope", Some("x"), None)).unwrap_err();
        assert_eq!(err, "`nope` is missing");
        let empty = json!({"models": []});
        assert!(check_expectation(&empty, &expect("models[].name", None, Some(":"))).is_err());
    }
}
