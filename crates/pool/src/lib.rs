//! The Custos pool process.
//!
//! The pool is the process that talks to the outside world on Custos's behalf:
//!
//! * it answers the supervisor's health checks on its control socket (fd 4);
//! * it serves the bridge's requests on its bridge socket (fd 3):
//!   - the contents of address lookup tables, read from the configured Solana
//!     RPC endpoint ([`rpc`], strict account parsing in [`alt`]) and cached
//!     ([`cache`]), so the signer can resolve the accounts a v0 transaction
//!     loads through tables from Custos's own view of the chain. Without an
//!     endpoint it answers [`PoolResponse::NotConfigured`] and those accounts
//!     stay unresolved (foreign);
//!   - the signer bot's Telegram client ([`relay`], on the library in
//!     [`telegram`]): sealed messages from the signer go out to Telegram
//!     (confirmations with Approve / Reject buttons, edits and notices with a URL
//!     button to the Custos page, answers, photos, deletions), and presses,
//!     `/start` links and other private texts come back as sealed events, each
//!     Telegram update confirmed only once the bridge acknowledged its events
//!     ([`events`]);
//! * it serves the Custos page over HTTPS ([`page`], started by
//!   [`Pool::serve_page`]): passkey registration, approvals and key export in the
//!   user's browser, its API relayed sealed to the signer, whose answers come back as
//!   page replies.
//!
//! Requests are served concurrently (at most [`MAX_IN_FLIGHT`] at once; the bridge
//! waits beyond that) and answered by id, possibly out of order.
//!
//! The process entry point: build a [`Pool`] with [`Pool::new`] and serve it with
//! [`run`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alt;
pub mod cache;
pub mod confine;
pub mod events;
pub mod page;
pub mod relay;
pub mod rpc;
pub mod telegram;

pub use relay::{Pool, TelegramSettings, WebhookSettings};

use cache::TableCache;
use custos_ipc::control::{ComponentHealth, ControlRequest, ControlResponse};
use custos_ipc::pool::{
    PoolRefusal, PoolRequest, PoolResponse, TableOutcome, TableResult, ViewKey,
};
use custos_ipc::{Envelope, FrameError};
use custos_supervisor::aio;
use rpc::RpcClient;
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, Semaphore};

/// Bridge requests being served at once.
pub const MAX_IN_FLIGHT: usize = 256;

/// Lookup tables from the chain: the RPC client and its cache, if configured.
pub struct LookupService {
    chain: Option<(RpcClient, TableCache)>,
    /// Authenticates answers to the signer (absent in tests of the cache alone: the
    /// signer then ignores the contents).
    view_key: Option<ViewKey>,
}

impl LookupService {
    /// A service reading tables through `rpc`, or answering
    /// [`PoolResponse::NotConfigured`] without one.
    pub fn new(rpc: Option<RpcClient>, view_key: Option<ViewKey>) -> Self {
        Self {
            chain: rpc.map(|r| (r, TableCache::default())),
            view_key,
        }
    }

    /// Serves one request.
    pub async fn handle(&self, request: PoolRequest) -> PoolResponse {
        if let Err(refusal) = request.validate() {
            tracing::warn!(%refusal, "refused a bridge request");
            return PoolResponse::Refused(refusal);
        }
        let PoolRequest::LookupTables(queries) = request else {
            // Telegram requests are served by the `Pool`; a lookup service alone
            // has no Telegram client.
            return PoolResponse::Refused(PoolRefusal::TelegramNotConfigured);
        };
        let Some((rpc, cache)) = &self.chain else {
            return PoolResponse::NotConfigured;
        };
        let results = futures::future::join_all(queries.into_iter().map(|q| async move {
            let outcome = cache
                .get(q.table, usize::from(q.entries_needed), || {
                    rpc.fetch_table(&q.table)
                })
                .await;
            // The tag lets the signer check that the bridge passed the entries on
            // unaltered.
            let tag = match (&outcome, &self.view_key) {
                (TableOutcome::Found(entries), Some(key)) => Some(key.table_tag(&q.table, entries)),
                _ => None,
            };
            TableResult {
                table: q.table,
                outcome,
                tag,
            }
        }))
        .await;
        PoolResponse::LookupTables(results)
    }

