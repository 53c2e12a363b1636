//! A glob over names (services, severities, runbooks) as the configuration writes them
//! (`wrkhrs-*`, `critical`): globset's syntax and meaning, but a plain name is compared
//! as a string and `*` matches everything without building a regex. Start-up checks every
//! runbook's and automation's globs against the catalog, and most of those globs are
//! plain names; compiling a regex for each cost a measurable share of the first reply.

use globset::{Glob, GlobMatcher};

/// One compiled name glob.
#[derive(Clone, Debug)]
pub enum NameGlob {
    /// No glob syntax: the name itself.
    Exact(String),
    /// `*`: any name.
    Any,
    /// Anything else, compiled by globset.
    Pattern(GlobMatcher),
}

/// Characters that make a glob more than a plain name (globset's syntax).
const SYNTAX: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

impl NameGlob {
    /// Compiles `glob`; an invalid one is globset's error.
    pub fn new(glob: &str) -> Result<Self, globset::Error> {
        if glob == "*" {
            Ok(Self::Any)
        } else if !glob.contains(SYNTAX) {
            Ok(Self::Exact(glob.to_string()))
        } else {
            Ok(Self::Pattern(Glob::new(glob)?.compile_matcher()))
        }
    }

    pub fn is_match(&self, name: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == name,
            Self::Any => true,
            Self::Pattern(matcher) => matcher.is_match(name),
        }
    }

    /// Whether any of `globs` matches `name` (invalid globs match nothing: validation
    /// refuses them before anything runs).
    pub fn any_matches(globs: &[String], name: &str) -> bool {
        globs
            .iter()
            .filter_map(|glob| Self::new(glob).ok())
            .any(|glob| glob.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_as_globset_does() {
        let names = ["wrkhrs-gateway", "wrkhrs", "ollama", "", "a*b", "x.y"];
        for glob in [
            "wrkhrs",
            "wrkhrs-*",
            "*",
            "ollam?",
            "{ollama,wrkhrs}",
            "[a-w]*",
            "a\\*b",
            "x.y",
        ] {
            let ours = NameGlob::new(glob).unwrap();
            let theirs = Glob::new(glob).unwrap().compile_matcher();
            for name in names {
                assert_eq!(
                    ours.is_match(name),
                    theirs.is_match(name),
                    "{glob} vs {name}"
                );
            }
        }
        assert!(matches!(
            NameGlob::new("wrkhrs").unwrap(),
            NameGlob::Exact(_)
        ));
        assert!(matches!(NameGlob::new("*").unwrap(), NameGlob::Any));
        assert!(NameGlob::new("[unclosed").is_err());
        assert!(NameGlob::any_matches(
            &["x".into(), "oll*".into()],
            "ollama"
        ));
        assert!(!NameGlob::any_matches(&["[bad".into()], "ollama"));
    }
}
