//! The Custos bridge.
//!
//! The bridge is the network-facing half of Custos. It serves the gRPC API to
//! the bot backend over mutual TLS ([`api`]), keeps sealed records in the
//! store, and relays requests to the signer over its socket pair
//! ([`signer_link`]). Before a v0 transaction goes to the signer, it asks the pool
//! ([`pool_link`]) for the contents of the lookup tables the transaction uses, as
//! read from the chain ([`tables`]).
//!
//! For Telegram confirmations (issue 4) it relays sealed messages between the signer
//! and the pool ([`relay`]), which it can neither read nor forge, stores the links
//! and decisions the signer reports, and serves `AwaitDecision`, `CreateLink` and
//! `GetLink`.
//!
//! It never holds key material: records are sealed by the signer and only the
//! signer can open or authenticate them, so a compromised bridge cannot sign,
//! export or re-bind a wallet. The lookup table contents it relays from the pool
//! carry the pool's tag under the view key, and the Telegram messages it relays are
//! sealed between the signer and the pool: a compromised bridge can drop or delay
//! them (confirmations then fail closed) but not read, forge or replay them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod confine;
pub mod control;
pub mod devpki;
pub mod link;
pub mod pool_link;
pub mod relay;
pub mod signer_link;
pub mod tables;
#[cfg(test)]
mod testing;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the bridge publishes the address the API listens on, inside the data dir.
pub use custos_api::client::API_ADDR_FILE;

/// Bridge settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The data directory (store, TLS material, run files).
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
}

/// Why the bridge stopped.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] custos_store::StoreError),
    /// TLS material could not be loaded.
    #[error(transparent)]
    Pki(#[from] devpki::PkiError),
    /// The API server failed.
    #[error("api server: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The signer did not answer at start-up.
    #[error("signer: {0}")]
    Signer(#[from] signer_link::LinkError),
    /// Other I/O.
    #[error("bridge i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the bridge until the API server stops or a peer hangs up.
pub async fn run(
    options: Options,
    signer: tokio::net::UnixStream,
    pool: tokio::net::UnixStream,
    control: tokio::net::UnixStream,
) -> Result<(), BridgeError> {
    let store_path = options.data_dir.join("custos.sqlite3");
    let store: Arc<dyn custos_store::Store> = {
        let path = store_path.clone();
        Arc::new(
            tokio::task::spawn_blocking(move || custos_store::SqliteStore::open(&path))
                .await
                .map_err(std::io::Error::other)??,
        )
    };
    // Confirmations live in the signer's memory: any still pending were lost with the
    // previous process. Fail them (never approve) before anyone can ask.
    {
        let store = Arc::clone(&store);
        let failed = tokio::task::spawn_blocking(move || {
            store.fail_all_pending(api::RESTART_REASON, api::now())
        })
        .await
        .map_err(std::io::Error::other)??;
        if failed > 0 {
            tracing::warn!(
                failed,
                "confirmations pending at the last stop were marked failed (nothing was signed)"
            );
        }
    }
    let link = signer_link::SignerLink::start(signer);
    // The signer must be up (master key unsealed) before we accept requests.
    let health = link.health().await?;
    tracing::info!(seal = %health.seal, secure = health.seal_secure, "signer is up");

    // Telegram: hand the pool its sealed configuration before any signing request can
    // produce a confirmation message, then relay events and ticks.
    let pool = pool_link::PoolLink::start(pool);
    let decisions = Arc::new(relay::Decisions::new());
    let relay = relay::Relay::new(
        link.clone(),
        pool.clone(),
        Arc::clone(&store),
        Arc::clone(&decisions),
    );
    relay.load_security_records().await?;
    if relay.start_pool().await? {
        tokio::spawn(relay.clone().run_events());
        tokio::spawn(relay.run_ticks());
    }

    let tls = devpki::ServerTls::load(&options.data_dir)?;
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let local = listener.local_addr()?;
    write_addr_file(&options.data_dir, local)?;
    tracing::info!(%local, "API listening (gRPC, mutual TLS)");

    let state = api::Api::new(
        Arc::clone(&store),
        link.clone(),
        pool,
        Arc::clone(&decisions),
    );
    let status = control::Status::new(store, link, local);
    tokio::spawn(control::serve(control, status));
    // SIGTERM from the supervisor: stop accepting, finish what is in flight.
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown = async move {
        sigterm.recv().await;
        tracing::info!("SIGTERM: draining requests in flight");
        // Waiting AwaitDecision calls answer with what is stored now.
        decisions.close();
    };
    api::serve(state, tls, listener, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

fn write_addr_file(data_dir: &std::path::Path, addr: SocketAddr) -> std::io::Result<()> {
    let path = data_dir.join(API_ADDR_FILE);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, &path)
}
