//! `${ENV_VAR}` references in any string value of `opsbot.toml`: a deployment configures
//! opsbot by environment, so `api_url = "${SLACK_API_URL}"`,
//! `application_id = "${DISCORD_APP_ID}"` or `url = "https://${PROM_HOST}/api"` work
//! like secrets do. References are replaced in the parsed tree before it is deserialized,
//! so every key takes them, and a variable that is unset (or empty) is an error naming
//! the key and its `file:line:column`. `$${` is a literal `${`.
//!
//! Secrets keep their stricter rule: a secret must be exactly `"${ENV_VAR}"` (or
//! `{ file = … }`), never literal text. The values substituted here are handed to the
//! secret resolver with where they came from ([`Origin`]), so it can tell a secret read
//! from a variable from one pasted into the file.

use std::collections::HashMap;

use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use super::{
    ConfigError, Diagnostic,
    document::{Document, KeyPath},
    secret::resolve_env,
};

/// Where an interpolated string value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The whole value was `${NAME}`.
    Env(String),
    /// References within longer text (`https://${HOST}/api`).
    Mixed,
}

/// A string value after interpolation.
#[derive(Debug, PartialEq, Eq)]
struct Expanded {
    text: String,
    /// `None` when only `$${` escapes were replaced (the value is literal text).
    origin: Option<Origin>,
}

/// Replaces every reference in every string value under `root` (a copy of `doc`'s tree).
/// Returns each substituted value with its origin, or every unresolvable reference as a
/// located diagnostic (in file order). Messages never contain a variable's value.
pub(crate) fn interpolate(
    root: &mut Spanned<DeTable<'_>>,
    doc: &Document<'_>,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, Origin>, ConfigError> {
    let mut substituted = HashMap::new();
    let mut problems: Vec<(usize, KeyPath, String)> = Vec::new();
    // An explicit stack, so adversarial nesting cannot exhaust the call stack.
    let mut stack: Vec<(KeyPath, &mut Spanned<DeValue<'_>>)> = root
        .get_mut()
        .iter_mut()
        .map(|(key, value)| (KeyPath::root().key(key.get_ref().as_ref()), value))
        .collect();
    while let Some((path, value)) = stack.pop() {
        let start = value.span().start;
        match value.get_mut() {
            DeValue::String(text) => match expand(text, env) {
                Ok(None) => {}
                Ok(Some(expanded)) => {
                    if let Some(origin) = expanded.origin {
                        substituted.insert(expanded.text.clone(), origin);
                    }
                    *text = expanded.text.into();
                }
                Err(message) => problems.push((start, path, message)),
            },
            DeValue::Array(items) => stack.extend(
                items
                    .iter_mut()
                    .enumerate()
                    .map(|(index, item)| (path.index(index), item)),
            ),
            DeValue::Table(table) => stack.extend(
                table
                    .iter_mut()
                    .map(|(key, item)| (path.key(key.get_ref().as_ref()), item)),
            ),
            _ => {}
        }
    }
    if problems.is_empty() {
        return Ok(substituted);
    }
    problems.sort_by_key(|(start, _, _)| *start);
    let diagnostics = problems
        .into_iter()
        .map(|(start, path, message)| {
            let position = doc.position(start);
            Diagnostic {
                origin: origin.to_string(),
                line: position.line,
                column: position.column,
                key: path.to_string(),
                message,
            }
        })
        .collect();
    Err(ConfigError::Invalid(diagnostics))
}

/// `text` with its references replaced; `None` when it has neither references nor escapes.
fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Expanded>, String> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let name = after
                .find('}')
                .map(|end| &after[..end])
                .filter(|name| is_variable_name(name))
                .ok_or_else(|| {
                    "the name between `${` and `}` must be an environment variable name \
                     (letters, digits and `_`); write `$${` for a literal `${`"
                        .to_string()
                })?;
            out.push_str(&resolve_env(name, env)?);
            names.push(name);
            rest = &after[name.len() + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    let origin = match names.as_slice() {
        [] => None,
        [name] if text.len() == name.len() + 3 => Some(Origin::Env(name.to_string())),
        _ => Some(Origin::Mixed),
    };
    Ok(Some(Expanded { text: out, origin }))
}

fn is_variable_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("prom.internal:9090".into()),
            "APP_ID" => Some("1200000000000000000".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn expanded(text: &str) -> Option<Expanded> {
        expand(text, &env).unwrap()
    }

    #[test]
    fn references_expand_anywhere_in_a_value() {
        assert_eq!(expanded("plain $5 text"), None);
        assert_eq!(
            expanded("${APP_ID}"),
            Some(Expanded {
                text: "1200000000000000000".into(),
                origin: Some(Origin::Env("APP_ID".into()))
            })
        );
        assert_eq!(
            expanded("http://${HOST}/api?q=$x"),
            Some(Expanded {
                text: "http://prom.internal:9090/api?q=$x".into(),
                origin: Some(Origin::Mixed)
            })
        );
        assert_eq!(
            expanded("${HOST}${HOST}").unwrap().origin,
            Some(Origin::Mixed)
        );
        // `$${` is a literal `${`, and such a value is literal text.
        assert_eq!(
            expanded("cost $${HOST} at ${HOST}").unwrap().text,
            "cost ${HOST} at prom.internal:9090"
        );
        assert_eq!(expanded("$${HOST}").unwrap().origin, None);
    }

    #[test]
    fn bad_references_say_why_without_values() {
        assert_eq!(
            expand("${NOPE}", &env).unwrap_err(),
            "environment variable `NOPE` is not set"
        );
        assert_eq!(
            expand("x${EMPTY}", &env).unwrap_err(),
            "environment variable `EMPTY` is empty"
        );
        for bad in ["${1X}", "${}", "${HOST", "${not valid}"] {
            assert!(
                expand(bad, &env)
                    .unwrap_err()
                    .contains("must be an environment variable name"),
                "{bad}"
            );
        }
    }
}
