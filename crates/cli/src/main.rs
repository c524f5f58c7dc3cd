//! `switchboard`: one binary for the server, its migrations, the platform emulator, a
//! self-contained demo and the ingest benchmark.

mod bench;
mod bench_send;
mod demo;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use switchboard_server::{Server, ServerConfig};
use switchboard_storage::{Store, StoreOptions};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Self-hosted business messaging for Messenger and Telegram"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate {
        #[arg(
            long,
            env = "SWITCHBOARD_DATABASE_URL",
            default_value = "sqlite://switchboard.db"
        )]
        database_url: String,
    },
    /// Manage the people who log in (the first one must be an owner).
    #[command(subcommand)]
    User(UserCommand),
    /// Run the Messenger + Telegram emulator on its own (for rehearsing flows offline).
    Emulator {
        #[arg(
            long,
            env = "SWITCHBOARD_EMULATOR_LISTEN",
            default_value = "127.0.0.1:8090"
        )]
        listen: SocketAddr,
    },
    /// Start the server on a throwaway SQLite database with the emulator wired in, and play a
    /// scripted customer conversation. No set-up needed.
    Demo(demo::DemoArgs),
    /// Measure webhook ingest: N signed Messenger webhooks, stored and replied to.
    Bench(bench::BenchArgs),
    /// Measure sending: per-channel rate adherence and throughput across many channels.
    BenchSend(bench_send::BenchSendArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input (one line), never from a flag.
    Create {
        #[arg(
            long,
            env = "SWITCHBOARD_DATABASE_URL",
            default_value = "sqlite://switchboard.db"
        )]
        database_url: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// owner, admin, supervisor, agent or marketer.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (required: passwords never go on a command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, default_value = "en")]
        locale: String,
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    #[arg(
        long,
        env = "SWITCHBOARD_DATABASE_URL",
        default_value = "sqlite://switchboard.db"
    )]
    database_url: String,
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[arg(
        long,
        env = "SWITCHBOARD_GRAPH_API_URL",
        default_value = "https://graph.facebook.com/v23.0"
    )]
    graph_api_url: String,
    #[arg(
        long,
        env = "SWITCHBOARD_TELEGRAM_API_URL",
        default_value = "https://api.telegram.org"
    )]
    telegram_api_url: String,
    /// Bearer token with full API rights. Without it the API is disabled.
    #[arg(long, env = "SWITCHBOARD_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Public base URL (https://…) used to register Telegram webhooks automatically.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Stable id of this node for outbox claims (default: hostname@listen address).
    #[arg(long, env = "SWITCHBOARD_NODE_ID")]
    node_id: Option<String>,
    /// Seconds a claimed outbox row stays leased to this node.
    #[arg(long, env = "SWITCHBOARD_OUTBOX_LEASE_SECS", default_value_t = 30)]
    outbox_lease_secs: u64,
    /// Seconds a platform API call may take before its answer is given up on (the message then
    /// becomes `unknown`: it may have been delivered, so it is never re-sent).
    #[arg(long, env = "SWITCHBOARD_PLATFORM_TIMEOUT_SECS", default_value_t = 30)]
    platform_timeout_secs: u64,
    /// Hunspell dictionaries for lint (English is built in).
    #[arg(long, env = "SWITCHBOARD_DICTIONARY_DIR")]
    dictionary_dir: Option<std::path::PathBuf>,
}

impl ServeArgs {
    fn into_config(self) -> ServerConfig {
        let mut c = ServerConfig::new(self.database_url, self.listen);
        c.graph_api_url = self.graph_api_url;
        c.telegram_api_url = self.telegram_api_url;
        c.admin_token = self.admin_token.filter(|t| !t.is_empty());
        c.public_url = self.public_url;
        c.node_id = self.node_id;
        c.outbox_lease = Duration::from_secs(self.outbox_lease_secs.max(1));
        c.platform_timeout = Duration::from_secs(self.platform_timeout_secs.max(1));
        c.dictionary_dir = self.dictionary_dir;
        c
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_tracing();
            let handle = Server::start(args.into_config()).await?;
            stop_signal().await;
            tracing::info!("shutting down");
            handle.shutdown().await;
        }
        Command::Migrate { database_url } => {
            init_tracing();
            let store = Store::connect(StoreOptions::new(database_url)).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend().as_str());
        }
        Command::User(UserCommand::Create {
            database_url,
            email,
            name,
            role,
            password_stdin: _,
            locale,
            time_zone,
        }) => {
            init_tracing();
            let role: switchboard_domain::Role = role.parse()?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let store = Store::open(StoreOptions::new(database_url)).await?;
            if store.count_users().await? == 0 && role != switchboard_domain::Role::Owner {
                anyhow::bail!("the first user must be an owner (--role owner)");
            }
            let service = switchboard_server::offline_service(store.clone());
            let user = service
                .bootstrap_user(switchboard_service::people::UserRequest {
                    email,
                    name,
                    role,
                    password,
                    team_ids: Vec::new(),
                    locale: Some(locale),
                    time_zone: Some(time_zone),
                    capacity: None,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("user {} created: {} ({})", user.id, user.email, user.role);
            store.close().await;
        }
        Command::Emulator { listen } => {
            init_tracing();
            let emulator =
                switchboard_emulator::Emulator::start(switchboard_emulator::EmulatorConfig {
                    listen,
                    ..Default::default()
                })
                .await?;
            println!("emulator listening on {}", emulator.base_url());
            println!("  Graph API:   {}", emulator.graph_api_url());
            println!("  Bot API:     {}", emulator.telegram_api_url());
            println!(
                "  control:     {}/_emulator/…  (pages, bots, users, calls, faults, clock)",
                emulator.base_url()
            );
            stop_signal().await;
        }
        Command::Demo(args) => demo::run(args).await?,
        Command::Bench(args) => bench::run(args).await?,
        Command::BenchSend(args) => bench_send::run(args).await?,
    }
    Ok(())
}

/// Ctrl-C or SIGTERM (what service managers send).
pub(crate) async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
