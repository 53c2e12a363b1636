//! What the model is told: its role and limits (it only reads, through the tools; it
//! proposes, a person acts), the shape of its answer ([`crate::investigator::answer`]
//! reads it back), and the evidence opsbot gathered, every piece with its source. All of
//! it passes the `logs` redactor before it leaves opsbot.

use std::fmt::Write as _;

/// The system message.
pub const SYSTEM: &str = "You are opsbot's incident investigator for an operations team. \
You can only read: the tools run opsbot's read-only commands (health, logs, rollout \
history, cost, incident details, similar past incidents). You never change anything; \
you propose actions and a person decides. Be brief and concrete. Answer in this form:\n\
WHAT IS WRONG: one or two sentences.\n\
EVIDENCE:\n- a fact [its source, e.g. health ollama]\n\
CONFIDENCE: high, medium or low\n\
ACTION: one opsbot command a person may run, one per line (restart SERVICE, \
rollback SERVICE --to N, runbook run NAME, silence SERVICE DURATION --reason TEXT, \
logs SERVICE, health SERVICE)";

/// One piece of evidence: where it came from and what it said (redacted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// `health ollama`, `alert OllamaDown`, `similar incidents`.
    pub source: String,
    pub text: String,
}

/// The first user message: the incident and the evidence gathered.
pub fn brief(incident: i64, title: &str, service: Option<&str>, evidence: &[Evidence]) -> String {
    let mut text = format!("Incident #{incident}: {title}");
    if let Some(service) = service {
        let _ = write!(text, " (service {service})");
    }
    text.push_str("\n\nEvidence gathered by opsbot:\n");
    for piece in evidence {
        let _ = write!(text, "\n[{}]\n{}\n", piece.source, piece.text.trim());
    }
    text.push_str("\nWhat is wrong, and what should a person do next?");
    text
}

/// The text of a tool's answer as the model sees it, cut to `limit` bytes.
pub fn tool_result(source: &str, text: &str, limit: usize) -> String {
    let mut text = format!("[{source}]\n{}", text.trim());
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n… (cut)");
    }
    text
}
