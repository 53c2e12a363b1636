//! A parsed command: the command it matched, the service it targets, and typed values.

use std::time::Duration;

use crate::{Command, Service};

/// A typed argument or flag value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(i64),
    Duration(Duration),
    Switch,
}

/// A command ready to authorize and run.
#[derive(Clone, Debug)]
pub struct Call<'c> {
    pub command: &'static Command,
    pub service: Option<&'c Service>,
    /// Positional arguments after the service, by spec name.
    pub args: Vec<(&'static str, Value)>,
    /// Flags given, by spec name.
    pub flags: Vec<(&'static str, Value)>,
}

impl<'c> Call<'c> {
    /// The command's name (`restart`), as RBAC and the audit log know it.
    pub fn name(&self) -> &'static str {
        self.command.name
    }

    fn lookup<'a>(list: &'a [(&'static str, Value)], name: &str) -> Option<&'a Value> {
        list.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn arg(&self, name: &str) -> Option<&Value> {
        Self::lookup(&self.args, name)
    }

    pub fn flag(&self, name: &str) -> Option<&Value> {
        Self::lookup(&self.flags, name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.arg(name).or_else(|| self.flag(name))? {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.arg(name).or_else(|| self.flag(name))? {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    pub fn duration(&self, name: &str) -> Option<Duration> {
        match self.arg(name).or_else(|| self.flag(name))? {
            Value::Duration(d) => Some(*d),
            _ => None,
        }
    }

    pub fn switch(&self, name: &str) -> bool {
        matches!(self.flag(name), Some(Value::Switch))
    }

    /// The canonical text of this call (`restart wrkhrs-gateway`), used in confirmations.
    pub fn canonical_text(&self) -> String {
        let mut words: Vec<String> = vec![self.command.name.to_string()];
        if let Some(service) = self.service {
            words.push(service.name.to_string());
        }
        for (_, value) in &self.args {
            words.push(render(value));
        }
        for (name, value) in &self.flags {
            match value {
                Value::Switch => words.push(format!("--{name}")),
                other => {
                    words.push(format!("--{name}"));
                    words.push(render(other));
                }
            }
        }
        words.join(" ")
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::Text(text) if text.is_empty() || text.chars().any(char::is_whitespace) => {
            format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
        }
        Value::Text(text) => text.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Duration(d) => humantime::format_duration(*d).to_string(),
        Value::Switch => String::new(),
    }
}
