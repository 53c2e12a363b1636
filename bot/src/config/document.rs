//! The configuration text as a spanned TOML tree. This module owns positions: turning a
//! byte offset into `line:column`, finding the dotted key path at an offset (for errors the
//! `toml` crate reports with a span) and finding the offset of a key path (for errors found
//! by validation after deserializing).

use std::{fmt, ops::Range};

use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

/// One step of a [`KeyPath`]: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A dotted key path such as `services[3].target.namespace`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The document root (prints as an empty string).
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a table key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.into()));
        next
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Segment::Key(key)) => Some(key),
            _ => None,
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A 1-based line and column (the column counts characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`; offsets past the end clamp to the end.
    pub fn at(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Self { line, column }
    }
}

/// A parsed document: the text and its spanned tree.
pub struct Document<'a> {
    text: &'a str,
    root: Spanned<DeTable<'a>>,
}

impl<'a> Document<'a> {
    /// Parses `text`, recovering what it can. The tree is usable for locating keys even when
    /// there are syntax errors; deserialize only when the error list is empty.
    pub fn parse(text: &'a str) -> (Self, Vec<toml::de::Error>) {
        let (root, errors) = DeTable::parse_recoverable(text);
        (Self { text, root }, errors)
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// A copy of the tree, for handing to `toml::de::Deserializer`.
    pub fn root(&self) -> Spanned<DeTable<'a>> {
        self.root.clone()
    }

    pub fn position(&self, offset: usize) -> Position {
        Position::at(self.text, offset)
    }

    /// The deepest key path whose key or value covers `offset` (the root when none does).
    pub fn path_at(&self, offset: usize) -> KeyPath {
        let mut best = (0, KeyPath::root());
        // An explicit stack, so adversarial nesting cannot exhaust the call stack.
        let mut stack: Vec<(KeyPath, &DeValue<'a>)> = Vec::new();
        visit_table(
            self.root.get_ref(),
            &KeyPath::root(),
            offset,
            &mut best,
            &mut stack,
        );
        while let Some((path, value)) = stack.pop() {
            match value {
                DeValue::Table(table) => visit_table(table, &path, offset, &mut best, &mut stack),
                DeValue::Array(array) => {
                    for (index, item) in array.iter().enumerate() {
                        let item_path = path.index(index);
                        if covers(&item.span(), offset) {
                            consider(&mut best, &item_path);
                        }
                        stack.push((item_path, item.get_ref()));
                    }
                }
                _ => {}
            }
        }
        best.1
    }

    /// Where `path` is written: the span of its last key (or array element). When the path
    /// is not written in the file (a default value), the span of its deepest written prefix.
    pub fn span_of(&self, path: &KeyPath) -> Range<usize> {
        self.lookup(path).1
    }

    /// Whether every segment of `path` is written in the file.
    pub fn contains(&self, path: &KeyPath) -> bool {
        self.lookup(path).0 == path.segments().len()
    }

    /// The position of [`Document::span_of`].
    pub fn locate(&self, path: &KeyPath) -> Position {
        self.position(self.span_of(path).start)
    }

    /// For serde errors: the path at `span`, refined by the message. `missing field `x``
    /// appends `x`; `unknown field `x`` points at the key `x` when the table holds one.
    pub fn locate_error(&self, span: Option<Range<usize>>, message: &str) -> (KeyPath, Position) {
        let offset = span.map_or(0, |span| span.start);
        let path = self.path_at(offset);
        let position = self.position(offset);
        if let Some(field) = quoted_after(message, "missing field `")
            && path.last_key() != Some(field)
        {
            return (path.key(field), position);
        }
        if let Some(field) = quoted_after(message, "unknown field `") {
            let refined = path.key(field);
            if path.last_key() != Some(field) && self.contains(&refined) {
                let position = self.locate(&refined);
                return (refined, position);
            }
        }
        // Errors about one element of an array of strings ("`teams:x` is not a subject")
        // come with the array's span: point at the element the message quotes.
        if let (Some(quoted), Some(DeValue::Array(items))) =
            (quoted_after(message, "`"), self.value_at(&path))
        {
            let element = items
                .iter()
                .position(|item| matches!(item.get_ref(), DeValue::String(s) if s == quoted));
            if let Some(index) = element {
                let refined = path.index(index);
                let position = self.locate(&refined);
                return (refined, position);
            }
        }
        (path, position)
    }

    /// For syntax errors: the key path at `offset`, else the table whose header precedes
    /// it; a `duplicate key` also names the key.
    pub fn locate_syntax_error(&self, span: Option<Range<usize>>, message: &str) -> KeyPath {
        let span = span.unwrap_or(0..0);
        let mut path = self.path_at(span.start);
        if path.is_empty() {
            if let Some(header) = self.header_before(span.start) {
                path = self.path_at(header);
            }
            if message.starts_with("duplicate key")
                && let Some(key) = self.text.get(span.clone())
            {
                let key = key.trim().trim_matches(['"', '\'']);
                if !key.is_empty() {
                    path = path.key(key);
                }
            }
        }
        path
    }

    /// The offset of the last `[table]` or `[[array]]` header on a line before the line of
    /// `offset` (a header on the error's own line may be the broken part).
    fn header_before(&self, offset: usize) -> Option<usize> {
        let mut header = None;
        let mut line_start = 0;
        for line in self.text.split_inclusive('\n') {
            if line_start >= offset {
                break;
            }
            let indent = line.len() - line.trim_start().len();
            if line.trim_start().starts_with('[') && line_start + line.len() <= offset {
                header = Some(line_start + indent);
            }
            line_start += line.len();
        }
        header
    }

    /// Every string value in the document (not keys), in no particular order.
    pub fn string_values(&self) -> Vec<&str> {
        let mut strings = Vec::new();
        let mut stack: Vec<&DeValue<'a>> =
            self.root.get_ref().values().map(|v| v.get_ref()).collect();
        while let Some(value) = stack.pop() {
            match value {
                DeValue::String(text) => strings.push(text.as_ref()),
                DeValue::Array(items) => stack.extend(items.iter().map(|v| v.get_ref())),
                DeValue::Table(table) => stack.extend(table.values().map(|v| v.get_ref())),
                _ => {}
            }
        }
        strings
    }

    /// The value at `path`, when every segment is written in the file.
    fn value_at(&self, path: &KeyPath) -> Option<&DeValue<'a>> {
        let (found, _, value) = self.lookup(path);
        if found == path.segments().len() {
            value
        } else {
            None
        }
    }

    /// How many segments of `path` exist, the span of the deepest one and its value.
    fn lookup(&self, path: &KeyPath) -> (usize, Range<usize>, Option<&DeValue<'a>>) {
        let root_span = self.root.span();
        let mut span = root_span.start..root_span.start;
        let mut current: Option<&DeValue<'a>> = None;
        let mut found = 0;
        for segment in path.segments() {
            let next = match (segment, current) {
                (Segment::Key(key), None) => self
                    .root
                    .get_ref()
                    .get_key_value(key.as_str())
                    .map(|(k, v)| (k.span(), v)),
                (Segment::Key(key), Some(DeValue::Table(table))) => table
                    .get_key_value(key.as_str())
                    .map(|(k, v)| (k.span(), v)),
                (Segment::Index(index), Some(DeValue::Array(array))) => {
                    array.get(*index).map(|item| (item.span(), item))
                }
                _ => None,
            };
            match next {
                Some((next_span, value)) => {
                    span = next_span;
                    current = Some(value.get_ref());
                    found += 1;
                }
                None => break,
            }
        }
        (found, span, current)
    }
}

