//! `custos-fake-telegram`: run the fake Telegram Bot API server, or talk to
//! a running one (dump everything it received, call a control endpoint).

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use custos_telegram_fake::{http_client, Config, FakeTelegram, RateLimits};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "custos-fake-telegram",
    version,
    about = "A fake Telegram Bot API server for tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve until interrupted. Prints one JSON line: url, api_url, token, ca_pem_path.
    Serve {
        /// Listening address.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Bot token to accept.
        #[arg(long, env = "CUSTOS_FAKE_TELEGRAM_TOKEN", default_value = custos_telegram_fake::DEFAULT_TOKEN)]
        token: String,
        /// Bot username.
        #[arg(long, default_value = "custos_test_bot")]
        bot_username: String,
        /// Where to write the test CA certificate (PEM).
        #[arg(long, default_value = "fake-telegram-ca.pem")]
        ca_out: PathBuf,
        /// Disable flood limits.
        #[arg(long)]
        no_rate_limits: bool,
        /// Global messages per second.
        #[arg(long, default_value_t = 30.0)]
        global_rate: f64,
        /// Global burst.
        #[arg(long, default_value_t = 30)]
        global_burst: u32,
        /// Messages per second in one chat.
        #[arg(long, default_value_t = 1.0)]
        per_chat_rate: f64,
        /// Burst in one chat.
        #[arg(long, default_value_t = 3)]
        per_chat_burst: u32,
        /// Answer the control API from any address, not only loopback.
        #[arg(long)]
        control_from_anywhere: bool,
    },
    /// Print everything a running server received, as JSON (GET /control/dump).
    Dump {
        /// The server's base URL (https://127.0.0.1:PORT).
        #[arg(long)]
        url: String,
        /// The server's CA certificate (PEM).
        #[arg(long)]
        ca: PathBuf,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Call a control endpoint, e.g. `control POST /control/send_text '{"user":1,"text":"/start x"}'`.
    Control {
        /// The server's base URL.
        #[arg(long)]
        url: String,
        /// The server's CA certificate (PEM).
        #[arg(long)]
        ca: PathBuf,
        /// HTTP method.
        method: String,
        /// Path, starting with /control/.
        path: String,
        /// JSON body.
        body: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn call(
    url: &str,
    ca: &PathBuf,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<Vec<u8>, String> {
    let ca_pem = std::fs::read_to_string(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    let full = format!("{}{}", url.trim_end_matches('/'), path);
    let headers = [("content-type", "application/json")];
    let (status, out) = http_client::request(
        &method.to_ascii_uppercase(),
        &full,
        &headers,
        body.unwrap_or_default().into_bytes(),
        &[ca_pem.as_str()],
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| format!("{full}: {e}"))?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "{full}: HTTP {status}: {}",
            String::from_utf8_lossy(&out)
        ));
    }
    Ok(out)
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve {
            listen,
            token,
            bot_username,
            ca_out,
            no_rate_limits,
            global_rate,
            global_burst,
            per_chat_rate,
            per_chat_burst,
            control_from_anywhere,
        } => {
            let config = Config {
                token,
                bot_username,
                listen,
                control_from_any_address: control_from_anywhere,
                rate_limits: RateLimits {
                    enabled: !no_rate_limits,
                    global_per_sec: global_rate,
                    global_burst,
                    per_chat_per_sec: per_chat_rate,
                    per_chat_burst,
                    count_edits: false,
                },
                ..Config::default()
            };
            let fake = FakeTelegram::start(config)
                .await
                .map_err(|e| e.to_string())?;
            std::fs::write(&ca_out, fake.ca_pem())
                .map_err(|e| format!("{}: {e}", ca_out.display()))?;
            let line = serde_json::json!({
                "url": fake.base_url(),
                "api_url": fake.api_url(),
                "token": fake.token(),
                "ca_pem_path": ca_out,
            });
            println!("{line}");
            tokio::signal::ctrl_c()
                .await
                .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
            Ok(())
        }
        Command::Dump { url, ca, out } => {
            let body = call(&url, &ca, "GET", "/control/dump", None).await?;
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| format!("bad dump: {e}"))?;
            let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
            match out {
                Some(path) => std::fs::write(&path, text + "\n")
                    .map_err(|e| format!("{}: {e}", path.display())),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
        Command::Control {
            url,
            ca,
            method,
            path,
            body,
        } => {
            let out = call(&url, &ca, &method, &path, body).await?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
    }
}
