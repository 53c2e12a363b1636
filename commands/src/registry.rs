//! The command registry: every command's name, grammar, safety class and timeout.
//!
//! Specs are static data. The parser reads them to parse arguments, `help` reads them to
//! explain usage, RBAC and policies refer to commands by [`CommandName`], and the Slack
//! and Discord adapters generate their slash commands from them.

use std::{fmt, time::Duration};

/// Every command opsbot understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandName {
    Help,
    Whoami,
    Services,
    Audit,
    Health,
    Logs,
    Confirm,
    Cancel,
    Approve,
    Deny,
    Restart,
    Rollback,
    Scale,
    Incident,
    Silence,
    Cost,
    Runbook,
}

impl CommandName {
    pub const ALL: &'static [CommandName] = &[
        CommandName::Help,
        CommandName::Whoami,
        CommandName::Services,
        CommandName::Audit,
        CommandName::Health,
        CommandName::Logs,
        CommandName::Confirm,
        CommandName::Cancel,
        CommandName::Approve,
        CommandName::Deny,
        CommandName::Restart,
        CommandName::Rollback,
        CommandName::Scale,
        CommandName::Incident,
        CommandName::Silence,
        CommandName::Cost,
        CommandName::Runbook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Help => "help",
            CommandName::Whoami => "whoami",
            CommandName::Services => "services",
            CommandName::Audit => "audit",
            CommandName::Health => "health",
            CommandName::Logs => "logs",
            CommandName::Confirm => "confirm",
            CommandName::Cancel => "cancel",
            CommandName::Approve => "approve",
            CommandName::Deny => "deny",
            CommandName::Restart => "restart",
            CommandName::Rollback => "rollback",
            CommandName::Scale => "scale",
            CommandName::Incident => "incident",
            CommandName::Silence => "silence",
            CommandName::Cost => "cost",
            CommandName::Runbook => "runbook",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    /// Commands that act on a pending request (confirmation or approval) rather than on a
    /// service; the engine runs them itself.
    pub fn is_request_control(self) -> bool {
        matches!(
            self,
            CommandName::Confirm | CommandName::Cancel | CommandName::Approve | CommandName::Deny
        )
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Everything static about a command.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: CommandName,
    pub summary: &'static str,
    pub service: ServiceArg,
    pub args: &'static [ArgSpec],
    pub flags: &'static [FlagSpec],
    pub safety: Safety,
    /// How long execution may take before the pipeline gives up on it.
    pub timeout: Duration,
    pub examples: &'static [&'static str],
}

impl CommandSpec {
    /// `restart SERVICE`, `audit [--limit N] …`: the usage line.
    pub fn usage(&self) -> String {
        let mut usage = self.name.as_str().to_string();
        match self.service {
            ServiceArg::None => {}
            ServiceArg::Optional => usage.push_str(" [SERVICE]"),
            ServiceArg::Required => usage.push_str(" SERVICE"),
        }
        for arg in self.args {
            let name = arg.name.to_ascii_uppercase();
            if arg.required {
                usage.push_str(&format!(" {name}"));
            } else {
                usage.push_str(&format!(" [{name}]"));
            }
        }
        for flag in self.flags {
            match flag.kind {
                ValueKind::Switch => usage.push_str(&format!(" [--{}]", flag.name)),
                kind => usage.push_str(&format!(
                    " [--{} {}]",
                    flag.name,
                    value_hint(kind, flag.name)
                )),
            }
        }
        usage
    }

    /// Whether some call of this command changes something (for `help`, slash commands).
    pub fn is_destructive(&self) -> bool {
        matches!(
            self.safety,
            Safety::Destructive | Safety::DestructiveUnless(_) | Safety::DestructiveActions { .. }
        )
    }

    /// Whether this particular call changes something and so must be confirmed.
    pub fn is_destructive_call(&self, call: &crate::language::Call<'_>) -> bool {
        match self.safety {
            Safety::ReadOnly => false,
            Safety::Destructive => true,
            Safety::DestructiveUnless(switches) => !switches.iter().any(|s| call.switch(s)),
            Safety::DestructiveActions {
                arg,
                actions,
                unless,
            } => {
                call.text(arg).is_some_and(|a| actions.contains(&a))
                    && !unless.iter().any(|s| call.switch(s))
            }
        }
    }

    pub fn flag(&self, name: &str) -> Option<&'static FlagSpec> {
        self.flags.iter().find(|f| f.name == name)
    }
}

fn value_hint(kind: ValueKind, name: &str) -> String {
    match kind {
        ValueKind::Word | ValueKind::Rest => name.to_ascii_uppercase(),
        ValueKind::Integer { .. } => "N".into(),
        ValueKind::Duration => "DURATION".into(),
        ValueKind::Choice(choices) => choices.join("|"),
        ValueKind::Switch => String::new(),
    }
}

/// The set of commands this opsbot serves.
#[derive(Debug, Clone)]
pub struct Registry {
    specs: Vec<&'static CommandSpec>,
}

impl Registry {
    /// Every command built into this crate.
    pub fn builtin() -> Self {
        Self {
            specs: crate::builtin::SPECS.to_vec(),
        }
    }

    pub fn specs(&self) -> &[&'static CommandSpec] {
        &self.specs
    }

    pub fn get(&self, name: CommandName) -> Option<&'static CommandSpec> {
        self.specs.iter().copied().find(|s| s.name == name)
    }

    pub fn find(&self, text: &str) -> Option<&'static CommandSpec> {
        let lowered = text.to_ascii_lowercase();
        self.specs
            .iter()
            .copied()
            .find(|s| s.name.as_str() == lowered)
    }

    /// Known command names closest to `text`, for "did you mean".
    pub fn close_matches(&self, text: &str) -> Vec<&'static str> {
        let lowered = text.to_ascii_lowercase();
        let mut scored: Vec<(f64, &'static str)> = self
            .specs
            .iter()
            .map(|s| {
                (
                    strsim::jaro_winkler(&lowered, s.name.as_str()),
                    s.name.as_str(),
                )
            })
            .filter(|(score, _)| *score >= 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(3).map(|(_, name)| name).collect()
    }
}
