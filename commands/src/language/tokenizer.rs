//! Splits chat text into words, honouring quotes. No globbing, no variables, no escapes
//! beyond `\"` and `\\` inside double quotes: the words are data, never a shell line.

/// The text had an unterminated quote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated {quote} quote")]
pub struct TokenizeError {
    pub quote: char,
}

/// Splits `text` into words. Slack and many phones turn quotes into “curly” ones, so those
/// count as double quotes too.
pub fn tokenize(text: &str) -> Result<Vec<String>, TokenizeError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '“' | '”' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(TokenizeError { quote: '"' }),
                        Some('"' | '“' | '”') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\')) => {
                            current.push(chars.next().unwrap_or('\\'));
                        }
                        Some(other) => current.push(other),
                    }
                }
            }
            '\'' | '‘' | '’' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(TokenizeError { quote: '\'' }),
                        Some('\'' | '‘' | '’') => break,
                        Some(other) => current.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_and_quotes() {
        assert_eq!(
            tokenize("  restart   api ").unwrap(),
            vec!["restart", "api"]
        );
        assert_eq!(
            tokenize(r#"silence api 1h --reason "deploy in progress""#).unwrap(),
            vec!["silence", "api", "1h", "--reason", "deploy in progress"]
        );
        assert_eq!(
            tokenize("note 'it''s fine'").unwrap(),
            vec!["note", "its fine"]
        );
        assert_eq!(
            tokenize(r#"say "a \"b\"""#).unwrap(),
            vec!["say", r#"a "b""#]
        );
        assert_eq!(
            tokenize("x “curly quotes”").unwrap(),
            vec!["x", "curly quotes"]
        );
        assert_eq!(tokenize(r#"empty """#).unwrap(), vec!["empty", ""]);
        assert!(tokenize("").unwrap().is_empty());
    }

    #[test]
    fn shell_syntax_is_just_text() {
        assert_eq!(
            tokenize("restart api;rm -rf / $(id) `x`").unwrap(),
            vec!["restart", "api;rm", "-rf", "/", "$(id)", "`x`"]
        );
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert_eq!(tokenize("a \"b").unwrap_err().quote, '"');
        assert_eq!(tokenize("a 'b").unwrap_err().quote, '\'');
    }
}
