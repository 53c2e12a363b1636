//! The `opsbot` command line: `serve`, `console`, `check-config`, `migrate`, `audit …`.
//! Errors end here as one readable message and a non-zero exit code.

use std::{
    io::{IsTerminal, Write},
    net::SocketAddr,
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::io::BufReader;

use crate::{
    app::App,
    audit,
    config::{self, LoadedConfig, Overrides},
    console::{self, ConsoleIdentity},
    runtime::RuntimeRouter,
    store::Store,
    telemetry::{self, LogFormat},
};

#[derive(Parser, Debug)]
#[command(
    name = "opsbot",
    version,
    about = "Run production services from chat: health, restart, rollback, cost — with RBAC and an audit log."
)]
struct Cli {
    /// Configuration file (default `opsbot.toml`; env OPSBOT_CONFIG).
    #[arg(short = 'c', long = "config", global = true)]
    config: Option<PathBuf>,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the bot: HTTP server (health, readiness, metrics) and, with --console, a terminal chat.
    Serve(ServeArgs),
    /// A terminal chat against the configured store, without the HTTP server.
    Console(ConsoleArgs),
    /// Validate the configuration and print a summary.
    CheckConfig,
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Verify, export or prune the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Slack: print the app manifest generated from the command registry and `[slack]`.
    #[command(subcommand)]
    Slack(SlackCommand),
    /// Discord: register the application commands generated from the command registry.
    #[command(subcommand)]
    Discord(DiscordCommand),
    /// GET /healthz of a running opsbot; exit 0 when it answers 200 (container health checks).
    Healthcheck(HealthcheckArgs),
}

#[derive(Subcommand, Debug)]
enum SlackCommand {
    /// Print the Slack app manifest (JSON; paste it at api.slack.com/apps → "From a manifest").
    Manifest,
}

#[derive(Subcommand, Debug)]
enum DiscordCommand {
    /// Register /health, /restart, … (bulk overwrite; in `[discord] guild_id` when set, else globally).
    RegisterCommands,
}

