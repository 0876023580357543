//! `custos serve` and the entry points of the three child processes.

use clap::Subcommand;
use custos_crypto::seal::{DevSeal, Seal};
use custos_supervisor::{child, fds, supervisor, Role};
use custos_sys::confine::Identity;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The hidden `__child` subcommands.
// Parsed once per process at start: the size of the pool's variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ChildRole {
    /// The signer.
    Signer {
        #[arg(long)]
        data_dir: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Seconds a confirmation waits for the user.
        #[arg(long, default_value_t = DEFAULT_CONFIRM_EXPIRY_SECS)]
        confirm_expiry_secs: u64,
        /// Seconds a link stays valid.
        #[arg(long, default_value_t = DEFAULT_LINK_EXPIRY_SECS)]
        link_expiry_secs: u64,
        /// The Custos page's origin (passkeys, exports), if served.
        #[arg(long)]
        page_url: Option<String>,
        /// Seconds the removal of a user's last second factor waits.
        #[arg(long, default_value_t = DEFAULT_FACTOR_REMOVAL_DELAY_SECS)]
        factor_removal_delay_secs: u64,
        #[command(flatten)]
        seal: SealArgs,
    },
    /// The bridge.
    Bridge {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Async worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// The pool.
    Pool {
        #[arg(long)]
        data_dir: PathBuf,
        /// Solana JSON-RPC endpoint; passed in the environment so that an API key
        /// in the URL does not show in `ps`.
        #[arg(long, env = POOL_RPC_URL_ENV, hide_env_values = true)]
        rpc_url: Option<String>,
        /// Extra CA certificates (PEM) for the endpoint.
        #[arg(long)]
        rpc_ca_cert: Option<PathBuf>,
        /// Telegram Bot API base URL.
        #[arg(long, default_value = DEFAULT_TELEGRAM_API_URL)]
        telegram_api_url: String,
        /// Extra CA certificates (PEM) for the Bot API.
        #[arg(long)]
        telegram_ca_cert: Option<PathBuf>,
        /// Messages per second, all chats together.
        #[arg(long, default_value_t = DEFAULT_RATE_GLOBAL)]
        telegram_rate_global: u32,
        /// Messages per second to one chat.
        #[arg(long, default_value_t = DEFAULT_RATE_PER_CHAT)]
        telegram_rate_per_chat: u32,
        /// Webhook listener (with the three options below), instead of long polling.
        #[arg(long)]
        telegram_webhook_listen: Option<std::net::SocketAddr>,
        /// Public webhook URL.
        #[arg(long)]
        telegram_webhook_url: Option<String>,
        /// Webhook certificate chain (PEM).
        #[arg(long)]
        telegram_webhook_cert: Option<PathBuf>,
        /// Webhook private key (PEM).
        #[arg(long)]
        telegram_webhook_key: Option<PathBuf>,
        /// The Custos page: listener (with the three options below).
        #[arg(long)]
        page_listen: Option<std::net::SocketAddr>,
        /// The page's public origin.
        #[arg(long)]
        page_url: Option<String>,
        /// The page's certificate chain (PEM).
        #[arg(long)]
        page_cert: Option<PathBuf>,
        /// The page's private key (PEM).
        #[arg(long)]
        page_key: Option<PathBuf>,
    },
}

/// Where the master key is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SealKind {
    /// A plain file in the data directory: for development only (a banner says so).
    Development,
    /// A TPM 2.0, bound to the measured boot state by an operator-signed image policy.
    Tpm,
}

/// `custos serve` options that choose the seal (passed on to the signer).
#[derive(clap::Args, Debug, Clone)]
pub struct SealArgs {
    /// Where the master key is sealed: `development` (a file, insecure) or `tpm`
    /// (created by `custos init --seal tpm`).
    #[arg(long, value_enum, default_value = "development")]
    pub seal: SealKind,
    /// The TPM (with --seal tpm): a device path, or swtpm:HOST:PORT.
    #[arg(long, default_value = "/dev/tpmrm0")]
    pub tpm: String,
    /// The operator-signed image policy that unseals the key (with --seal tpm); it
    /// ships with each release (`custos policy sign`).
    #[arg(long)]
    pub image_policy: Option<PathBuf>,
    /// The firmware's TCG event log to attach to attestation quotes.
    #[arg(long)]
    pub event_log: Option<PathBuf>,
}

