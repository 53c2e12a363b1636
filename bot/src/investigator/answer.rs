//! The model's answer as people see it: its text (streamed as it grows, then final),
//! the confidence it gave, and its proposed actions as buttons. A proposed action is
//! only a button when it parses as an opsbot command of the kinds an investigator may
//! propose (`restart`, `rollback`, `runbook`, `silence`, `scale`, `logs`, `health`);
//! pressing it is an ordinary invocation by whoever pressed it (RBAC, confirmation,
//! approval as always).

use opsbot_commands::{Button, Catalog, Registry, Reply, Status, language};

/// Commands an answer may propose as buttons.
const PROPOSABLE: &[&str] = &[
    "restart", "rollback", "runbook", "silence", "scale", "logs", "health",
];
/// Buttons on one answer, at most.
const MAX_BUTTONS: usize = 5;

/// What the answer's text says, read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// The text without its `ACTION:` lines.
    pub body: Vec<String>,
    pub confidence: Option<String>,
    /// Proposed command lines that parse, in order.
    pub actions: Vec<String>,
    /// Proposals that were not offered as buttons, with why.
    pub dropped: Vec<String>,
    /// The first line that says what is wrong (for the audit record).
    pub summary: String,
}

/// Reads the model's final text.
pub fn read(text: &str, registry: &Registry, catalog: &Catalog) -> Reading {
    let mut reading = Reading::default();
    for line in text.lines() {
        let trimmed = line
            .trim()
            .trim_start_matches(['*', '-', ' '])
            .trim_end_matches('*');
        let upper = trimmed.to_ascii_uppercase();
        if upper.starts_with("ACTION:") {
            let proposed = trimmed["ACTION:".len()..].trim().trim_matches('`').trim();
            match language::parse(proposed, registry, catalog, None) {
                Ok(call) if PROPOSABLE.contains(&call.name()) => {
                    if !reading.actions.iter().any(|a| a == proposed) {
                        reading.actions.push(proposed.to_string());
                    }
                }
                Ok(call) => reading
                    .dropped
                    .push(format!("`{proposed}` (`{}` is not proposed)", call.name())),
                Err(error) => reading.dropped.push(format!("`{proposed}` ({error})")),
            }
            continue;
        }
        if upper.starts_with("CONFIDENCE:") {
            reading.confidence = Some(trimmed["CONFIDENCE:".len()..].trim().to_string());
        }
        if reading.summary.is_empty() && !trimmed.is_empty() {
            reading.summary = trimmed
                .strip_prefix("WHAT IS WRONG:")
                .unwrap_or(trimmed)
                .trim()
                .to_string();
        }
        reading.body.push(line.to_string());
    }
    while reading.body.last().is_some_and(|l| l.trim().is_empty()) {
        reading.body.pop();
    }
    reading
}

/// `Restart ollama` for `restart ollama`: a button's label.
fn label(command: &str) -> String {
    let mut words = command.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let mut label: String = verb
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .chain(verb.chars().skip(1))
        .collect();
    for word in words.take(3) {
        label.push(' ');
        label.push_str(word);
    }
    label
}

/// The final message: the reading with its buttons, and `footer` (model, tokens, …).
pub fn final_reply(title: &str, reading: &Reading, footer: String) -> Reply {
    let mut reply = Reply::new(Status::Warning, title).lines(reading.body.clone());
    if let Some(confidence) = &reading.confidence {
        reply = reply.field("Confidence", confidence.clone());
    }
    for dropped in &reading.dropped {
        reply = reply.line(format!("Not offered: {dropped}"));
    }
    reply = reply.line(footer);
    for action in reading.actions.iter().take(MAX_BUTTONS) {
        let mut button = Button::new(label(action), action.clone());
        if action.starts_with("restart") || action.starts_with("rollback") {
            button = button.primary();
        }
        reply = reply.button(button);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsbot_commands::Service;

    fn catalog() -> Catalog {
        let service: Service = toml::from_str(
            r#"
name = "ollama"
environment = "prod"
target = { kind = "systemd", unit = "ollama.service" }
"#,
        )
        .unwrap();
        Catalog::new(vec![service]).unwrap()
    }

    #[test]
    fn actions_become_commands_and_the_rest_stays_text() {
        let registry = Registry::new(opsbot_commands::builtin::COMMANDS);
        let text = "WHAT IS WRONG: Ollama is down: the GPU ran out of memory.\n\
                    EVIDENCE:\n- CUDA out of memory [logs ollama]\n\
                    CONFIDENCE: high\n\
                    ACTION: `restart ollama`\n\
                    ACTION: logs ollama\n\
                    ACTION: restart ollama\n\
                    ACTION: scale nothing-here 2\n\
                    ACTION: incident resolve 3\n";
        let reading = read(text, &registry, &catalog());
        assert_eq!(reading.actions, ["restart ollama", "logs ollama"]);
        assert_eq!(reading.confidence.as_deref(), Some("high"));
        assert_eq!(
            reading.summary,
            "Ollama is down: the GPU ran out of memory."
        );
        assert_eq!(reading.dropped.len(), 2, "{:?}", reading.dropped);
        assert!(reading.body.iter().all(|l| !l.contains("ACTION")));
        let reply = final_reply("Investigation", &reading, "model".into());
        let labels: Vec<&str> = reply.buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["Restart ollama", "Logs ollama"]);
    }
}
