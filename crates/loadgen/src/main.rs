//! `custos-loadgen`: benchmark driver for a running Custos.
//!
//! Drives auto-signable SOL transfers through the gRPC API (with mutual TLS,
//! exactly as a bot backend would) and reports signatures per second,
//! open-loop latency percentiles, and a single-thread raw Ed25519 baseline
//! to compare them with. See `BENCHMARKS.md` at the repository root.
//!
//! Exit status: 0 on success, 1 when the run could not be done (no server,
//! bad TLS material, ...), 2 for usage errors, 3 when the run completed but
//! some requests were not SIGNED.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod latency;
mod raw;
mod throughput;
mod tx;
mod workload;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use throughput::Mode;
use workload::Workload;

/// Exit status when the run could not be carried out.
const EXIT_FAILED: u8 = 1;
/// Exit status when the run completed but some requests failed.
const EXIT_REQUEST_ERRORS: u8 = 3;

/// Load generator and benchmark driver for the Custos gRPC API.
#[derive(Debug, Parser)]
#[command(name = "custos-loadgen", version, about)]
struct Cli {
    /// Data directory of the running server (`custos serve --data-dir`):
    /// the API address and the client TLS material are read from it.
    #[arg(long, global = true, default_value = "./custos-data")]
    data_dir: PathBuf,
    /// Print one machine-readable JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Worker threads of the load generator's async runtime.
    #[arg(long, global = true, default_value_t = 2)]
    client_threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Closed loop: keep requests in flight and count signatures per second.
    Throughput(ThroughputArgs),
    /// Open loop: fixed-rate unary calls; latency percentiles.
    Latency(LatencyArgs),
    /// Baseline: ed25519-dalek signing of the same messages on one thread.
    Raw(RawArgs),
    /// raw, then throughput, then latency at a fraction of the measured throughput.
    All(AllArgs),
}

#[derive(Debug, Args, Clone)]
struct LoadArgs {
    /// Measured time (e.g. 10s, 500ms, 1m).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    duration: Duration,
    /// Unmeasured run-in before the measured time.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    warmup: Duration,
    /// TCP/TLS connections (HTTP/2 sessions) to spread the load over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

#[derive(Debug, Args, Clone)]
struct ThroughputArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// How transactions are carried.
    #[arg(long, value_enum, default_value_t = Mode::Stream)]
    mode: Mode,
    /// Transactions per SignTransactionBatch call (batch mode, at most 1024).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Requests in flight in total, over all connections.
    #[arg(long, default_value_t = 512)]
    in_flight: usize,
}

#[derive(Debug, Args, Clone)]
struct LatencyArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Requests per second (all connections together).
    #[arg(long)]
    rate: f64,
    /// Unary calls, or requests on one long-lived stream per connection.
    #[arg(long, value_enum, default_value = "stream")]
    latency_mode: latency::Mode,
}

#[derive(Debug, Args, Clone)]
struct RawArgs {
    /// Measured time.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    duration: Duration,
}

#[derive(Debug, Args, Clone)]
struct AllArgs {
    #[command(flatten)]
    throughput: ThroughputArgs,
    /// Latency is measured at this fraction of the measured throughput.
    #[arg(long, default_value_t = 0.5)]
    latency_load: f64,
    /// Measured time of the raw baseline.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    raw_duration: Duration,
}

/// Parses `10s`, `500ms`, `2m`, `1.5s` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (try 10s, 500ms, 1m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(format!("unknown unit '{unit}' in '{s}' (use ms, s or m)")),
    };
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(format!("'{s}' is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(&cli)) {
        Ok(Outcome { text, json, errors }) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                );
            } else {
                print!("{text}");
            }
            if errors > 0 {
                eprintln!("custos-loadgen: {errors} requests were not signed");
                ExitCode::from(EXIT_REQUEST_ERRORS)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(e),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("custos-loadgen: error: {message}");
    ExitCode::from(EXIT_FAILED)
}

/// What a subcommand produced.
struct Outcome {
    text: String,
    json: Value,
    errors: u64,
}