impl SealArgs {
    /// The arguments that hand these options to the signer child.
    fn child_args(&self) -> Vec<String> {
        let mut args = vec![
            "--seal".into(),
            match self.seal {
                SealKind::Development => "development",
                SealKind::Tpm => "tpm",
            }
            .into(),
            "--tpm".into(),
            self.tpm.clone(),
        ];
        if let Some(p) = &self.image_policy {
            args.extend(["--image-policy".into(), p.display().to_string()]);
        }
        if let Some(p) = &self.event_log {
            args.extend(["--event-log".into(), p.display().to_string()]);
        }
        args
    }

    /// Checks the options before any child starts, so mistakes show at once.
    fn check(&self) -> Result<Self, String> {
        let mut out = self.clone();
        if self.seal == SealKind::Tpm {
            self.tpm
                .parse::<custos_signer::tpm::TpmDevice>()
                .map_err(|e| format!("--tpm: {e}"))?;
            let policy = self
                .image_policy
                .as_ref()
                .ok_or("--seal tpm needs --image-policy (the release's signed policy)")?;
            out.image_policy = Some(
                policy
                    .canonicalize()
                    .map_err(|e| format!("--image-policy {}: {e}", policy.display()))?,
            );
        }
        Ok(out)
    }
}

/// Default delay before the removal of a user's last second factor: 24 hours.
pub const DEFAULT_FACTOR_REMOVAL_DELAY_SECS: u64 = 24 * 3600;

/// Default time a user has to confirm: 5 minutes.
pub const DEFAULT_CONFIRM_EXPIRY_SECS: u64 = 300;
/// Default lifetime of a `/start` link: 1 hour.
pub const DEFAULT_LINK_EXPIRY_SECS: u64 = 3600;
/// Telegram's Bot API.
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";
/// Telegram's documented broadcast limit is about 30 messages per second.
pub const DEFAULT_RATE_GLOBAL: u32 = 30;
/// And about one message per second to one chat.
pub const DEFAULT_RATE_PER_CHAT: u32 = 1;

/// `custos serve` options of the Telegram confirmation flow. The bot's token is
/// not among them: it is sealed in the data directory (`custos telegram setup`).
#[derive(clap::Args, Debug, Clone)]
pub struct TelegramArgs {
    /// Telegram Bot API base URL (a local fake in tests and `custos demo`).
    #[arg(long, default_value = DEFAULT_TELEGRAM_API_URL)]
    pub telegram_api_url: String,
    /// PEM file of extra CA certificates trusted for the Bot API (a test CA).
    #[arg(long)]
    pub telegram_ca_cert: Option<PathBuf>,
    /// Most messages per second the bot sends, all chats together.
    #[arg(long, default_value_t = DEFAULT_RATE_GLOBAL, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub telegram_rate_global: u32,
    /// Most messages per second the bot sends to one chat.
    #[arg(long, default_value_t = DEFAULT_RATE_PER_CHAT, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub telegram_rate_per_chat: u32,
    /// Seconds a user has to approve or reject a request before it expires.
    #[arg(long, default_value_t = DEFAULT_CONFIRM_EXPIRY_SECS, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub confirm_expiry: u64,
    /// Seconds a `custos link create` link stays valid.
    #[arg(long, default_value_t = DEFAULT_LINK_EXPIRY_SECS, value_parser = clap::value_parser!(u64).range(60..=604_800))]
    pub link_expiry: u64,
    /// Receive updates by webhook instead of long polling: the pool serves HTTPS on
    /// this address and registers `--telegram-webhook-url` with a random secret token,
    /// which every delivery must carry.
    #[arg(long, requires_all = ["telegram_webhook_url", "telegram_webhook_cert", "telegram_webhook_key"])]
    pub telegram_webhook_listen: Option<std::net::SocketAddr>,
    /// Public https:// URL that reaches `--telegram-webhook-listen`.
    #[arg(long, requires = "telegram_webhook_listen")]
    pub telegram_webhook_url: Option<String>,
    /// Certificate chain (PEM) of the webhook listener.
    #[arg(long, requires = "telegram_webhook_listen")]
    pub telegram_webhook_cert: Option<PathBuf>,
    /// Private key (PEM) of the webhook listener.
    #[arg(long, requires = "telegram_webhook_listen")]
    pub telegram_webhook_key: Option<PathBuf>,
    /// Serve the Custos page (passkey registration and approval, key export) on this
    /// address over HTTPS. Telegram buttons open it at `--page-url`.
    #[arg(long, requires = "page_url")]
    pub page_listen: Option<std::net::SocketAddr>,
    /// The page's public origin, `https://host[:port]`, exactly as browsers reach it
    /// (passkeys are bound to it), e.g. https://localhost:8443.
    #[arg(long, requires = "page_listen")]
    pub page_url: Option<String>,
    /// Certificate chain (PEM) of the page; default: the development certificate
    /// (for `localhost`, signed by the development CA in the data directory).
    #[arg(long, requires_all = ["page_listen", "page_key"])]
    pub page_cert: Option<PathBuf>,
    /// Private key (PEM) of the page.
    #[arg(long, requires_all = ["page_listen", "page_cert"])]
    pub page_key: Option<PathBuf>,
    /// Seconds the removal of a user's last second factor waits (with a Telegram
    /// notice), so a thief cannot switch it off quietly.
    #[arg(long, default_value_t = DEFAULT_FACTOR_REMOVAL_DELAY_SECS, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub factor_removal_delay: u64,
}

