//! [`Problems`]: what validation found so far, each with the key path it is about, later
//! located in the document; and [`check_globs`], the check every section with service
//! globs shares. Every section's `check` writes here; nothing here knows a section.

use super::{
    Diagnostic,
    document::{Document, KeyPath},
};

/// Problems found so far, each with the key path it is about.
#[derive(Default)]
pub(crate) struct Problems(Vec<(KeyPath, String)>);

impl Problems {
    pub(crate) fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push((path, message.into()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_diagnostics(self, doc: &Document<'_>, origin: &str) -> Vec<Diagnostic> {
        let mut diagnostics: Vec<Diagnostic> = self
            .0
            .into_iter()
            .map(|(path, message)| {
                let position = doc.locate(&path);
                Diagnostic {
                    origin: origin.to_string(),
                    line: position.line,
                    column: position.column,
                    key: path.to_string(),
                    message,
                }
            })
            .collect();
        diagnostics.sort_by_key(|d| (d.line, d.column));
        diagnostics
    }
}

/// Checks a list of globs (`services`, `environments`): not empty, each one valid.
pub(crate) fn check_globs(globs: &[String], path: &KeyPath, problems: &mut Problems) {
    if globs.is_empty() {
        problems.push(path.clone(), "is empty; leave it out to mean every one");
    }
    for (index, glob) in globs.iter().enumerate() {
        if glob.trim().is_empty() {
            problems.push(path.index(index), "an empty pattern matches nothing");
        } else if let Err(e) = globset::Glob::new(glob) {
            problems.push(
                path.index(index),
                format!("`{glob}` is not a valid glob: {}", e.kind()),
            );
        }
    }
}
