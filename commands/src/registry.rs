//! The command registry — the set of [`Command`]s one opsbot serves, given by its caller
//! (the bot passes [`crate::builtin::COMMANDS`]) — and the pieces of a command's grammar:
//! its service argument, positional arguments, flags, value kinds and safety class.
//!
//! Commands are static data. The parser reads them to parse arguments, `help` reads them
//! to explain usage, RBAC and the audit log refer to commands by name, and the Slack and
//! Discord adapters generate their slash commands from them.

use crate::command::Command;

/// Whether a command changes anything. Destructive commands ask for confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    ReadOnly,
    Destructive,
    /// Destructive, except when one of these switches is given: `rollback --list` only
    /// reads the history, so it needs no confirmation (RBAC still applies).
    DestructiveUnless(&'static [&'static str]),
    /// Destructive only when the positional `arg` is one of `actions` and none of the
    /// `unless` switches is given: `runbook run` starts a run, `runbook run --dry-run`
    /// and `runbook list` change nothing.
    DestructiveActions {
        arg: &'static str,
        actions: &'static [&'static str],
        unless: &'static [&'static str],
    },
}

/// Whether a command takes a service as its first argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceArg {
    None,
    Optional,
    Required,
}

/// The type of an argument or flag value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// One word.
    Word,
    /// The rest of the line (only as the last positional).
    Rest,
    /// A whole number within bounds.
    Integer { min: i64, max: i64 },
    /// A whole number within bounds, or one of a fixed set of words (`--to last-good`).
    IntegerOr {
        min: i64,
        max: i64,
        words: &'static [&'static str],
    },
    /// `30s`, `15m`, `2h`, `7d`.
    Duration,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A flag without a value.
    Switch,
}

/// A positional argument after the service.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ValueKind,
    pub required: bool,
    pub help: &'static str,
}

/// A `--flag` or `--flag VALUE`.
#[derive(Clone, Copy, Debug)]
pub struct FlagSpec {
    pub name: &'static str,
    pub kind: ValueKind,
    pub help: &'static str,
}

/// The set of commands this opsbot serves, in the order `help` lists them.
#[derive(Debug, Clone)]
pub struct Registry {
    commands: Vec<&'static Command>,
}

impl Registry {
    /// Serves `commands` (usually [`crate::builtin::COMMANDS`]).
    pub fn new(commands: &[&'static Command]) -> Self {
        Self {
            commands: commands.to_vec(),
        }
    }

    pub fn commands(&self) -> &[&'static Command] {
        &self.commands
    }

    /// The command named `text` (any case).
    pub fn find(&self, text: &str) -> Option<&'static Command> {
        let lowered = text.to_ascii_lowercase();
        self.commands.iter().copied().find(|c| c.name == lowered)
    }

    /// Known command names closest to `text`, for "did you mean".
    pub fn close_matches(&self, text: &str) -> Vec<&'static str> {
        let lowered = text.to_ascii_lowercase();
        let mut scored: Vec<(f64, &'static str)> = self
            .commands
            .iter()
            .map(|c| (strsim::jaro_winkler(&lowered, c.name), c.name))
            .filter(|(score, _)| *score >= 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, name)| name).collect()
    }
}
