//! What `incident investigate` asks of the binary: the [`InvestigationDesk`] trait. The
//! investigator itself (evidence, the model, its tools, the streamed answer in the
//! incident's thread) is the binary's; the command only starts it and words the reply.

use async_trait::async_trait;

use crate::Invocation;

/// Starts investigations. Errors are sentences for the person who typed the command
/// (`no model is configured …`, `there is no incident 7`).
#[async_trait]
pub trait InvestigationDesk: Send + Sync {
    /// Starts investigating incident `incident` as the invocation's actor, or (with a
    /// `question`) continues its investigation with that question. The answer streams
    /// into the incident's thread; what is returned says where.
    async fn investigate(
        &self,
        incident: i64,
        question: Option<&str>,
        invocation: &Invocation,
    ) -> Result<String, String>;

    /// Text typed at opsbot in an incident's thread that is no command (`@opsbot why is
    /// the GPU full?`): continues the incident's investigation with it as a question,
    /// when the incident has one; `None` when it has none (the text is then not
    /// understood, as any other).
    async fn follow_up(
        &self,
        incident: i64,
        question: &str,
        invocation: &Invocation,
    ) -> Option<Result<String, String>> {
        let _ = (incident, question, invocation);
        None
    }
}

/// A desk without a model (tests of other commands; a binary without `[investigator]`).
pub struct NoInvestigator;

#[async_trait]
impl InvestigationDesk for NoInvestigator {
    async fn investigate(
        &self,
        _incident: i64,
        _question: Option<&str>,
        _invocation: &Invocation,
    ) -> Result<String, String> {
        Err("no model is configured to investigate with (`[investigator]` in opsbot.toml)".into())
    }
}