async fn run(cli: &Cli) -> Result<Outcome, String> {
    match &cli.command {
        Command::Raw(a) => {
            let r = raw::run(a.duration);
            Ok(Outcome {
                text: format!("{}\n", raw_text(&r)),
                json: json!({ "machine": machine(), "raw": raw_json(&r) }),
                errors: 0,
            })
        }
        Command::Throughput(a) => {
            let (clients, workload) = setup(&cli.data_dir, a.load.connections).await?;
            let who = workload_json(&workload);
            let r = throughput::run(&clients, workload, &throughput_params(a)).await?;
            Ok(Outcome {
                text: format!("{}\n", throughput_text(a, &r)),
                json: json!({ "machine": machine(), "workload": who, "throughput": throughput_json(a, &r) }),
                errors: r.errors,
            })
        }
        Command::Latency(a) => {
            let (clients, workload) = setup(&cli.data_dir, a.load.connections).await?;
            let who = workload_json(&workload);
            let r = latency::run(&clients, workload, &latency_params(a)).await?;
            Ok(Outcome {
                text: format!("{}\n", latency_text(a, &r)),
                json: json!({ "machine": machine(), "workload": who, "latency": latency_json(a, &r) }),
                errors: r.errors,
            })
        }
        Command::All(a) => all(cli, a).await,
    }
}

async fn all(cli: &Cli, a: &AllArgs) -> Result<Outcome, String> {
    // Connect first, so a missing server fails fast, before the raw phase.
    let (clients, workload) = setup(&cli.data_dir, a.throughput.load.connections).await?;
    if !cli.json {
        eprintln!(
            "[1/3] raw ed25519-dalek baseline ({:?}) ...",
            a.raw_duration
        );
    }
    let who = workload_json(&workload);
    let raw = raw::run(a.raw_duration);
    if !cli.json {
        eprintln!(
            "[2/3] throughput, {} mode ({:?} + {:?} warm-up) ...",
            a.throughput.mode.name(),
            a.throughput.load.duration,
            a.throughput.load.warmup
        );
    }
    let tp = throughput::run(
        &clients,
        Arc::clone(&workload),
        &throughput_params(&a.throughput),
    )
    .await?;
    let lat_args = LatencyArgs {
        load: a.throughput.load.clone(),
        rate: (tp.signatures_per_sec * a.latency_load).max(1.0).round(),
        latency_mode: latency::Mode::Stream,
    };
    if !cli.json {
        eprintln!(
            "[3/4] open-loop latency at {:.0}/s, stream ...",
            lat_args.rate
        );
    }
    let lat = latency::run(&clients, Arc::clone(&workload), &latency_params(&lat_args)).await?;
    let unary_args = LatencyArgs {
        latency_mode: latency::Mode::Unary,
        ..lat_args.clone()
    };
    if !cli.json {
        eprintln!(
            "[4/4] open-loop latency at {:.0}/s, unary ...",
            unary_args.rate
        );
    }
    let unary = latency::run(&clients, workload, &latency_params(&unary_args)).await?;
    let ratio = tp.signatures_per_sec / raw.signatures_per_sec;
    let text = format!(
        "{}\n{}\n{}\n{}\nratio throughput/raw: {:.3} (API signatures/s over single-thread ed25519-dalek signatures/s)\n",
        raw_text(&raw),
        throughput_text(&a.throughput, &tp),
        latency_text(&lat_args, &lat),
        latency_text(&unary_args, &unary),
        ratio
    );
    Ok(Outcome {
        text,
        json: json!({
            "machine": machine(),
            "workload": who,
            "raw": raw_json(&raw),
            "throughput": throughput_json(&a.throughput, &tp),
            "latency": latency_json(&lat_args, &lat),
            "latency_unary": latency_json(&unary_args, &unary),
            "latency_load_fraction": a.latency_load,
            "ratio_throughput_to_raw": ratio,
        }),
        errors: tp.errors + lat.errors,
    })
}

async fn setup(
    data_dir: &Path,
    connections: usize,
) -> Result<
    (
        Vec<custos_api::v1::custos_client::CustosClient<tonic::transport::Channel>>,
        Arc<Workload>,
    ),
    String,
> {
    let mut clients = conn::connect_many(data_dir, connections).await?;
    let workload = Workload::create(&mut clients[0]).await?;
    Ok((clients, Arc::new(workload)))
}

