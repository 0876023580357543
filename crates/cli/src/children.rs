//! `custos serve` and the entry points of the three child processes.

use clap::Subcommand;
use custos_crypto::seal::{DevSeal, Seal};
use custos_supervisor::{child, fds, supervisor, Role};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The hidden `__child` subcommands.
#[derive(Subcommand, Debug)]
pub enum ChildRole {
    /// The signer.
    Signer {
        #[arg(long)]
        data_dir: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
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
    },
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

/// `custos serve`: prepares the data directory and runs the supervisor.
pub fn serve(
    data_dir: &Path,
    listen: std::net::SocketAddr,
    signer_workers: u16,
    bridge_threads: Option<u16>,
    rpc: Rpc,
) -> ExitCode {
    init_logging("supervisor");
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
        ],
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
        ChildRole::Signer { data_dir, workers } => signer(&data_dir, workers),
        ChildRole::Bridge {
            data_dir,
            listen,
            threads,
        } => bridge(data_dir, listen, threads.max(1)),
        ChildRole::Pool {
            data_dir: _,
            rpc_url,
            rpc_ca_cert,
        } => pool(rpc_url.as_deref(), rpc_ca_cert.as_deref()),
    }
}

fn signer(data_dir: &Path, workers: usize) -> ExitCode {
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
    let seal = DevSeal::in_data_dir(data_dir);
    if !seal.is_secure() {
        eprintln!("{}", seal.warning());
    }
    let policy = match custos_signer::Service::load_policy(data_dir) {
        Ok(p) => p,
        Err(e) => return fail("signer", e),
    };
    let service = match custos_signer::Service::start(&seal, policy) {
        Ok(s) => Arc::new(s.with_view_key(view_key)),
        Err(e) => return fail("signer", e),
    };
    tracing::info!(seal = seal.name(), workers, "signer ready");
    match custos_signer::process::serve(service, socket, workers) {
        Ok(()) | Err(custos_signer::process::ServeError::Closed) => ExitCode::SUCCESS,
        Err(e) => fail("signer", e),
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

fn pool(rpc_url: Option<&str>, rpc_ca_cert: Option<&Path>) -> ExitCode {
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
    let service = Arc::new(custos_pool::LookupService::new(rpc, Some(view_key)));
    let sockets = child::adopt_socket(fds::POOL_TO_BRIDGE)
        .and_then(|b| Ok((b, child::adopt_socket(fds::POOL_CONTROL)?)));
    let (bridge, control) = match sockets {
        Ok(s) => s,
        Err(e) => return fail("pool", e),
    };
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
                custos_pool::run(b, c, service).await;
                ExitCode::SUCCESS
            }
            (Err(e), _) | (_, Err(e)) => fail("pool", e),
        }
    })
}
