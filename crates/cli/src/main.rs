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
//! * `custos init`, `policy`, `recovery` and `attest` are the TPM seal's ceremonies and
//!   remote attestation; run as PID 1, the binary is /init of the boot image.
#![forbid(unsafe_code)]

mod attest;
mod children;
mod client;
mod confirm;
mod demo;
mod describe;
mod genesis;
mod image_init;
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
        #[command(flatten)]
        seal: children::SealArgs,
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
    /// Genesis: create the master key inside this process, seal it to the TPM under the
    /// operator's policy key, and split it into k-of-n recovery shares encrypted to the
    /// custodians. Run once, where the TPM is.
    Init {
        /// Where to seal the master key (only `tpm`; the development seal is made by
        /// `custos serve` on first start).
        #[arg(long, value_enum)]
        seal: InitSeal,
        #[command(flatten)]
        target: genesis::TargetArgs,
        /// Shares needed to recover the key (k).
        #[arg(long)]
        threshold: u8,
        /// A custodian's public key file (from `custos recovery keygen`); one share each,
        /// in this order. Repeat for each custodian (n).
        #[arg(long = "custodian", required = true)]
        custodians: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The operator's image policies: which measured images may unseal the key.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Disaster recovery: custodian keys, and rebuilding the master key into a new TPM.
    Recovery {
        #[command(subcommand)]
        command: RecoveryCommand,
    },
    /// Remote attestation of a running Custos.
    Attest {
        #[command(subcommand)]
        command: AttestCommand,
    },
    /// Internal: run as one of the child processes.
    #[command(name = "__child", hide = true)]
    Child {
        #[command(subcommand)]
        role: children::ChildRole,
    },
}

/// Seals `custos init` can create.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum InitSeal {
    /// A TPM 2.0 (device or swtpm).
    Tpm,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Create the operator's policy-signing key pair (PREFIX.key, PREFIX.pub.pem).
    Keygen {
        /// Path prefix of the two files.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a release's measured PCR 7 and 11 (release.json from the image build) so
    /// that it can unseal the master key, for its version and as long as the
    /// anti-rollback counter has not passed it.
    Sign {
        /// The policy-signing key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// The release manifest.
        #[arg(long)]
        release: PathBuf,
        /// NV index of the anti-rollback counter (as given to `custos init`).
        #[arg(long, default_value_t = format!("{:#010x}", custos_signer::tpm::seal::DEFAULT_COUNTER_INDEX))]
        counter_index: String,
        /// Where to write the signed policy.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum RecoveryCommand {
    /// Create a custodian's X25519 key pair (PREFIX.key, PREFIX.pub).
    Keygen {
        /// Path prefix of the two files.
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild the master key from k custodians' shares (each opened in memory with the
    /// custodian's key) and seal it to a new TPM in the data directory.
    Rebuild {
        #[command(flatten)]
        target: genesis::TargetArgs,
        /// The recovery kit's header (recovery/kit-header.bin).
        #[arg(long)]
        kit: PathBuf,
        /// An encrypted share file; repeat, paired in order with --custodian-key.
        #[arg(long = "share", required = true)]
        shares: Vec<PathBuf>,
        /// The custodian's secret key for the share at the same position.
        #[arg(long = "custodian-key", required = true)]
        custodian_keys: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum AttestCommand {
    /// Fetch a quote for a nonce of your choosing and print or save it as JSON.
    Fetch {
        /// 16 to 32 bytes, hex.
        #[arg(long)]
        nonce: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check that the server runs the release's exact image (exit 0), or why not (exit 6).
    /// Without --evidence: a live check with a fresh random nonce.
    Verify {
        /// The release manifest (release.json from the image build).
        #[arg(long)]
        release: PathBuf,
        /// Saved evidence (`custos attest fetch`) instead of a live check.
        #[arg(long, requires = "nonce")]
        evidence: Option<PathBuf>,
        /// The nonce the evidence was fetched with (hex).
        #[arg(long)]
        nonce: Option<String>,
        /// File with the expected attestation key (hex SEC1), pinned at first use.
        #[arg(long)]
        ak: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
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
    // Started by the kernel as /init, this binary is PID 1 of the boot image
    // (crates/init). Only then: `custos serve` as PID 1 of a container stays a server.
    if custos_init::is_pid1() && std::env::args_os().next().is_some_and(|a| a == "/init") {
        image_init::run();
    }
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
            seal,
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
            seal,
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
        Command::Init {
            seal: InitSeal::Tpm,
            target,
            threshold,
            custodians,
            format,
        } => genesis::init(&cli.data_dir, &target, threshold, &custodians, format),
        Command::Policy {
            command: PolicyCommand::Keygen { out },
        } => genesis::policy_keygen(&out),
        Command::Policy {
            command:
                PolicyCommand::Sign {
                    key,
                    release,
                    counter_index,
                    out,
                },
        } => genesis::policy_sign(&key, &release, &counter_index, &out),
        Command::Recovery {
            command: RecoveryCommand::Keygen { out },
        } => genesis::recovery_keygen(&out),
        Command::Recovery {
            command:
                RecoveryCommand::Rebuild {
                    target,
                    kit,
                    shares,
                    custodian_keys,
                },
        } => genesis::recovery_rebuild(&cli.data_dir, &target, &kit, &shares, &custodian_keys),
        Command::Attest {
            command: AttestCommand::Fetch { nonce, out },
        } => attest::fetch_command(&cli.data_dir, &nonce, out.as_deref()),
        Command::Attest {
            command:
                AttestCommand::Verify {
                    release,
                    evidence,
                    nonce,
                    ak,
                    format,
                },
        } => attest::verify_command(
            &cli.data_dir,
            &release,
            evidence.as_deref(),
            nonce.as_deref(),
            ak.as_deref(),
            format,
        ),
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