/// Environment variable `custos serve` reads the RPC URL from (as `--rpc-url`).
pub const RPC_URL_ENV: &str = "CUSTOS_RPC_URL";
/// Environment variable through which the supervisor hands the RPC URL to the pool.
pub const POOL_RPC_URL_ENV: &str = "CUSTOS_POOL_RPC_URL";

/// The pool's Solana RPC settings.
#[derive(Debug, Clone, Default)]
pub struct Rpc {
    /// Endpoint URL (`https://` only).
    pub url: Option<String>,
    /// Extra CA certificates (PEM file).
    pub ca_cert: Option<PathBuf>,
}

fn init_logging(role: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .try_init();
    tracing::debug!(role, "logging initialised");
}

fn fail(what: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("custos: {what}: {e}");
    ExitCode::FAILURE
}

/// Fixed ids of the three children when `custos serve` runs as root and `/etc/passwd` has
/// no system users `custos-signer`, `custos-bridge`, `custos-pool` (each id is used as
/// both uid and gid).
pub const SIGNER_ID: u32 = 64101;
/// The bridge's fixed id (see [`SIGNER_ID`]).
pub const BRIDGE_ID: u32 = 64102;
/// The pool's fixed id (see [`SIGNER_ID`]).
pub const POOL_ID: u32 = 64103;

/// The unprivileged identity a child takes when started as root: the system user named
/// after its process (`custos-signer`, ...) if there is one, else the fixed id.
pub fn identity(role: Role) -> Identity {
    let id = match role {
        Role::Signer => SIGNER_ID,
        Role::Bridge => BRIDGE_ID,
        Role::Pool => POOL_ID,
    };
    Identity::system_user_or(role.process_name(), id, id)
}

/// Applies a child's confinement and logs what was applied; on failure the child exits.
fn confine(policy: &custos_sys::confine::Policy) -> Result<(), ExitCode> {
    match custos_sys::confine::apply(policy) {
        Ok(report) => {
            tracing::info!("{report}");
            Ok(())
        }
        Err(e) => Err(fail(&format!("{}: confinement", policy.role), e)),
    }
}