#[derive(Args, Debug)]
struct HealthcheckArgs {
    /// URL to check (default: /healthz on 127.0.0.1 at the port of OPSBOT_LISTEN, else 8080).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Args, Debug)]
struct StoreArgs {
    /// Store URL (`sqlite://opsbot.db`, `postgres://…`); env OPSBOT_DATABASE_URL.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Attach an interactive terminal chat to the engine.
    #[arg(long)]
    console: bool,
    /// Console user name (default: `[console] user`).
    #[arg(long = "as", value_name = "USER")]
    console_user: Option<String>,
    /// Listen address (env OPSBOT_LISTEN).
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args, Debug)]
struct ConsoleArgs {
    /// Console user name (default: `[console] user`).
    #[arg(long = "as", value_name = "USER")]
    user: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the hash chain (and, with keys, checkpoints and exports, that it was not
    /// truncated, re-anchored or rewritten); report the first problem.
    Verify(VerifyArgs),
    /// Write entries as JSON lines.
    Export(ExportArgs),
    /// Delete entries older than `[audit] retention` now.
    Prune(StoreArgs),
    /// Sign a checkpoint of the chain now with `[audit] checkpoint_key`.
    Checkpoint(StoreArgs),
    /// Print a new checkpoint key: the seed (secret) and its public key.
    Keygen,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// A public key checkpoints must be signed with (base64 or hex; repeat for rotated
    /// keys). Default: the public key of `[audit] checkpoint_key`.
    #[arg(long = "public-key", value_name = "KEY")]
    public_keys: Vec<String>,
    /// A checkpoint file (JSON lines, e.g. `[audit] checkpoint_file`); repeatable.
    #[arg(long = "checkpoints", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// An `audit export` file the chain must still agree with; repeatable.
    #[arg(long = "export", value_name = "FILE")]
    exports: Vec<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExportFormat {
    Jsonl,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Only entries at or after this time: RFC 3339 (`2026-11-01T00:00:00Z`) or an age (`24h`).
    #[arg(long)]
    since: Option<String>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
    /// Output file (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // The redaction patterns compile on the other core while the configuration loads;
    // the first command's audit record needs them.
    std::thread::spawn(opsbot_commands::redact::prepare);
    let cli = Cli::parse();
    let quiet_console = matches!(&cli.command, Command::Console(_))
        || matches!(&cli.command, Command::Serve(args) if args.console);
    if quiet_console && std::env::var_os("RUST_LOG").is_none() {
        // Keep the terminal chat readable: only warnings and errors on stderr.
        telemetry::init_with_default(cli.log_format, "warn");
    } else {
        telemetry::init(cli.log_format);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("opsbot: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("opsbot: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn load(
    config: Option<PathBuf>,
    store: &StoreArgs,
    listen: Option<SocketAddr>,
) -> anyhow::Result<LoadedConfig> {
    let env = |name: &str| std::env::var(name).ok();
    let path = config::config_path(config, &env);
    let overrides = Overrides {
        database_url: store.database_url.clone(),
        listen,
    };
    Ok(config::load(&path, &overrides)?)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Healthcheck(args) => {
            let listen = std::env::var(config::ENV_LISTEN).ok();
            let url =
                (args.url).unwrap_or_else(|| crate::healthcheck::default_url(listen.as_deref()));
            match crate::healthcheck::check(&url) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(error) => {
                    eprintln!("opsbot: {error}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::CheckConfig => {
            let loaded = load(cli.config, &StoreArgs { database_url: None }, None)?;
            println!("{}", config::summarize(&loaded));
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(store) => {
            let loaded = load(cli.config, &store, None)?;
            let db = open_store(&loaded).await?;
            db.migrate().await.context("migration failed")?;
            println!(
                "migrations applied to {}",
                config::redact_url(&loaded.config.store.url)
            );
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(command) => audit_command(cli.config, command).await,
        Command::Console(args) => {
            let loaded = load(cli.config, &args.store, None)?;
            let app = App::start(&loaded, RuntimeRouter::from_config(&loaded.config)?).await?;
            run_console(&app, &loaded, args.user).await?;
            app.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => serve(cli.config, args).await,
        Command::Slack(SlackCommand::Manifest) => {
            let loaded = load(cli.config, &StoreArgs { database_url: None }, None)?;
            let Some(slack) = &loaded.config.slack else {
                bail!(
                    "{} has no [slack] section; see deploy/slack/README.md",
                    loaded.source.display()
                );
            };
            let registry = opsbot_commands::Registry::new(opsbot_commands::builtin::COMMANDS);
            let manifest = crate::app::slack_app_manifest(&registry, slack);
            println!("{}", serde_json::to_string_pretty(&manifest)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Discord(DiscordCommand::RegisterCommands) => {
            let loaded = load(cli.config, &StoreArgs { database_url: None }, None)?;
            let Some(discord) = &loaded.config.discord else {
                bail!(
                    "{} has no [discord] section; see deploy/discord/README.md",
                    loaded.source.display()
                );
            };
            let registry = opsbot_commands::Registry::new(opsbot_commands::builtin::COMMANDS);
            let count = crate::app::register_discord_commands(discord, &registry).await?;
            match &discord.guild_id {
                Some(guild) => println!("registered {count} application commands in guild {guild}"),
                None => println!(
                    "registered {count} application commands globally (they may take up to an hour to show)"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open_store(loaded: &LoadedConfig) -> anyhow::Result<Store> {
    let store = &loaded.config.store;
    Store::connect_with(&store.url, store.connect_options())
        .await
        .with_context(|| format!("cannot open the store {}", config::redact_url(&store.url)))
}

async fn run_console(app: &App, loaded: &LoadedConfig, user: Option<String>) -> anyhow::Result<()> {
    let console = &loaded.config.console;
    let user = user.unwrap_or_else(|| console.user.clone());
    let identity = ConsoleIdentity {
        display_name: console
            .display_name
            .clone()
            .filter(|_| user == console.user)
            .unwrap_or_else(|| user.clone()),
        user,
        channel: console.channel.clone(),
        image_dir: console
            .image_dir
            .clone()
            .unwrap_or_else(console::image::default_image_dir),
    };
    let interactive = std::io::stdin().is_terminal();
    console::Responder::new(app.engine.clone(), identity)
        .run(
            BufReader::new(tokio::io::stdin()),
            tokio::io::stdout(),
            interactive,
        )
        .await
        .context("console input failed")
}

async fn serve(config: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(config, &args.store, args.listen)?;
    let app = App::start(&loaded, RuntimeRouter::from_config(&loaded.config)?).await?;
    let listen = loaded.config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen} (set [server] listen, OPSBOT_LISTEN or --listen)")
        })?;
    tracing::info!(%listen, store = %config::redact_url(&loaded.config.store.url), services = loaded.catalog.len(), "opsbot is serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let server = app.spawn_http_server(&loaded.config, listener, async move {
        let _ = server_stop.wait_for(|stop| *stop).await;
    });
    if args.console {
        tokio::select! {
            result = run_console(&app, &loaded, args.console_user) => result?,
            () = shutdown_signal() => {}
        }
    } else {
        shutdown_signal().await;
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    if let Err(error) = server.await {
        tracing::error!(%error, "HTTP server task failed");
    }
    app.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

async fn audit_command(config: Option<PathBuf>, command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => {
            let loaded = load(config, &args.store, None)?;
            let mut keys = args
                .public_keys
                .iter()
                .map(|text| audit::CheckpointKey::parse(text).context("--public-key"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if keys.is_empty()
                && let Some(signer) = crate::app::checkpoint_signer(&loaded.config.audit)?
            {
                keys.push(signer.public().clone());
            }
            if keys.is_empty() && !args.checkpoints.is_empty() {
                bail!("--checkpoints needs --public-key (or [audit] checkpoint_key)");
            }
            let mut evidence = audit::Evidence::new(
                keys.clone(),
                jiff::Timestamp::now(),
                loaded.config.audit.retention.as_duration(),
            );
            for path in &args.checkpoints {
                evidence
                    .add_checkpoint_file(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
            }
            for path in &args.exports {
                evidence
                    .add_export_file(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
            }
            let db = open_store(&loaded).await?;
            if !keys.is_empty() {
                evidence.add_stored_checkpoints(&db).await?;
            }
            let report = audit::verify_with(&db, &evidence).await?;
            for rejected in &report.rejected {
                println!("rejected checkpoint: {rejected}");
            }
            if !keys.is_empty() {
                println!(
                    "{} signed checkpoints accepted (keys {})",
                    evidence.checkpoints(),
                    keys.iter().map(|k| k.id()).collect::<Vec<_>>().join(", ")
                );
            }
            println!("{report}");
            db.close().await;
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Checkpoint(store) => {
            let loaded = load(config, &store, None)?;
            let Some(signer) = crate::app::checkpoint_signer(&loaded.config.audit)? else {
                bail!("[audit] checkpoint_key is not set; `opsbot audit keygen` makes one");
            };
            let db = open_store(&loaded).await?;
            let checkpointer = audit::Checkpointer::new(
                db.clone(),
                signer,
                loaded.config.audit.checkpoint_file.clone(),
            )
            .post_to(&loaded.config.audit.channel);
            match checkpointer.checkpoint().await? {
                Some(signed) => println!("{}", signed.to_json_line()),
                None => println!("the newest checkpoint already covers the head"),
            }
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Keygen => {
            let (signer, seed) = audit::CheckpointSigner::generate()?;
            println!(
                "seed (secret; [audit] checkpoint_key = \"${{ENV}}\" or {{ file = … }}): {seed}"
            );
            println!(
                "public key (audit verify --public-key):                   {}",
                signer.public()
            );
            println!(
                "key id:                                                   {}",
                signer.public().id()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export(args) => {
            let loaded = load(config, &args.store, None)?;
            let since = args.since.as_deref().map(parse_since).transpose()?;
            let db = open_store(&loaded).await?;
            let count = match &args.output {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let mut out = std::io::BufWriter::new(file);
                    let count = audit::export_jsonl(&db, since, &mut out).await?;
                    out.flush()?;
                    count
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    let count = audit::export_jsonl(&db, since, &mut out).await?;
                    out.flush()?;
                    count
                }
            };
            eprintln!("exported {count} audit entries");
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prune(store) => {
            let loaded = load(config, &store, None)?;
            let db = open_store(&loaded).await?;
            let retention = loaded.config.audit.retention;
            let cutoff = jiff::Timestamp::now()
                .checked_sub(jiff::SignedDuration::try_from(retention.as_duration())?)
                .context("retention is too long")?;
            let signer = crate::app::checkpoint_signer(&loaded.config.audit)?;
            let key = signer.as_ref().map(|s| s.public().clone());
            let pruned = audit::prune_checked(&db, cutoff, key.as_ref()).await?;
            println!("pruned {pruned} audit entries older than {retention} (before {cutoff})");
            if let Some(signer) = signer
                && pruned > 0
            {
                // Sign the new anchor now rather than at the next interval.
                let checkpointer = audit::Checkpointer::new(
                    db.clone(),
                    signer,
                    loaded.config.audit.checkpoint_file.clone(),
                )
                .post_to(&loaded.config.audit.channel);
                checkpointer.checkpoint().await?;
            }
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `2026-11-01T00:00:00Z` or an age such as `24h`.
fn parse_since(text: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    let age: opsbot_commands::HumanDuration = match text.parse() {
        Ok(age) => age,
        Err(_) => bail!(
            "--since `{text}` is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor an age (24h)"
        ),
    };
    Ok(jiff::Timestamp::now().checked_sub(jiff::SignedDuration::try_from(age.as_duration())?)?)
}
