//! `ConfigError`: everything that can go wrong loading `opsbot.toml`. Every problem with
//! the file's content is a [`Diagnostic`] naming the file, the line and column, and the
//! dotted key path, compiler style: `opsbot.toml:42:1: services[3].target.namespace: ...`.
//! Messages never contain a secret's value.

use std::{fmt, path::PathBuf};

/// One problem at one place in the configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as the user gave it.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted key path such as `roles.operator.allow[0].commands[1]`; empty at the root.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Loading the configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist. `implicit` when the path was the default `opsbot.toml`
    /// rather than one the user chose.
    #[error("{}", not_found(path, *implicit))]
    NotFound { path: PathBuf, implicit: bool },
    /// The file exists but could not be read.
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not TOML (or not UTF-8 text).
    #[error("{0}")]
    Syntax(Diagnostic),
    /// TOML, but not the shape of `opsbot.toml`: an unknown key, a wrong type, a missing
    /// field, an invalid name, or a secret that could not be resolved.
    #[error("{0}")]
    Schema(Diagnostic),
    /// Well-formed, but inconsistent: unknown roles or commands, inheritance cycles, bad
    /// globs, URLs or thresholds, duplicate services. Every problem found, in file order.
    #[error("{}", lines(.0))]
    Invalid(Vec<Diagnostic>),
    /// A command-line flag or environment variable override is unusable. `from` names the
    /// flag or variable; the message never repeats a database URL (it may hold a password).
    #[error("{from}: {message}")]
    Override { from: String, message: String },
}

impl ConfigError {
    /// The located problems (empty for errors about the file as a whole or an override).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Syntax(diagnostic) | ConfigError::Schema(diagnostic) => {
                std::slice::from_ref(diagnostic)
            }
            ConfigError::Invalid(diagnostics) => diagnostics,
            ConfigError::NotFound { .. }
            | ConfigError::Read { .. }
            | ConfigError::Override { .. } => &[],
        }
    }
}

fn not_found(path: &std::path::Path, implicit: bool) -> String {
    if implicit {
        format!(
            "no configuration file: `{}` does not exist (it is the file read when neither \
             -c/--config nor OPSBOT_CONFIG names one). opsbot does not run without a \
             configuration; pass `-c deploy/examples/opsbot.toml` to start from the example",
            path.display()
        )
    } else {
        format!(
            "{}: configuration file not found (try `-c deploy/examples/opsbot.toml` for the example)",
            path.display()
        )
    }
}

fn lines(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_print_file_line_column_and_key() {
        let diagnostic = Diagnostic {
            origin: "opsbot.toml".into(),
            line: 42,
            column: 1,
            key: "services[3].target.namespace".into(),
            message: "must not be empty".into(),
        };
        assert_eq!(
            diagnostic.to_string(),
            "opsbot.toml:42:1: services[3].target.namespace: must not be empty"
        );
        let invalid = ConfigError::Invalid(vec![diagnostic.clone(), diagnostic]);
        assert_eq!(invalid.to_string().lines().count(), 2);
        assert_eq!(invalid.diagnostics().len(), 2);
    }
}