/// `custos serve`: prepares the data directory and runs the supervisor.
pub fn serve(
    data_dir: &Path,
    listen: std::net::SocketAddr,
    signer_workers: u16,
    bridge_threads: Option<u16>,
    rpc: Rpc,
    telegram: TelegramArgs,
    seal: SealArgs,
) -> ExitCode {
    init_logging("supervisor");
    let seal = match seal.check() {
        Ok(s) => s,
        Err(e) => return fail("seal", e),
    };
    // Check the RPC settings here, so a mistake is reported at once and clearly
    // rather than as a pool that failed to start.
    let rpc_ca_cert = match &rpc.ca_cert {
        Some(p) => match p.canonicalize() {
            Ok(p) => Some(p),
            Err(e) => return fail(&format!("--rpc-ca-cert {}", p.display()), e),
        },
        None => None,
    };
    if let Some(url) = &rpc.url {
        match custos_pool::rpc::RpcClient::new(url, rpc_ca_cert.as_deref()) {
            Ok(client) => eprintln!(
                "custos: lookup tables will be read from {}",
                client.endpoint()
            ),
            Err(e) => return fail("rpc", e),
        }
    }
    let telegram_ca_cert = match &telegram.telegram_ca_cert {
        Some(p) => match p.canonicalize() {
            Ok(p) => Some(p),
            Err(e) => return fail(&format!("--telegram-ca-cert {}", p.display()), e),
        },
        None => None,
    };
    let webhook = match (
        telegram.telegram_webhook_listen,
        &telegram.telegram_webhook_url,
        &telegram.telegram_webhook_cert,
        &telegram.telegram_webhook_key,
    ) {
        (Some(listen), Some(url), Some(cert), Some(key)) => {
            if !url.starts_with("https://") {
                return fail(
                    "--telegram-webhook-url",
                    format!("{url:?} is not an https:// URL"),
                );
            }
            let canon = |flag: &str, p: &PathBuf| {
                p.canonicalize()
                    .map_err(|e| format!("{flag} {}: {e}", p.display()))
            };
            match (
                canon("--telegram-webhook-cert", cert),
                canon("--telegram-webhook-key", key),
            ) {
                (Ok(c), Ok(k)) => Some((listen, url.clone(), c, k)),
                (Err(e), _) | (_, Err(e)) => return fail("webhook", e),
            }
        }
        _ => None,
    };
    if !telegram.telegram_api_url.starts_with("https://") {
        return fail(
            "--telegram-api-url",
            format!("{:?} is not an https:// URL", telegram.telegram_api_url),
        );
    }
    if let Some(url) = &telegram.page_url {
        if let Err(e) = custos_pool::page::PageOrigin::parse(url) {
            return fail("--page-url", e);
        }
    }
    if let Err(e) = prepare_data_dir(data_dir) {
        return fail("data directory", e);
    }
    let data_dir = match data_dir.canonicalize() {
        Ok(d) => d,
        Err(e) => return fail("data directory", e),
    };
    match custos_bridge::devpki::ensure(&data_dir) {
        Ok(true) => eprintln!(
            "custos: created development CA and certificates in {}",
            data_dir.join(custos_bridge::devpki::TLS_DIR).display()
        ),
        Ok(false) => {}
        Err(e) => return fail("development certificates", e),
    }
    // A stale address file from an earlier run must not lead clients astray.
    let _ = std::fs::remove_file(data_dir.join(custos_bridge::API_ADDR_FILE));
    let root = custos_sys::confine::running_as_root();
    if let Err(e) = roles::prepare_data_dir(&data_dir, root) {
        return fail("data directory", e);
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail("locating the custos executable", e),
    };
    let dir = data_dir.display().to_string();
    let config = supervisor::Config {
        exe,
        child_prefix: vec!["__child".into()],
        signer_args: vec![
            "--data-dir".into(),
            dir.clone(),
            "--workers".into(),
            signer_workers.to_string(),
            "--confirm-expiry-secs".into(),
            telegram.confirm_expiry.to_string(),
            "--link-expiry-secs".into(),
            telegram.link_expiry.to_string(),
            "--factor-removal-delay-secs".into(),
            telegram.factor_removal_delay.to_string(),
        ]
        .into_iter()
        .chain(
            telegram
                .page_url
                .iter()
                .flat_map(|u| ["--page-url".to_owned(), u.clone()]),
        )
        .chain(seal.child_args())
        .collect(),
        bridge_args: vec![
            "--data-dir".into(),
            dir.clone(),
            "--listen".into(),
            listen.to_string(),
            "--threads".into(),
            bridge_threads
                .map(usize::from)
                .unwrap_or_else(default_bridge_threads)
                .to_string(),
        ],
        pool_args: {
            let mut args = vec!["--data-dir".to_owned(), dir];
            if let Some(ca) = &rpc_ca_cert {
                args.push("--rpc-ca-cert".into());
                args.push(ca.display().to_string());
            }
            args.extend([
                "--telegram-api-url".into(),
                telegram.telegram_api_url.clone(),
                "--telegram-rate-global".into(),
                telegram.telegram_rate_global.to_string(),
                "--telegram-rate-per-chat".into(),
                telegram.telegram_rate_per_chat.to_string(),
            ]);
            if let Some(ca) = &telegram_ca_cert {
                args.push("--telegram-ca-cert".into());
                args.push(ca.display().to_string());
            }
            if let (Some(listen), Some(url)) = (telegram.page_listen, &telegram.page_url) {
                let tls = data_dir.join(custos_bridge::devpki::TLS_DIR);
                let (cert, key) = match (&telegram.page_cert, &telegram.page_key) {
                    (Some(c), Some(k)) => (c.clone(), k.clone()),
                    _ => (
                        tls.join(custos_bridge::devpki::SERVER_CERT),
                        tls.join(custos_bridge::devpki::SERVER_KEY),
                    ),
                };
                let canon = |flag: &str, p: &PathBuf| {
                    p.canonicalize()
                        .map_err(|e| format!("{flag} {}: {e}", p.display()))
                };
                let staged = |r: Result<PathBuf, String>| {
                    r.and_then(|p| roles::pool_readable(&data_dir, &p, root))
                };
                match (
                    staged(canon("--page-cert", &cert)),
                    staged(canon("--page-key", &key)),
                ) {
                    (Ok(c), Ok(k)) => args.extend([
                        "--page-listen".into(),
                        listen.to_string(),
                        "--page-url".into(),
                        url.clone(),
                        "--page-cert".into(),
                        c.display().to_string(),
                        "--page-key".into(),
                        k.display().to_string(),
                    ]),
                    (Err(e), _) | (_, Err(e)) => return fail("page", e),
                }
            }
            if let Some((listen, url, cert, key)) = &webhook {
                let (cert, key) = match (
                    roles::pool_readable(&data_dir, cert, root),
                    roles::pool_readable(&data_dir, key, root),
                ) {
                    (Ok(c), Ok(k)) => (c, k),
                    (Err(e), _) | (_, Err(e)) => return fail("webhook", e),
                };
                args.extend([
                    "--telegram-webhook-listen".into(),
                    listen.to_string(),
                    "--telegram-webhook-url".into(),
                    url.clone(),
                    "--telegram-webhook-cert".into(),
                    cert.display().to_string(),
                    "--telegram-webhook-key".into(),
                    key.display().to_string(),
                ]);
            }
            args
        },
        pool_env: rpc
            .url
            .map(|u| vec![(POOL_RPC_URL_ENV.to_owned(), u)])
            .unwrap_or_default(),
        env_remove: vec![RPC_URL_ENV.into(), POOL_RPC_URL_ENV.into()],
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail("runtime", e),
    };
    match rt.block_on(supervisor::run(config)) {
        Ok(()) => {
            eprintln!("custos: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail("stopped", e),
    }
}

/// One core is the signer's; the bridge gets the rest (at least one).
fn default_bridge_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Runs one child role.
pub fn run(role: ChildRole) -> ExitCode {
    match role {
        ChildRole::Signer {
            data_dir,
            workers,
            confirm_expiry_secs,
            link_expiry_secs,
            page_url,
            factor_removal_delay_secs,
            seal,
        } => signer(
            &data_dir,
            workers,
            Duration::from_secs(confirm_expiry_secs),
            Duration::from_secs(link_expiry_secs),
            page_url.as_deref(),
            Duration::from_secs(factor_removal_delay_secs),
            &seal,
        ),
        ChildRole::Bridge {
            data_dir,
            listen,
            threads,
        } => bridge(data_dir, listen, threads.max(1)),
        ChildRole::Pool {
            data_dir: _,
            rpc_url,
            rpc_ca_cert,
            telegram_api_url,
            telegram_ca_cert,
            telegram_rate_global,
            telegram_rate_per_chat,
            telegram_webhook_listen,
            telegram_webhook_url,
            telegram_webhook_cert,
            telegram_webhook_key,
            page_listen,
            page_url,
            page_cert,
            page_key,
        } => pool(
            rpc_url.as_deref(),
            rpc_ca_cert.as_deref(),
            TelegramChild {
                api_url: telegram_api_url,
                ca_cert: telegram_ca_cert,
                rate_global: telegram_rate_global,
                rate_per_chat: telegram_rate_per_chat,
                webhook: match (
                    telegram_webhook_listen,
                    telegram_webhook_url,
                    telegram_webhook_cert,
                    telegram_webhook_key,
                ) {
                    (Some(l), Some(u), Some(c), Some(k)) => {
                        Some(custos_pool::WebhookSettings::new(l, u, c, k))
                    }
                    _ => None,
                },
                page: match (page_listen, page_url, page_cert, page_key) {
                    (Some(listen), Some(origin), Some(cert_pem), Some(key_pem)) => {
                        Some(custos_pool::page::PageSettings {
                            listen,
                            origin,
                            cert_pem,
                            key_pem,
                        })
                    }
                    _ => None,
                },
            },
        ),
    }
}

fn signer(
    data_dir: &Path,
    workers: usize,
    confirm_expiry: Duration,
    link_expiry: Duration,
    page_url: Option<&str>,
    removal_delay: Duration,
    seal_args: &SealArgs,
) -> ExitCode {
    init_logging("signer");
    if let Err(e) = child::init_child(Role::Signer.process_name()) {
        return fail("signer", e);
    }
    let socket = match child::adopt_socket(fds::SIGNER_TO_BRIDGE) {
        Ok(s) => s,
        Err(e) => return fail("signer", e),
    };
    let view_key = match child::read_view_key(fds::SIGNER_VIEW_KEY) {
        Ok(k) => k,
        Err(e) => return fail("signer", e),
    };
    let (seal, attestor): (Box<dyn Seal>, _) = match open_seal(data_dir, seal_args) {
        Ok(s) => s,
        Err(e) => return fail("signer", e),
    };
    let policy = match custos_signer::Service::load_policy(data_dir) {
        Ok(p) => p,
        Err(e) => return fail("signer", e),
    };
    let confirm = custos_signer::confirm::ConfirmConfig {
        expiry: confirm_expiry,
        ..Default::default()
    };
    let service = match custos_signer::Service::start(seal.as_ref(), policy) {
        Ok(s) => s
            .with_view_key(view_key)
            .with_confirm_config(confirm)
            .with_link_expiry(link_expiry)
            .with_removal_delay(removal_delay),
        Err(e) => return fail("signer", e),
    };
    // After the unseal, which holds its own TPM connection while it runs (swtpm
    // serves one connection at a time).
    let service = match attestor {
        Some((device, event_log, version)) => {
            match custos_signer::tpm::Attestor::open(&device, event_log, Some(version)) {
                Ok(a) => service.with_attestor(a),
                Err(e) => return fail("signer", e),
            }
        }
        None => service,
    };
    let service = match page_url {
        Some(url) => match service.with_page(url) {
            Ok(s) => s,
            Err(e) => return fail("signer: --page-url", e),
        },
        None => service,
    };
    // The bot token is sealed in the data directory; without one, `confirm`
    // verdicts are refused (there is nobody to ask).
    let service = match service.load_bot_token(data_dir) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail("signer: the sealed Telegram bot token", e),
    };
    // Everything the signer reads is read: from here on it opens no file, creates no
    // socket and runs under its own uid in its own network namespace.
    if let Err(code) = confine(&custos_signer::confine::policy(Some(identity(
        Role::Signer,
    )))) {
        return code;
    }
    // Started after confinement, which must begin single-threaded; the filter allows
    // thread creation (clone with CLONE_THREAD) and what the thread does.
    if let Err(e) = custos_signer::Service::start_rerandomizer(
        &service,
        custos_signer::service::DEFAULT_RERANDOMIZE_EVERY,
    ) {
        return fail("signer: the key shield's re-randomizer", e);
    }
    tracing::info!(seal = seal.name(), workers, "signer ready");
    match custos_signer::process::serve(service, socket, workers) {
        Ok(()) | Err(custos_signer::process::ServeError::Closed) => ExitCode::SUCCESS,
        Err(e) => fail("signer", e),
    }
}

/// What the signer needs to serve attestation: the TPM, the event log, the image version.
type AttestSetup = (custos_signer::tpm::TpmDevice, Option<PathBuf>, u64);

/// The signer's seal, and with a TPM seal what attestation needs.
fn open_seal(
    data_dir: &Path,
    args: &SealArgs,
) -> Result<(Box<dyn Seal>, Option<AttestSetup>), String> {
    match args.seal {
        SealKind::Development => {
            let seal = DevSeal::in_data_dir(data_dir);
            eprintln!("{}", seal.warning());
            Ok((Box::new(seal), None))
        }
        SealKind::Tpm => {
            let device: custos_signer::tpm::TpmDevice =
                args.tpm.parse().map_err(|e| format!("--tpm: {e}"))?;
            let policy = args
                .image_policy
                .clone()
                .ok_or("--seal tpm needs --image-policy")?;
            let seal = custos_signer::tpm::seal::TpmSeal::new(device.clone(), data_dir, policy);
            let version = seal.policy_version().map_err(|e| e.to_string())?;
            Ok((
                Box::new(seal),
                Some((device, args.event_log.clone(), version)),
            ))
        }
    }
}

fn bridge(data_dir: PathBuf, listen: std::net::SocketAddr, threads: usize) -> ExitCode {
    init_logging("bridge");
    if let Err(e) = child::init_child(Role::Bridge.process_name()) {
        return fail("bridge", e);
    }
    let adopt = |fd| child::adopt_socket(fd).map_err(|e| e.to_string());
    let sockets = (|| {
        Ok::<_, String>((
            adopt(fds::BRIDGE_TO_SIGNER)?,
            adopt(fds::BRIDGE_TO_POOL)?,
            adopt(fds::BRIDGE_CONTROL)?,
        ))
    })();
    let (signer, pool, control) = match sockets {
        Ok(s) => s,
        Err(e) => return fail("bridge", e),
    };
    // Before the runtime starts its threads.
    let policy =
        custos_bridge::confine::policy(Some(identity(Role::Bridge)), &data_dir, listen.port());
    if let Err(code) = confine(&policy) {
        return code;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail("bridge runtime", e),
    };
    let result = rt.block_on(async move {
        let to = custos_supervisor::aio::into_tokio;
        custos_bridge::run(
            custos_bridge::Options { data_dir, listen },
            to(signer)?,
            to(pool)?,
            to(control)?,
        )
        .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("bridge", e),
    }
}

/// The pool's Telegram settings, as passed on its command line.
struct TelegramChild {
    api_url: String,
    ca_cert: Option<PathBuf>,
    rate_global: u32,
    rate_per_chat: u32,
    webhook: Option<custos_pool::WebhookSettings>,
    page: Option<custos_pool::page::PageSettings>,
}

fn pool(rpc_url: Option<&str>, rpc_ca_cert: Option<&Path>, telegram: TelegramChild) -> ExitCode {
    init_logging("pool");
    if let Err(e) = child::init_child(Role::Pool.process_name()) {
        return fail("pool", e);
    }
    let rpc = match rpc_url
        .map(|url| custos_pool::rpc::RpcClient::new(url, rpc_ca_cert))
        .transpose()
    {
        Ok(rpc) => rpc,
        Err(e) => return fail("pool", e),
    };
    match &rpc {
        Some(r) => tracing::info!(
            endpoint = r.endpoint(),
            "lookup tables from the Solana RPC endpoint"
        ),
        None => {
            tracing::info!("no Solana RPC endpoint: accounts behind lookup tables stay unresolved")
        }
    }
    let view_key = match child::read_view_key(fds::POOL_VIEW_KEY) {
        Ok(k) => k,
        Err(e) => return fail("pool", e),
    };
    let needs = pool_needs(rpc_url, &telegram);
    let settings = custos_pool::TelegramSettings {
        api_url: telegram.api_url,
        ca_cert: telegram.ca_cert,
        global_per_sec: f64::from(telegram.rate_global),
        per_chat_per_sec: f64::from(telegram.rate_per_chat),
        webhook: telegram.webhook,
        ..Default::default()
    };
    let service = custos_pool::Pool::new(rpc, view_key, settings);
    let sockets = child::adopt_socket(fds::POOL_TO_BRIDGE)
        .and_then(|b| Ok((b, child::adopt_socket(fds::POOL_CONTROL)?)));
    let (bridge, control) = match sockets {
        Ok(s) => s,
        Err(e) => return fail("pool", e),
    };
    // CA files are read (RpcClient and Pool read them when built); the certificates and
    // keys of its listeners are read later, and allowed by name. Before the runtime.
    if let Err(code) = confine(&custos_pool::confine::policy(
        Some(identity(Role::Pool)),
        &needs,
    )) {
        return code;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail("pool runtime", e),
    };
    let to = custos_supervisor::aio::into_tokio;
    rt.block_on(async move {
        match (to(bridge), to(control)) {
            (Ok(b), Ok(c)) => {
                if let Some(page) = &telegram.page {
                    if let Err(e) = service.serve_page(page).await {
                        return fail("pool: the Custos page", e);
                    }
                }
                custos_pool::run(b, c, service).await;
                ExitCode::SUCCESS
            }
            (Err(e), _) | (_, Err(e)) => fail("pool", e),
        }
    })
}

/// What the pool's confinement must leave open: its listeners' certificate and key files
/// and ports, and the ports of the endpoints it calls.
fn pool_needs(rpc_url: Option<&str>, telegram: &TelegramChild) -> custos_pool::confine::PoolNeeds {
    let mut needs = custos_pool::confine::PoolNeeds::default();
    if let Some(page) = &telegram.page {
        needs
            .files
            .extend([page.cert_pem.clone(), page.key_pem.clone()]);
        needs.listen_ports.push(page.listen.port());
    }
    if let Some(hook) = &telegram.webhook {
        needs
            .files
            .extend([hook.cert_pem.clone(), hook.key_pem.clone()]);
        needs.listen_ports.push(hook.listen.port());
    }
    needs.connect_ports.extend(
        [Some(telegram.api_url.as_str()), rpc_url]
            .into_iter()
            .flatten()
            .filter_map(https_port),
    );
    needs
}

/// The port of an `https://` URL (443 unless given).
fn https_port(url: &str) -> Option<u16> {
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    url.port_or_known_default()
}

/// Preparing the data directory for children that run under their own uids.
mod roles {
    use super::{identity, Role};
    use std::os::unix::fs::{chown, PermissionsExt};
    use std::path::{Path, PathBuf};

    /// Files and directories in the data directory that belong to the bridge.
    const BRIDGE_OWNED: &[&str] = &[
        "custos.sqlite3",
        "custos.sqlite3-journal",
        "custos.sqlite3-wal",
        "custos.sqlite3-shm",
        custos_bridge::devpki::TLS_DIR,
    ];

    /// Where copies of the pool's certificate and key files go when root.
    const POOL_DIR: &str = "pool";

    /// Creates the bridge's run directory; as root, also hands the bridge its files and a
    /// directory it can create files in, and keeps everything else from it:
    ///
    /// * the data directory: owner root, group the bridge's, mode 01771 (the bridge creates
    ///   its store's journal files; the sticky bit stops it renaming or deleting files it
    ///   does not own; others may only traverse, to reach the pool's directory);
    /// * the store, `tls/` and `run/`: owned by the bridge, no group or other access (the
    ///   bridge's umask keeps new files so);
    /// * every other entry: owner root, no group or other access (the signer reads them
    ///   as root before it drops its uid).
    pub(super) fn prepare_data_dir(dir: &Path, root: bool) -> Result<(), String> {
        let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
        let run = dir.join(custos_bridge::API_ADDR_FILE);
        let run = run.parent().unwrap_or(dir);
        std::fs::create_dir_all(run).map_err(|e| io(run, e))?;
        if !root {
            return Ok(());
        }
        // The bridge (and the pool, for its copies) open paths below the data directory
        // under their own uids: every directory above it must let them through.
        for above in dir.ancestors().skip(1) {
            let mode = std::fs::metadata(above)
                .map_err(|e| io(above, e))?
                .permissions()
                .mode();
            if mode & 0o001 == 0 {
                return Err(format!(
                    "{} is not searchable by other users (mode {:o}); the bridge and the pool run \
                     under their own uids and must reach the data directory through it \
                     (chmod o+x it, or choose a data directory elsewhere)",
                    above.display(),
                    mode & 0o7777
                ));
            }
        }
        let bridge = identity(Role::Bridge);
        chown(dir, Some(0), Some(bridge.gid)).map_err(|e| io(dir, e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1771))
            .map_err(|e| io(dir, e))?;
        let run_name = run.strip_prefix(dir).unwrap_or(run).to_owned();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let bridge_owned = BRIDGE_OWNED.iter().any(|n| name == *n) || name == run_name;
            if bridge_owned {
                chown_tree(&path, bridge.uid, bridge.gid).map_err(|e| io(&path, e))?;
            } else if name != POOL_DIR {
                let meta = std::fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
                if meta.file_type().is_symlink() {
                    continue;
                }
                chown(&path, Some(0), Some(0)).map_err(|e| io(&path, e))?;
                let mode = meta.permissions().mode() & 0o7700;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| io(&path, e))?;
            }
        }
        // The pool's copies are made afresh at each start.
        let pool = dir.join(POOL_DIR);
        match std::fs::remove_dir_all(&pool) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&pool, e)),
        }
        Ok(())
    }

    fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        chown(path, Some(uid), Some(gid))?;
        // Its owner's only (files an older version or a non-root run created 0644).
        let mode = meta.permissions().mode() & 0o7700;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)? {
                chown_tree(&entry?.path(), uid, gid)?;
            }
        }
        Ok(())
    }

    /// A path to `file` the pool can read under its own uid: as root, a copy in the
    /// data directory's `pool/` (owned by the pool, mode 0400; the original may sit where
    /// only root can read, such as the bridge's `tls/`); otherwise `file` itself.
    pub(super) fn pool_readable(dir: &Path, file: &Path, root: bool) -> Result<PathBuf, String> {
        if !root {
            return Ok(file.to_owned());
        }
        let pool = identity(Role::Pool);
        let staged = dir.join(POOL_DIR);
        let err = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
        if !staged.exists() {
            std::fs::create_dir(&staged).map_err(|e| err(&staged, e))?;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o500))
                .map_err(|e| err(&staged, e))?;
            chown(&staged, Some(pool.uid), Some(pool.gid)).map_err(|e| err(&staged, e))?;
        }
        // Distinct names even when two files share a base name.
        let n = std::fs::read_dir(&staged)
            .map_err(|e| err(&staged, e))?
            .count();
        let name = file
            .file_name()
            .map(|f| format!("{n}-{}", f.to_string_lossy()))
            .ok_or_else(|| format!("{}: not a file", file.display()))?;
        let copy = staged.join(name);
        std::fs::copy(file, &copy).map_err(|e| err(file, e))?;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o400))
            .map_err(|e| err(&copy, e))?;
        chown(&copy, Some(pool.uid), Some(pool.gid)).map_err(|e| err(&copy, e))?;
        Ok(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::https_port;

    #[test]
    fn https_ports_of_endpoints() {
        assert_eq!(https_port("https://api.telegram.org"), Some(443));
        assert_eq!(https_port("https://127.0.0.1:8443/bot"), Some(8443));
        assert_eq!(https_port("https://[::1]:9000"), Some(9000));
        assert_eq!(https_port("https://[::1]/x"), Some(443));
        assert_eq!(https_port("https://user:pw@host/x"), Some(443));
        assert_eq!(https_port("http://host:80"), None);
    }
}