    /// One line for the health report.
    pub fn describe(&self) -> String {
        match &self.chain {
            Some((rpc, cache)) => format!(
                "lookup tables from {} ({} cached, {} rpc calls)",
                rpc.endpoint(),
                cache.len(),
                rpc.calls_made()
            ),
            None => "no Solana RPC configured: looked-up accounts stay unresolved".into(),
        }
    }
}

/// What [`run`] serves: a [`Pool`] (the process), or a [`LookupService`] alone
/// (which refuses Telegram requests).
pub trait BridgeService: Send + Sync + 'static {
    /// Serves one bridge request.
    fn handle(&self, request: PoolRequest) -> impl Future<Output = PoolResponse> + Send;
    /// One line for the health report.
    fn describe(&self) -> String;
}

impl BridgeService for LookupService {
    async fn handle(&self, request: PoolRequest) -> PoolResponse {
        LookupService::handle(self, request).await
    }

    fn describe(&self) -> String {
        format!(
            "{}; telegram client not configured",
            LookupService::describe(self)
        )
    }
}

/// Runs the pool until the supervisor or the bridge hangs up.
pub async fn run<S: BridgeService>(bridge: UnixStream, mut control: UnixStream, service: Arc<S>) {
    let (read_half, write_half) = bridge.into_split();
    let (tx, mut rx) = mpsc::channel::<Envelope<PoolResponse>>(MAX_IN_FLIGHT);

    // Answers go out through one writer, flushed once per burst.
    let writer = tokio::spawn(async move {
        let mut w = BufWriter::with_capacity(64 * 1024, write_half);
        while let Some(first) = rx.recv().await {
            if aio::write_frame(&mut w, &first).await.is_err() {
                return;
            }
            while let Ok(more) = rx.try_recv() {
                if aio::write_frame(&mut w, &more).await.is_err() {
                    return;
                }
            }
            if w.flush().await.is_err() {
                return;
            }
        }
    });

    // Requests are read by one task and served by one task each.
    let served = Arc::clone(&service);
    let reader = tokio::spawn(async move {
        let mut r = BufReader::with_capacity(64 * 1024, read_half);
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let Envelope { id, body } =
                match aio::read_frame::<Envelope<PoolRequest>, _>(&mut r).await {
                    Ok(e) => e,
                    Err(FrameError::Closed) => {
                        tracing::info!("bridge closed its socket; exiting");
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "bad frame from the bridge; exiting");
                        return;
                    }
                };
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let (service, tx) = (Arc::clone(&served), tx.clone());
            tokio::spawn(async move {
                let body = service.handle(body).await;
                let _ = tx.send(Envelope { id, body }).await;
                drop(permit);
            });
        }
    });

    let control_loop = async {
        loop {
            match aio::read_frame::<Envelope<ControlRequest>, _>(&mut control).await {
                Ok(Envelope {
                    id,
                    body: ControlRequest::Health,
                }) => {
                    let body = ControlResponse::Health(ComponentHealth {
                        component: "pool".into(),
                        ok: true,
                        detail: service.describe(),
                    });
                    if aio::write_frame(&mut control, &Envelope { id, body })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::info!(reason = %e, "control channel closed; exiting");
                    return;
                }
            }
        }
    };

    // Each branch is a whole loop (or a task), so no frame is ever cut in half.
    tokio::select! {
        _ = control_loop => {}
        _ = reader => {}
        _ = writer => { tracing::info!("bridge socket closed for writing; exiting"); }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_ipc::pool::{PoolRefusal, TableQuery};

    #[test]
    fn without_rpc_the_answer_is_not_configured_and_limits_come_first() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let service = LookupService::new(None, None);
            let q = |n: u8| TableQuery {
                table: [n; 32],
                entries_needed: 1,
            };
            assert_eq!(
                service.handle(PoolRequest::LookupTables(vec![q(1)])).await,
                PoolResponse::NotConfigured
            );
            assert_eq!(
                service
                    .handle(PoolRequest::LookupTables(vec![q(1), q(1)]))
                    .await,
                PoolResponse::Refused(PoolRefusal::DuplicateTable)
            );
            assert!(service.describe().contains("no Solana RPC"));
        });
    }
}
