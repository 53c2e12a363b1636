//! Logging setup: human-readable or JSON lines on stderr, filtered by `RUST_LOG`
//! (default `info`). Secrets never reach a log line: they are `[redacted]` in Debug.

use tracing_subscriber::{EnvFilter, fmt};

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber with the default level `info`.
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// Installs the global subscriber; `RUST_LOG` overrides `default_level`.
pub fn init_with_default(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
