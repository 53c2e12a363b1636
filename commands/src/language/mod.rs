//! The command language: `restart wrkhrs-gateway`, `audit --actor alice --limit 20`.
//!
//! Text is split into words (with `"double"` and `'single'` quotes), the first word picks
//! a command from the [`Registry`](crate::Registry), and the rest is checked against that
//! command's spec. The result is a [`Call`] with typed values and a resolved service.
//! Nothing here executes anything; chat text never reaches a shell.

mod call;
mod parse_error;
mod parser;
mod tokenizer;

pub use call::{Call, Value};
pub use parse_error::ParseError;
pub use parser::parse;
pub use tokenizer::{TokenizeError, tokenize};

#[cfg(test)]
mod parser_tests;
