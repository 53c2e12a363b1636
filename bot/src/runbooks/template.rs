//! `{param}` placeholders in runbook text (command lines, URLs, header values, JSON body
//! strings, notices). `{{` and `}}` are literal braces. Filling a template never
//! interprets the value: it is text put where the placeholder was (a command line is
//! then tokenized like chat text, never handed to a shell).

use std::collections::BTreeMap;

/// A placeholder that is not closed, or not a parameter name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// The parameter names `text` refers to, in order of appearance (with repeats).
pub fn placeholders(text: &str) -> Result<Vec<String>, TemplateError> {
    let mut names = Vec::new();
    walk(text, |piece| {
        if let Piece::Placeholder(name) = piece {
            names.push(name.to_string());
        }
    })?;
    Ok(names)
}

/// `text` with every placeholder replaced by its value; a name without a value is an
/// error (validation makes that impossible for configured runbooks).
pub fn fill(text: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Option<String> = None;
    walk(text, |piece| match piece {
        Piece::Literal(literal) => out.push_str(literal),
        Piece::Placeholder(name) => match values.get(name) {
            Some(value) => out.push_str(value),
            None => {
                missing.get_or_insert_with(|| name.to_string());
            }
        },
    })?;
    match missing {
        Some(name) => Err(TemplateError(format!("no value for `{{{name}}}`"))),
        None => Ok(out),
    }
}

/// When the whole text is one placeholder, its name (a JSON body value `"{replicas}"`
/// of an `int` parameter becomes a number, not a string).
pub fn sole_placeholder(text: &str) -> Option<&str> {
    let name = text.strip_prefix('{')?.strip_suffix('}')?;
    is_name(name).then_some(name)
}

enum Piece<'t> {
    Literal(&'t str),
    Placeholder(&'t str),
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn walk<'t>(text: &'t str, mut emit: impl FnMut(Piece<'t>)) -> Result<(), TemplateError> {
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        emit(Piece::Literal(&rest[..at]));
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{") {
            emit(Piece::Literal("{"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            emit(Piece::Literal("}"));
            rest = after;
        } else if tail.starts_with('}') {
            return Err(TemplateError(
                "a lone `}`; write `}}` for a literal brace".into(),
            ));
        } else {
            let Some(end) = tail.find('}') else {
                return Err(TemplateError(
                    "an unclosed `{`; write `{name}` for a parameter or `{{` for a literal brace"
                        .into(),
                ));
            };
            let name = &tail[1..end];
            if !is_name(name) {
                return Err(TemplateError(format!(
                    "`{{{name}}}` is not a parameter placeholder (names are letters, digits, `_`, `-`); write `{{{{` for a literal brace"
                )));
            }
            emit(Piece::Placeholder(name));
            rest = &tail[end + 1..];
        }
    }
    emit(Piece::Literal(rest));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_found_and_filled() {
        assert_eq!(
            placeholders("scale {service} {replicas}").unwrap(),
            vec!["service", "replicas"]
        );
        assert_eq!(
            fill(
                "scale {service} {replicas}",
                &values(&[("service", "web"), ("replicas", "3")])
            )
            .unwrap(),
            "scale web 3"
        );
        assert_eq!(fill("{{literal}}", &values(&[])).unwrap(), "{literal}");
        assert!(fill("{missing}", &values(&[])).is_err());
    }

    #[test]
    fn malformed_placeholders_are_errors() {
        assert!(placeholders("{unclosed").is_err());
        assert!(placeholders("lone }").is_err());
        assert!(placeholders("{not a name}").is_err());
        assert!(placeholders("{}").is_err());
    }

    #[test]
    fn a_sole_placeholder_is_recognised() {
        assert_eq!(sole_placeholder("{replicas}"), Some("replicas"));
        assert_eq!(sole_placeholder("x{replicas}"), None);
        assert_eq!(sole_placeholder("{a b}"), None);
    }
}
