//! Label and field selectors as the API server evaluates them in `?labelSelector=` and
//! `?fieldSelector=`: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`
//! for labels; `path.to.field=v` / `!=` for fields.

use serde_json::Value;

/// Whether the labels satisfy the selector (an empty selector selects everything).
pub fn labels_match(selector: &str, labels: &Value) -> bool {
    terms(selector).iter().all(|term| {
        let term = term.trim();
        let get = |key: &str| labels.get(key.trim()).and_then(Value::as_str);
        if let Some((key, values)) = term.split_once(" notin ") {
            return get(key).is_none_or(|v| !set(values).contains(&v));
        }
        if let Some((key, values)) = term.split_once(" in ") {
            return get(key).is_some_and(|v| set(values).contains(&v));
        }
        if let Some((key, value)) = term.split_once("!=") {
            return get(key) != Some(value.trim());
        }
        if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            return get(key) == Some(value.trim());
        }
        if let Some(key) = term.strip_prefix('!') {
            return get(key).is_none();
        }
        get(term).is_some()
    })
}

/// Whether the object's fields satisfy the selector.
pub fn fields_match(selector: &str, object: &Value) -> bool {
    terms(selector).iter().all(|term| {
        let (path, value, equal) = match term.split_once("!=") {
            Some((path, value)) => (path, value, false),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((path, value)) => (path, value, true),
                None => return true,
            },
        };
        let mut field = object;
        for part in path.trim().split('.') {
            field = &field[part];
        }
        let actual = field
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| match field {
                Value::Null => String::new(),
                other => other.to_string(),
            });
        (actual == value.trim()) == equal
    })
}

/// Splits on commas outside parentheses.
fn terms(selector: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    terms.push(current);
    terms.into_iter().filter(|t| !t.trim().is_empty()).collect()
}

fn set(values: &str) -> Vec<&str> {
    values
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}