fn visit_table<'t, 'a>(
    table: &'t DeTable<'a>,
    path: &KeyPath,
    offset: usize,
    best: &mut (usize, KeyPath),
    stack: &mut Vec<(KeyPath, &'t DeValue<'a>)>,
) {
    for (key, value) in table.iter() {
        let key_path = path.key(key.get_ref().as_ref());
        if covers(&key.span(), offset) || covers(&value.span(), offset) {
            consider(best, &key_path);
        }
        stack.push((key_path, value.get_ref()));
    }
}

fn consider(best: &mut (usize, KeyPath), path: &KeyPath) {
    let depth = path.segments().len();
    if depth > best.0 {
        *best = (depth, path.clone());
    }
}

fn covers(span: &Range<usize>, offset: usize) -> bool {
    if span.start == span.end {
        offset == span.start
    } else {
        span.start <= offset && offset < span.end
    }
}

/// The text between `prefix` and the next backtick in `message`, when `message` has it.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let start = message.find(prefix)? + prefix.len();
    let rest = &message[start..];
    rest.find('`').map(|end| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(Position::at(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::at(text, 6), Position { line: 2, column: 1 });
        // The byte after `é` (two bytes) is the third character.
        assert_eq!(Position::at(text, 9), Position { line: 2, column: 3 });
        // Inside a multi-byte character and past the end both clamp.
        assert_eq!(Position::at(text, 8).line, 2);
        assert_eq!(Position::at(text, 10_000).line, 3);
        assert_eq!(Position::at("", 5), Position { line: 1, column: 1 });
    }

    #[test]
    fn key_paths_print_dotted_with_indices_and_quotes() {
        let path = KeyPath::root()
            .key("services")
            .index(3)
            .key("target")
            .key("namespace");
        assert_eq!(path.to_string(), "services[3].target.namespace");
        assert_eq!(
            KeyPath::root().key("roles").key("a.b").to_string(),
            "roles.\"a.b\""
        );
    }

    #[test]
    fn paths_and_spans_round_trip() {
        let text = "[server]\nlisten = \"x\"\n\n[[services]]\nname = \"a\"\n\n[[services]]\nname = \"b\"\naliases = [\"c\", \"d\"]\n";
        let (doc, errors) = Document::parse(text);
        assert!(errors.is_empty());
        let alias = KeyPath::root()
            .key("services")
            .index(1)
            .key("aliases")
            .index(1);
        assert_eq!(doc.locate(&alias).line, 9);
        assert_eq!(doc.path_at(doc.span_of(&alias).start), alias);
        let listen = KeyPath::root().key("server").key("listen");
        assert_eq!(doc.locate(&listen), Position { line: 2, column: 1 });
        // Missing pieces fall back to the deepest written prefix.
        let missing = KeyPath::root().key("services").index(1).key("target");
        assert!(!doc.contains(&missing));
        assert_eq!(doc.locate(&missing).line, 7);
    }
}
