//! Open-loop latency: SignTransaction calls (unary, or requests on
//! long-lived SignTransactionStream streams) sent on a fixed schedule,
//! each timed from the moment it was *scheduled* to be sent, so a slow
//! server cannot hide its queueing delay by slowing the generator down
//! (no coordinated omission).

use crate::conn::status_error;
use crate::workload::{Stats, Workload};
use custos_api::v1::custos_client::CustosClient;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// How requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One unary SignTransaction call per request.
    Unary,
    /// Requests on one long-lived SignTransactionStream per connection.
    Stream,
}

impl Mode {
    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Unary => "unary",
            Mode::Stream => "stream",
        }
    }
}

/// Parameters of a latency run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Unary calls or streams.
    pub mode: Mode,
    /// Target request rate per second.
    pub rate: f64,
    /// Measured window.
    pub duration: Duration,
    /// Unmeasured run-in at the same rate before the window.
    pub warmup: Duration,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// Number of values.
    pub count: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        Self {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
            count: h.len(),
        }
    }
}

/// Result of a latency run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The requested rate.
    pub target_rate: f64,
    /// Responses completed per second during the measured window.
    pub achieved_rate: f64,
    /// Requests scheduled in the measured window.
    pub sent: u64,
    /// Scheduled-send to response, for requests scheduled in the window, µs.
    pub latency: Percentiles,
    /// How late the generator itself dispatched requests (a floor on the
    /// measured latency that is the generator's, not the server's), µs.
    pub dispatch_lag: Percentiles,
    /// Errors over the whole run.
    pub errors: u64,
    /// A few distinct error messages.
    pub error_samples: Vec<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Runs a fixed-rate schedule over `clients` (round robin) and reports.