fn workload_json(w: &Workload) -> Value {
    json!({ "user_id": w.user_id, "wallet": w.from_b58, "transaction_len": 1 + 64 + tx::MESSAGE_LEN })
}

fn throughput_params(a: &ThroughputArgs) -> throughput::Params {
    throughput::Params {
        duration: a.load.duration,
        warmup: a.load.warmup,
        mode: a.mode,
        batch: a.batch,
        in_flight: a.in_flight,
    }
}

fn latency_params(a: &LatencyArgs) -> latency::Params {
    latency::Params {
        mode: a.latency_mode,
        rate: a.rate,
        duration: a.load.duration,
        warmup: a.load.warmup,
    }
}

fn raw_text(r: &raw::Report) -> String {
    format!(
        "raw ed25519-dalek (1 thread, {}-byte messages): {:.0} signatures/s",
        r.message_len, r.signatures_per_sec
    )
}

fn raw_json(r: &raw::Report) -> Value {
    json!({
        "signatures_per_sec": r.signatures_per_sec,
        "signatures": r.signatures,
        "message_len": r.message_len,
        "threads": 1,
    })
}

fn throughput_text(a: &ThroughputArgs, r: &throughput::Report) -> String {
    let mut s = format!(
        "throughput ({} mode, {} connections, {} in flight{}): {:.0} signatures/s \
         ({} signed in {:.2} s; {} errors; load generator used {:.2} cores)",
        a.mode.name(),
        a.load.connections,
        a.in_flight,
        if a.mode == Mode::Batch {
            format!(", batch {}", a.batch)
        } else {
            String::new()
        },
        r.signatures_per_sec,
        r.signed_in_window,
        r.window_secs,
        r.errors,
        r.client_cpu_cores,
    );
    for e in &r.error_samples {
        s.push_str(&format!("\n  error: {e}"));
    }
    s
}

fn throughput_json(a: &ThroughputArgs, r: &throughput::Report) -> Value {
    json!({
        "mode": a.mode.name(),
        "connections": a.load.connections,
        "in_flight": a.in_flight,
        "batch": if a.mode == Mode::Batch { Some(a.batch) } else { None },
        "duration_secs": r.window_secs,
        "warmup_secs": a.load.warmup.as_secs_f64(),
        "signatures_per_sec": r.signatures_per_sec,
        "signed_in_window": r.signed_in_window,
        "signed_total": r.signed_total,
        "errors": r.errors,
        "error_samples": r.error_samples,
        "client_cpu_cores": r.client_cpu_cores,
    })
}

fn latency_text(a: &LatencyArgs, r: &latency::Report) -> String {
    let l = &r.latency;
    let mut s = format!(
        "latency (open loop, {}, {} connections, target {:.0}/s, achieved {:.0}/s, {} requests): \
         p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us, mean {:.0} us \
         (generator dispatch lag p99 {} us; {} errors)",
        a.latency_mode.as_str(),
        a.load.connections,
        r.target_rate,
        r.achieved_rate,
        l.count,
        l.p50,
        l.p90,
        l.p99,
        l.p999,
        l.max,
        l.mean,
        r.dispatch_lag.p99,
        r.errors,
    );
    for e in &r.error_samples {
        s.push_str(&format!("\n  error: {e}"));
    }
    s
}

fn percentiles_json(p: &latency::Percentiles) -> Value {
    json!({
        "p50": p.p50, "p90": p.p90, "p99": p.p99, "p999": p.p999,
        "max": p.max, "mean": p.mean, "count": p.count,
    })
}

fn latency_json(a: &LatencyArgs, r: &latency::Report) -> Value {
    json!({
        "mode": a.latency_mode.as_str(),
        "connections": a.load.connections,
        "duration_secs": a.load.duration.as_secs_f64(),
        "warmup_secs": a.load.warmup.as_secs_f64(),
        "target_rate": r.target_rate,
        "achieved_rate": r.achieved_rate,
        "sent": r.sent,
        "latency_us": percentiles_json(&r.latency),
        "dispatch_lag_us": percentiles_json(&r.dispatch_lag),
        "errors": r.errors,
        "error_samples": r.error_samples,
    })
}

/// CPU count and model, for the record.
fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    json!({ "cpus": cpus, "cpu_model": model })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("x").is_err());
    }
}
