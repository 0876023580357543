//! `custos`: the one binary.
//!
//! * `custos serve` runs the supervisor, which re-executes this binary as the
//!   signer, bridge and pool children (hidden `__child` subcommand).
//! * `custos wallet ...`, `custos sign`, `custos health` talk to a running
//!   server over gRPC with the development client certificate found in the
//!   data directory.
//! * `custos await`, `custos link` follow the Telegram confirmation flow;
//!   `custos telegram setup` seals the signer bot's token (offline).
//! * `custos tx describe` decodes and judges a transaction offline.
//! * `custos demo` walks a withdrawal through Telegram against a local fake Bot API.
#![forbid(unsafe_code)]

mod children;
mod client;
mod confirm;
mod demo;
mod describe;
mod output;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Custos: a key management system for custodial Solana wallets.
#[derive(Parser, Debug)]
#[command(name = "custos", version, about)]
struct Cli {
    /// Data directory (store, development seal, TLS material, run files).
    #[arg(long, global = true, default_value = "./custos-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// Output format of client commands.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run Custos: supervisor, signer, bridge and pool.
    Serve {
        /// API listen address (loopback by default; port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:7420")]
        listen: std::net::SocketAddr,
        /// Signer threads: 1 signs inline on one thread (best on small machines),
        /// more spread signatures over cores.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        signer_workers: u16,
        /// Bridge (API) threads; default: one less than the CPU count, at least 1.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
        bridge_threads: Option<u16>,
        /// Solana JSON-RPC endpoint (https://...) from which the pool reads address
        /// lookup table contents. Without one, accounts loaded through lookup tables
        /// stay unresolved (treated as foreign). A URL with an API key is better
        /// given in the environment variable, which `ps` does not show.
        #[arg(long, env = children::RPC_URL_ENV, hide_env_values = true)]
        rpc_url: Option<String>,
        /// PEM file of extra CA certificates trusted for the RPC endpoint, on top of
        /// the built-in Mozilla roots (for a private endpoint or a test CA).
        #[arg(long, requires = "rpc_url")]
        rpc_ca_cert: Option<PathBuf>,
        #[command(flatten)]
        telegram: children::TelegramArgs,
    },
    /// Ask a wallet's owner, in Telegram, to export (back up) its private key: after
    /// Approve (and their second factor) the key goes, encrypted end to end, to their
    /// browser on the Custos page (serve --page-url). Follow with `custos await`.
    Export {
        /// Base58 public key of the wallet.
        #[arg(long)]
        wallet: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Wait for the user's decision on a pending signature or export (exit 0: approved
    /// and signed, or exported; 4: rejected, expired or failed - nothing signed; 5:
    /// still pending).
    Await {
        /// The confirmation id from `custos sign` (32 hex characters).
        id: String,
        /// Longest wait in seconds (0 answers at once; at most 600).
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Link a user's Telegram account, so that Custos can ask them to confirm.
    Link {
        #[command(subcommand)]
        command: LinkCommand,
    },
    /// Set up the signer bot (offline; restart `custos serve` afterwards).
    Telegram {
        #[command(subcommand)]
        command: TelegramCommand,
    },
    /// Run Custos against a local fake Telegram Bot API and walk a withdrawal from
    /// request to message to approval to signed transaction, printing what the user sees.
    Demo {
        /// Keep the demo's data directory (printed) instead of deleting it.
        #[arg(long)]
        keep: bool,
    },
    /// Create, show and list wallets.
    Wallet {
        #[command(subcommand)]
        command: WalletCommand,
    },
    /// Ask the running server to sign a transaction (base64 or base58; `-` reads stdin).
    Sign {
        /// Wallet that should sign (base58 public key).
        #[arg(long)]
        wallet: String,
        /// Idempotency key (optional; signatures are deterministic).
        #[arg(long, default_value = "")]
        idempotency_key: String,
        /// What the transaction is for, as JSON; a transaction that does not match
        /// it exactly is refused. Either
        /// {"swap":{"input_mint":"<b58>","output_mint":"<b58>","max_amount_in":N,"min_amount_out":N}}
        /// or {"transfer":{"destination":"<b58>","amount":N}} (add "mint":"<b58>" for a token).
        #[arg(long)]
        intent: Option<String>,
        /// JSON file of lookup table contents offered to the server,
        /// {"<table>": ["<address>", ...]}: they can only make the verdict stricter.
        #[arg(long)]
        offered_lookup_tables: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The transaction.
        tx: String,
    },
    /// Offline transaction tools.
    Tx {
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Health of the running server.
    Health {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Internal: run as one of the child processes.
    #[command(name = "__child", hide = true)]
    Child {
        #[command(subcommand)]
        role: children::ChildRole,
    },
}

#[derive(Subcommand, Debug)]
enum WalletCommand {
    /// Create a wallet for a user.
    Create {
        /// The bot's user id.
        #[arg(long)]
        user: String,
        /// The user's Telegram user id.
        #[arg(long)]
        telegram_id: Option<u64>,
        /// Idempotency key: a retry with the same key returns the same wallet
        /// (random if not given).
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show one wallet.
    Get {
        /// Base58 public key.
        pubkey: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// List a user's wallets.
    List {
        #[arg(long)]
        user: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand, Debug)]
enum LinkCommand {
    /// Issue a one-time `https://t.me/<bot>?start=...` link for a user; opening it and
    /// pressing Start binds their Telegram account. A linked user cannot be relinked
    /// this way.
    Create {
        /// The bot's user id.
        #[arg(long)]
        user: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Show a user's linked Telegram account.
    Show {
        /// The bot's user id.
        #[arg(long)]
        user: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Subcommand, Debug)]
enum TelegramCommand {
    /// Seal the signer bot's token (from @BotFather) into the data directory.
    Setup {
        /// File holding the token, or `-` for stdin (never the command line).
        #[arg(long)]
        token_file: String,
    },
}

#[derive(Subcommand, Debug)]
enum TxCommand {
    /// Decode a transaction and show the policy's verdict, without a server.
    Describe {
        /// The wallet that would sign (base58); defaults to the fee payer.
        #[arg(long)]
        signer: Option<String>,
        /// Other wallets of the same user (base58), repeatable.
        #[arg(long = "own")]
        own: Vec<String>,
        /// JSON file of lookup table contents: {"<table>": ["<address>", ...]}.
        #[arg(long)]
        lookup_tables: Option<PathBuf>,
        /// Policy file (TOML); defaults apply without one.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// What the transaction is meant to do, as JSON, e.g.
        /// '{"swap":{"input_mint":"So11…","output_mint":"EPjF…","max_amount_in":1000000,"min_amount_out":150000}}'
        /// or '{"transfer":{"destination":"7xKX…","mint":null,"amount":5000}}'; a
        /// transaction that does not match it is rejected.
        #[arg(long)]
        intent: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The transaction or message, base64 or base58 (`-` reads stdin).
        tx: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Child { role } => children::run(role),
        Command::Serve {
            listen,
            signer_workers,
            bridge_threads,
            rpc_url,
            rpc_ca_cert,
            telegram,
        } => children::serve(
            &cli.data_dir,
            listen,
            signer_workers,
            bridge_threads,
            children::Rpc {
                url: rpc_url,
                ca_cert: rpc_ca_cert,
            },
            telegram,
        ),
        Command::Await {
            id,
            timeout,
            format,
        } => confirm::await_decision(&cli.data_dir, &id, timeout, format),
        Command::Export { wallet, format } => {
            confirm::export_wallet(&cli.data_dir, &wallet, format)
        }
        Command::Link {
            command: LinkCommand::Create { user, format },
        } => confirm::link_create(&cli.data_dir, &user, format),
        Command::Link {
            command: LinkCommand::Show { user, format },
        } => confirm::link_show(&cli.data_dir, &user, format),
        Command::Telegram {
            command: TelegramCommand::Setup { token_file },
        } => confirm::telegram_setup(&cli.data_dir, &token_file),
        Command::Demo { keep } => demo::run(keep),
        Command::Tx {
            command:
                TxCommand::Describe {
                    signer,
                    own,
                    lookup_tables,
                    policy,
                    intent,
                    format,
                    tx,
                },
        } => describe::run(
            signer.as_deref(),
            &own,
            intent.as_deref(),
            lookup_tables.as_deref(),
            policy.as_deref(),
            format,
            &tx,
        ),
        Command::Wallet { command } => client::wallet(&cli.data_dir, command),
        Command::Sign {
            wallet,
            idempotency_key,
            intent,
            offered_lookup_tables,
            format,
            tx,
        } => client::sign(
            &cli.data_dir,
            client::SignArgs {
                wallet: &wallet,
                idempotency_key: &idempotency_key,
                intent: intent.as_deref(),
                offered_lookup_tables: offered_lookup_tables.as_deref(),
            },
            format,
            &tx,
        ),
        Command::Health { format } => client::health(&cli.data_dir, format),
    }
}