pub async fn run(
    clients: &[CustosClient<Channel>],
    workload: Arc<Workload>,
    p: &Params,
) -> Result<Report, String> {
    if !(p.rate.is_finite() && p.rate > 0.0) {
        return Err(format!("--rate must be a positive number, got {}", p.rate));
    }
    let stats = Arc::new(Stats::default());
    let latency = Arc::new(Mutex::new(histogram()));
    let completed = Arc::new(AtomicU64::new(0));
    let outstanding = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Handle::current();
    let clients: Vec<_> = clients.to_vec();
    let start = Instant::now() + Duration::from_millis(20);
    let window_start = start + p.warmup;
    let end = window_start + p.duration;
    let interval = 1.0 / p.rate;

    // Stream mode: one stream per connection; the pacer hands requests to it
    // and a reader per stream matches answers to their scheduled times.
    type Scheduled = Arc<Mutex<std::collections::HashMap<u64, (Instant, bool)>>>;
    let scheduled_at: Scheduled = Arc::default();
    let mut stream_senders = Vec::new();
    let mut readers = Vec::new();
    if p.mode == Mode::Stream {
        for client in &clients {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let mut client = client.clone();
            let mut responses = client
                .sign_transaction_stream(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
                .await
                .map_err(|s| format!("SignTransactionStream failed: {}", status_error(&s)))?
                .into_inner();
            let (stats, latency, completed, outstanding, scheduled_at) = (
                Arc::clone(&stats),
                Arc::clone(&latency),
                Arc::clone(&completed),
                Arc::clone(&outstanding),
                Arc::clone(&scheduled_at),
            );
            readers.push(tokio::spawn(async move {
                loop {
                    match responses.message().await {
                        Ok(Some(resp)) => {
                            let at = scheduled_at
                                .lock()
                                .ok()
                                .and_then(|mut m| m.remove(&resp.request_id));
                            stats.record(&resp);
                            if let Some((at, true)) = at {
                                if let Ok(mut h) = latency.lock() {
                                    h.saturating_record(micros(at.elapsed()));
                                }
                            }
                            completed.fetch_add(1, Ordering::Relaxed);
                            outstanding.fetch_sub(1, Ordering::Relaxed);
                        }
                        Ok(None) => break,
                        Err(s) => {
                            stats.error(format!("stream failed: {}", status_error(&s)));
                            break;
                        }
                    }
                }
            }));
            stream_senders.push(tx);
        }
    }

    // The pacer is an OS thread: tokio's timer has 1 ms granularity, which
    // would turn a 5,000/s schedule into bursts of five and charge the
    // server for up to 1 ms of the generator's own lateness.
    let pacer = {
        let (stats, latency, completed, outstanding) = (
            Arc::clone(&stats),
            Arc::clone(&latency),
            Arc::clone(&completed),
            Arc::clone(&outstanding),
        );
        let scheduled_at = Arc::clone(&scheduled_at);
        let mode = p.mode;
        std::thread::Builder::new()
            .name("loadgen-pacer".into())
            .spawn(move || {
                let mut lag = histogram();
                let mut sent_in_window = 0u64;
                for i in 0u64.. {
                    let scheduled = start + Duration::from_secs_f64(i as f64 * interval);
                    if scheduled >= end {
                        break;
                    }
                    let now = Instant::now();
                    if scheduled > now {
                        std::thread::sleep(scheduled - now);
                    }
                    let measured = scheduled >= window_start;
                    if measured {
                        sent_in_window += 1;
                        lag.saturating_record(micros(scheduled.elapsed()));
                    }
                    let req = workload.next_request();
                    if mode == Mode::Stream {
                        if let Ok(mut m) = scheduled_at.lock() {
                            m.insert(req.request_id, (scheduled, measured));
                        }
                        outstanding.fetch_add(1, Ordering::Relaxed);
                        if stream_senders[i as usize % stream_senders.len()]
                            .send(req)
                            .is_err()
                        {
                            stats.error("a stream closed early".into());
                            outstanding.fetch_sub(1, Ordering::Relaxed);
                        }
                        continue;
                    }
                    let mut client = clients[i as usize % clients.len()].clone();
                    let (stats, latency, completed, outstanding) = (
                        Arc::clone(&stats),
                        Arc::clone(&latency),
                        Arc::clone(&completed),
                        Arc::clone(&outstanding),
                    );
                    outstanding.fetch_add(1, Ordering::Relaxed);
                    runtime.spawn(async move {
                        let result = client.sign_transaction(req).await;
                        let took = scheduled.elapsed();
                        match result {
                            Ok(resp) => stats.record(&resp.into_inner()),
                            Err(s) => {
                                stats.error(format!("SignTransaction failed: {}", status_error(&s)))
                            }
                        }
                        if measured {
                            if let Ok(mut h) = latency.lock() {
                                h.saturating_record(micros(took));
                            }
                        }
                        completed.fetch_add(1, Ordering::Relaxed);
                        outstanding.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                (sent_in_window, lag)
            })
            .map_err(|e| format!("cannot start the pacer thread: {e}"))?
    };

    tokio::time::sleep_until(window_start.into()).await;
    let (t0, c0) = (Instant::now(), completed.load(Ordering::Relaxed));
    tokio::time::sleep_until(end.into()).await;
    let (t1, c1) = (Instant::now(), completed.load(Ordering::Relaxed));
    let (sent, lag) = tokio::task::spawn_blocking(move || pacer.join())
        .await
        .map_err(|e| format!("pacer task failed: {e}"))?
        .map_err(|_| "pacer thread panicked".to_owned())?;

    // Wait for the stragglers: their latency counts.
    let deadline = Instant::now() + Duration::from_secs(30);
    while outstanding.load(Ordering::Relaxed) > 0 {
        if Instant::now() > deadline {
            stats.error(format!(
                "{} requests still unanswered 30 s after the run ended",
                outstanding.load(Ordering::Relaxed)
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Closing the request streams lets the readers finish.
    for r in readers {
        r.abort();
    }
    let latency = latency
        .lock()
        .map(|h| Percentiles::of(&h))
        .unwrap_or_default();
    Ok(Report {
        target_rate: p.rate,
        achieved_rate: (c1 - c0) as f64 / (t1 - t0).as_secs_f64(),
        sent,
        latency,
        dispatch_lag: Percentiles::of(&lag),
        errors: stats.errors(),
        error_samples: stats.samples(),
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
