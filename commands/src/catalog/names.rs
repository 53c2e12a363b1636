//! Validated names: a service name (or alias) and an environment name.
//!
//! Both are short lowercase identifiers so they can be typed in chat, used in globs and
//! printed in audit rows without quoting. Parsing is the only way to make one.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a valid {what}: use 1-63 characters of a-z, 0-9, `-`, `_` or `.`, starting with a letter or digit"
)]
pub struct NameError {
    pub text: String,
    pub what: &'static str,
}

fn validate(text: &str, what: &'static str) -> Result<String, NameError> {
    let lowered = text.trim().to_ascii_lowercase();
    let ok = !lowered.is_empty()
        && lowered.len() <= 63
        && lowered.as_bytes()[0].is_ascii_alphanumeric()
        && lowered.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(lowered)
    } else {
        Err(NameError {
            text: text.to_string(),
            what,
        })
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = NameError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                validate(text, $what).map(Self)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// The name (or alias) of a catalog service, e.g. `wrkhrs-gateway`.
    ServiceName,
    "service name"
);
name_type!(
    /// A deployment environment, e.g. `prod` or `staging`.
    Environment,
    "environment name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_checked() {
        assert_eq!(
            "AI-Orchestration".parse::<ServiceName>().unwrap().as_str(),
            "ai-orchestration"
        );
        assert!("ai_assistant".parse::<ServiceName>().is_ok());
        assert!("".parse::<ServiceName>().is_err());
        assert!("-x".parse::<ServiceName>().is_err());
        assert!("a b".parse::<ServiceName>().is_err());
        assert!("rm -rf /".parse::<ServiceName>().is_err());
        let err = "prod!".parse::<Environment>().unwrap_err();
        assert!(err.to_string().contains("environment name"));
    }
}
