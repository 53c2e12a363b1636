//! Why leadership could not start: configuration problems only (an unreachable database
//! or API server is "not the owner, retrying", never an error).

/// A leadership backend that cannot work with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum LeadershipError {
    #[error(
        "[leadership] backend = \"postgres\" needs a PostgreSQL store; on SQLite one process \
         owns everything (use backend = \"auto\")"
    )]
    PostgresNeeded,
    #[error("[leadership] backend = \"kubernetes\": {0}")]
    Kubernetes(String),
}
