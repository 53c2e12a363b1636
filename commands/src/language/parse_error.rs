//! Why a line could not become a [`Call`](super::Call), worded for the person who typed it.

use crate::{Command, catalog::UnknownService};

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
    #[error("{problem}\nusage: `{}`", .command.usage())]
    Usage {
        command: &'static Command,
        problem: String,
    },
    #[error("{source}")]
    UnknownService {
        command: &'static Command,
        source: UnknownService,
    },
}

impl ParseError {
    /// The command the text named, when it named a known one.
    pub fn command(&self) -> Option<&'static Command> {
        match self {
            ParseError::Usage { command, .. } | ParseError::UnknownService { command, .. } => {
                Some(command)
            }
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
