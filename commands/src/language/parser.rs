//! Turns words into a [`Call`]: picks the command, types every value, resolves the service.

use crate::{
    Catalog, Command, HumanDuration, ServiceName,
    registry::{ArgSpec, Registry, ServiceArg, ValueKind},
};

use super::{Call, ParseError, Value, tokenize};

/// Parses one line of chat text.
///
/// `thread_service` is the service of the incident thread the text was typed in; a
/// command that needs a service and names none applies to it.
pub fn parse<'c>(
    text: &str,
    registry: &Registry,
    catalog: &'c Catalog,
    thread_service: Option<&ServiceName>,
) -> Result<Call<'c>, ParseError> {
    let words = tokenize(text).map_err(|e| {
        let first = text.split_whitespace().next().unwrap_or("");
        match registry.find(first.trim_start_matches('/')) {
            Some(command) => ParseError::Usage {
                command,
                problem: e.to_string(),
            },
            None => ParseError::Malformed {
                problem: e.to_string(),
            },
        }
    })?;
    let mut words = words.into_iter();
    let Some(first) = words.next() else {
        return Err(ParseError::Empty);
    };
    let name = first.trim_start_matches('/');
    let command = registry
        .find(name)
        .ok_or_else(|| ParseError::UnknownCommand {
            name: name.to_string(),
            suggestions: registry.close_matches(name),
        })?;
    let usage = |problem: String| ParseError::Usage { command, problem };

    let mut positionals: Vec<String> = Vec::new();
    let mut flags: Vec<(&'static str, Value)> = Vec::new();
    while let Some(word) = words.next() {
        let Some(flag_text) = word.strip_prefix("--").filter(|f| !f.is_empty()) else {
            positionals.push(word);
            continue;
        };
        let (flag_name, inline) = match flag_text.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag_text, None),
        };
        let flag = command.flag(flag_name).ok_or_else(|| {
            let known: Vec<String> = command
                .flags
                .iter()
                .map(|f| format!("--{}", f.name))
                .collect();
            if known.is_empty() {
                usage(format!("`{}` takes no options", command.name))
            } else {
                usage(format!(
                    "unknown option `--{flag_name}`; options: {}",
                    known.join(", ")
                ))
            }
        })?;
        if flags.iter().any(|(n, _)| *n == flag.name) {
            return Err(usage(format!("`--{}` is given twice", flag.name)));
        }
        let value = if flag.kind == ValueKind::Switch {
            if inline.is_some() {
                return Err(usage(format!("`--{}` takes no value", flag.name)));
            }
            Value::Switch
        } else {
            let raw = inline
                .or_else(|| words.next())
                .ok_or_else(|| usage(format!("`--{}` needs a value", flag.name)))?;
            typed(flag.kind, &raw, flag.name).map_err(usage)?
        };
        flags.push((flag.name, value));
    }

    let required_args = command.args.iter().filter(|a| a.required).count();
    let service_text: Option<String> = match command.service {
        ServiceArg::None => None,
        ServiceArg::Optional | ServiceArg::Required => {
            if positionals.len() > required_args {
                Some(positionals.remove(0))
            } else if let Some(thread) = thread_service {
                Some(thread.to_string())
            } else if command.service == ServiceArg::Required {
                if positionals.is_empty() {
                    return Err(usage(
                        "which service? name one (say `services` to list them)".into(),
                    ));
                }
                Some(positionals.remove(0))
            } else {
                None
            }
        }
    };
    let service = match service_text {
        None => None,
        Some(text) => Some(
            catalog
                .resolve(&text)
                .map_err(|source| ParseError::UnknownService { command, source })?,
        ),
    };

    let args = typed_args(command, positionals).map_err(usage)?;
    Ok(Call {
        command,
        service,
        args,
        flags,
    })
}

fn typed_args(
    command: &'static Command,
    positionals: Vec<String>,
) -> Result<Vec<(&'static str, Value)>, String> {
    let mut args = Vec::new();
    let mut rest = positionals.into_iter();
    for ArgSpec {
        name,
        kind,
        required,
        ..
    } in command.args
    {
        let raw = if *kind == ValueKind::Rest {
            let all: Vec<String> = rest.by_ref().collect();
            (!all.is_empty()).then(|| all.join(" "))
        } else {
            rest.next()
        };
        match raw {
            Some(raw) => args.push((*name, typed(*kind, &raw, name)?)),
            None if *required => {
                return Err(format!("missing {}", name.to_ascii_uppercase()));
            }
            None => {}
        }
    }
    if let Some(extra) = rest.next() {
        return Err(format!("unexpected `{extra}`"));
    }
    Ok(args)
}

fn typed(kind: ValueKind, raw: &str, name: &str) -> Result<Value, String> {
    match kind {
        ValueKind::Word | ValueKind::Rest => Ok(Value::Text(raw.to_string())),
        ValueKind::Integer { min, max } => match raw.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Value::Integer(n)),
            _ => Err(format!(
                "{name} must be a whole number from {min} to {max}, not `{raw}`"
            )),
        },
        ValueKind::IntegerOr { min, max, words } => {
            let lowered = raw.to_ascii_lowercase();
            match raw.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Value::Integer(n)),
                _ if words.contains(&lowered.as_str()) => Ok(Value::Text(lowered)),
                _ => Err(format!(
                    "{name} must be a whole number from {min} to {max} or {}, not `{raw}`",
                    words.join(", ")
                )),
            }
        }
        ValueKind::Duration => raw
            .parse::<HumanDuration>()
            .map(|d| Value::Duration(d.0))
            .map_err(|e| format!("{name}: {e}")),
        ValueKind::Choice(choices) => {
            let lowered = raw.to_ascii_lowercase();
            if choices.contains(&lowered.as_str()) {
                Ok(Value::Text(lowered))
            } else {
                Err(format!(
                    "{name} must be one of {}, not `{raw}`",
                    choices.join(", ")
                ))
            }
        }
        ValueKind::Switch => Ok(Value::Switch),
    }
}
