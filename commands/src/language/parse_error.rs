//! Why a line could not become a [`Call`](super::Call), worded for the person who typed it.

use crate::{catalog::UnknownService, registry::CommandSpec};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    #[error("say `help` to see what I can do")]
    Empty,
    #[error("{problem}; say `help` to list the commands")]
    Malformed { problem: String },
    #[error("{}", unknown_command(.name, .suggestions))]
    UnknownCommand {
        name: String,
        suggestions: Vec<&'static str>,
    },
    #[error("{problem}\nusage: `{}`", .spec.usage())]
    Usage {
        spec: &'static CommandSpec,
        problem: String,
    },
    #[error("{source}")]
    UnknownService {
        spec: &'static CommandSpec,
        source: UnknownService,
    },
}

impl ParseError {
    /// The command the text named, when it named a known one.
    pub fn spec(&self) -> Option<&'static CommandSpec> {
        match self {
            ParseError::Usage { spec, .. } | ParseError::UnknownService { spec, .. } => Some(spec),
            _ => None,
        }
    }
}

fn unknown_command(name: &str, suggestions: &[&'static str]) -> String {
    if suggestions.is_empty() {
        format!("unknown command `{name}`; say `help` to list the commands")
    } else {
        let list: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
        format!(
            "unknown command `{name}`; did you mean {}?",
            list.join(" or ")
        )
    }
}
