//! A compiled grant: a set of commands (by name) on services and environments matching
//! globs.

use globset::{Glob, GlobSet, GlobSetBuilder};
use opsbot_commands::{Service, builtin::COMMANDS};

use crate::config::GrantConfig;

/// Which commands a grant or rule covers, by name (`restart`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandSet {
    All,
    Only(Vec<&'static str>),
}

impl CommandSet {
    /// Parses `["*"]` or names of the commands opsbot serves ([`COMMANDS`]); unknown
    /// names are an error naming them.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.iter().any(|n| n == "*") {
            return Ok(CommandSet::All);
        }
        names
            .iter()
            .map(|n| {
                COMMANDS
                    .iter()
                    .find(|c| c.name == n)
                    .map(|c| c.name)
                    .ok_or_else(|| format!("unknown command `{n}`"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(CommandSet::Only)
    }

    pub fn contains(&self, command: &str) -> bool {
        match self {
            CommandSet::All => true,
            CommandSet::Only(list) => list.contains(&command),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            CommandSet::All => "every command".to_string(),
            CommandSet::Only(list) => list.join(", "),
        }
    }
}

/// Globs over names (`*`, `wrkhrs-*`), kept with their source text for explanations.
#[derive(Clone, Debug)]
pub struct NamePatterns {
    set: GlobSet,
    text: Vec<String>,
}

impl NamePatterns {
    pub fn parse(patterns: &[String]) -> Result<Self, String> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            builder.add(Glob::new(pattern).map_err(|e| format!("bad glob `{pattern}`: {e}"))?);
        }
        let set = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            set,
            text: patterns.to_vec(),
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.set.is_match(name)
    }

    pub fn is_everything(&self) -> bool {
        self.text.iter().any(|t| t == "*")
    }

    pub fn describe(&self) -> String {
        self.text.join(", ")
    }
}

/// A grant ready to evaluate.
#[derive(Clone, Debug)]
pub struct Grant {
    pub commands: CommandSet,
    pub services: NamePatterns,
    pub environments: NamePatterns,
}

impl Grant {
    pub fn compile(config: &GrantConfig) -> Result<Self, String> {
        Ok(Self {
            commands: CommandSet::parse(&config.commands)?,
            services: NamePatterns::parse(&config.services)?,
            environments: NamePatterns::parse(&config.environments)?,
        })
    }

    /// Whether the grant allows `command` on `service`; with no service, whether it allows
    /// the command anywhere.
    pub fn allows(&self, command: &str, service: Option<&Service>) -> bool {
        self.commands.contains(command)
            && service.is_none_or(|s| {
                self.services.matches(s.name.as_str())
                    && self.environments.matches(s.environment.as_str())
            })
    }

    /// `restart, rollback on wrkhrs-* in prod`
    pub fn describe(&self) -> String {
        let mut text = self.commands.describe();
        if !self.services.is_everything() {
            text.push_str(&format!(" on {}", self.services.describe()));
        } else {
            text.push_str(" on any service");
        }
        if !self.environments.is_everything() {
            text.push_str(&format!(" in {}", self.environments.describe()));
        }
        text
    }
}
