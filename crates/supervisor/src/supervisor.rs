//! `custos serve`: start, wire, watch and stop the three processes.
//!
//! Wiring (all `socketpair(AF_UNIX, SOCK_STREAM)`):
//!
//! ```text
//!   signer:3 <-------> bridge:3
//!                      bridge:4 <-------> pool:3
//!   supervisor <-----> bridge:5 (control)
//!   supervisor <-----> pool:4   (control)
//! ```
//!
//! The signer has exactly one socket. The supervisor learns the signer's
//! health through the bridge (which pings it) and its liveness from `wait`.
//!
//! Failure policy: **fail closed**. If any child exits, the supervisor stops
//! the others and exits non-zero; it does not restart them, because a signer
//! that died may have died under attack and a restart loop would hide that.
//! Restarting the whole service is the job of whatever runs `custos serve`
//! (systemd, or the image's init which reboots). SIGTERM or SIGINT stop all
//! children cleanly (bridge first, so no new requests arrive) and exit 0.

use crate::{aio, fds, Role};
use command_fds::{CommandFdExt, FdMapping};
use custos_ipc::control::{ComponentHealth, ControlRequest, ControlResponse};
use custos_ipc::Envelope;
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::net::UnixStream;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};

/// How often children are asked for their health.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// How long a health answer may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// Consecutive failed health checks after which the service fails closed.
const HEALTH_FAILURES_LIMIT: u32 = 3;
/// How long start-up may take before the supervisor gives up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Grace period between SIGTERM and SIGKILL at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `custos` executable to re-execute for each child.
    pub exe: PathBuf,
    /// Arguments placed before the role (e.g. `["__child"]`).
    pub child_prefix: Vec<String>,
    /// Extra arguments per role, appended after the role.
    pub signer_args: Vec<String>,
    /// Extra arguments for the bridge.
    pub bridge_args: Vec<String>,
    /// Extra arguments for the pool.
    pub pool_args: Vec<String>,
    /// Environment variables set for the pool only (settings that must not show in
    /// `ps`, such as an RPC URL carrying an API key).
    pub pool_env: Vec<(String, String)>,
    /// Environment variables removed from every child's environment (for instance
    /// the supervisor's own copy of a setting passed to one child in `pool_env`).
    pub env_remove: Vec<String>,
}

/// Why the supervisor stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// Creating a socket pair failed.
    #[error("socketpair: {0}")]
    Socket(nix::Error),
    /// Starting a child failed.
    #[error("could not start the {role}: {source}")]
    Spawn {
        /// Which child.
        role: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A child exited.
    #[error("the {role} (pid {pid}) exited ({status}); failed closed")]
    ChildExited {
        /// Which child.
        role: &'static str,
        /// Its pid.
        pid: u32,
        /// How it ended.
        status: String,
    },
    /// A child stopped answering health checks.
    #[error("the {0} stopped answering health checks; failed closed")]
    Unhealthy(&'static str),
    /// The service did not become ready in time.
    #[error("the service did not become healthy within {0:?}: {1}")]
    Startup(Duration, String),
    /// Other I/O.
    #[error("supervisor i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// What a finished child reports: its role, pid and exit status.
type Exit = (Role, u32, std::io::Result<ExitStatus>);
/// The tasks waiting on the children.
type Children = JoinSet<Exit>;

struct Running {
    role: Role,
    pid: u32,
}

fn pair() -> Result<(OwnedFd, OwnedFd), SupervisorError> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(SupervisorError::Socket)
}

fn spawn(
    config: &Config,
    role: Role,
    extra: &[String],
    env: &[(String, String)],
    mappings: Vec<(OwnedFd, i32)>,
    set: &mut Children,
) -> Result<Running, SupervisorError> {
    let mut cmd = tokio::process::Command::new(&config.exe);
    for name in &config.env_remove {
        cmd.env_remove(name);
    }
    cmd.arg0(role.process_name())
        .args(&config.child_prefix)
        .arg(role.as_str())
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd.fd_mappings(
        mappings
            .into_iter()
            .map(|(parent_fd, child_fd)| FdMapping {
                parent_fd,
                child_fd,
            })
            .collect(),
    )
    .map_err(|e| SupervisorError::Spawn {
        role: role.as_str(),
        source: std::io::Error::other(e),
    })?;
    let mut child = cmd.spawn().map_err(|source| SupervisorError::Spawn {
        role: role.as_str(),
        source,
    })?;
    // Dropping the command closes the parent's copies of the child's ends.
    drop(cmd);
    let pid = child.id().unwrap_or(0);
    tracing::info!(role = role.as_str(), pid, "started");
    set.spawn(async move { (role, pid, child.wait().await) });
    Ok(Running { role, pid })
}

/// A control channel to one child.
struct Control {
    role: Role,
    stream: UnixStream,
    next_id: u64,
    failures: u32,
}

impl Control {
    async fn health(&mut self) -> Result<ComponentHealth, String> {
        self.next_id += 1;
        let id = self.next_id;
        let exchange = async {
            aio::write_frame(
                &mut self.stream,
                &Envelope {
                    id,
                    body: ControlRequest::Health,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            let resp: Envelope<ControlResponse> = aio::read_frame(&mut self.stream)
                .await
                .map_err(|e| e.to_string())?;
            if resp.id != id {
                return Err(format!("answer id {} != request id {id}", resp.id));
            }
            let ControlResponse::Health(h) = resp.body;
            Ok(h)
        };
        match timeout(HEALTH_TIMEOUT, exchange).await {
            Ok(r) => r,
            Err(_) => Err("timed out".into()),
        }
    }
}

/// Runs the service until SIGTERM/SIGINT (Ok) or a child failure (Err).
pub async fn run(config: Config) -> Result<(), SupervisorError> {
    crate::child::close_inherited_on_exec()?;
    let (signer_end, bridge_signer_end) = pair()?;
    let (bridge_pool_end, pool_bridge_end) = pair()?;
    let (sup_bridge, bridge_control) = pair()?;
    let (sup_pool, pool_control) = pair()?;
    // The view key authenticates the pool's chain reads to the signer; only those two
    // get it, each over a socket that carries nothing else.
    let (signer_key_tx, signer_key_rx) = pair()?;
    let (pool_key_tx, pool_key_rx) = pair()?;
    {
        let mut key = zeroize::Zeroizing::new([0u8; custos_ipc::pool::ViewKey::LEN]);
        getrandom::getrandom(key.as_mut())
            .map_err(|e| SupervisorError::Io(std::io::Error::other(e.to_string())))?;
        for tx in [signer_key_tx, pool_key_tx] {
            // 32 bytes fit any socket buffer: the write completes before the child runs.
            let mut stream = std::os::unix::net::UnixStream::from(tx);
            std::io::Write::write_all(&mut stream, key.as_ref())?;
        }
    }

    let mut set = JoinSet::new();
    let running = vec![
        spawn(
            &config,
            Role::Signer,
            &config.signer_args,
            &[],
            vec![
                (signer_end, fds::SIGNER_TO_BRIDGE),
                (signer_key_rx, fds::SIGNER_VIEW_KEY),
            ],
            &mut set,
        )?,
        spawn(
            &config,
            Role::Bridge,
            &config.bridge_args,
            &[],
            vec![
                (bridge_signer_end, fds::BRIDGE_TO_SIGNER),
                (bridge_pool_end, fds::BRIDGE_TO_POOL),
                (bridge_control, fds::BRIDGE_CONTROL),
            ],
            &mut set,
        )?,
        spawn(
            &config,
            Role::Pool,
            &config.pool_args,
            &config.pool_env,
            vec![
                (pool_bridge_end, fds::POOL_TO_BRIDGE),
                (pool_control, fds::POOL_CONTROL),
                (pool_key_rx, fds::POOL_VIEW_KEY),
            ],
            &mut set,
        )?,
    ];

    let to_tokio = |fd: OwnedFd| aio::into_tokio(std::os::unix::net::UnixStream::from(fd));
    let mut controls = vec![
        Control {
            role: Role::Bridge,
            stream: to_tokio(sup_bridge)?,
            next_id: 0,
            failures: 0,
        },
        Control {
            role: Role::Pool,
            stream: to_tokio(sup_pool)?,
            next_id: 0,
            failures: 0,
        },
    ];

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let outcome = tokio::select! {
        r = supervise(&mut set, &mut controls) => r,
        _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); Ok(()) }
        _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); Ok(()) }
    };
    stop_all(&running, &mut set).await;
    outcome
}

async fn supervise(set: &mut Children, controls: &mut [Control]) -> Result<(), SupervisorError> {
    // Start-up: wait until every child reports healthy.
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let mut last_problem = String::new();
        let mut all_ok = true;
        for c in controls.iter_mut() {
            match c.health().await {
                Ok(h) if h.ok => {}
                Ok(h) => {
                    all_ok = false;
                    last_problem = format!("{}: {}", h.component, h.detail);
                }
                Err(e) => {
                    all_ok = false;
                    last_problem = format!("{}: {e}", c.role.as_str());
                }
            }
        }
        if all_ok {
            break;
        }
        if Instant::now() > deadline {
            return Err(SupervisorError::Startup(STARTUP_TIMEOUT, last_problem));
        }
        tokio::select! {
            exited = set.join_next() => return Err(exit_error(exited)),
            _ = sleep(Duration::from_millis(100)) => {}
        }
    }
    let mut details = Vec::new();
    for c in controls.iter_mut() {
        if let Ok(h) = c.health().await {
            details.push(format!("{} ({})", h.component, h.detail));
        }
    }
    tracing::info!("ready: {}", details.join("; "));
    eprintln!("custos: ready - {}", details.join("; "));

    loop {
        tokio::select! {
            exited = set.join_next() => return Err(exit_error(exited)),
            _ = sleep(HEALTH_INTERVAL) => {
                for c in controls.iter_mut() {
                    match c.health().await {
                        Ok(h) if h.ok => c.failures = 0,
                        Ok(h) => {
                            c.failures += 1;
                            tracing::warn!(component = %h.component, detail = %h.detail, "unhealthy");
                        }
                        Err(e) => {
                            c.failures += 1;
                            tracing::warn!(role = c.role.as_str(), error = %e, "health check failed");
                        }
                    }
                    if c.failures >= HEALTH_FAILURES_LIMIT {
                        return Err(SupervisorError::Unhealthy(c.role.as_str()));
                    }
                }
            }
        }
    }
}

fn exit_error(exited: Option<Result<Exit, tokio::task::JoinError>>) -> SupervisorError {
    match exited {
        Some(Ok((role, pid, status))) => {
            let status = match status {
                Ok(s) => s.to_string(),
                Err(e) => format!("wait failed: {e}"),
            };
            tracing::error!(role = role.as_str(), pid, %status, "child exited; failing closed");
            SupervisorError::ChildExited {
                role: role.as_str(),
                pid,
                status,
            }
        }
        Some(Err(e)) => SupervisorError::Io(std::io::Error::other(e)),
        None => SupervisorError::Io(std::io::Error::other("no children left")),
    }
}

async fn stop_all(running: &[Running], set: &mut Children) {
    // Bridge first, and wait for it: it stops taking requests and finishes
    // those in flight while the signer can still answer them. Then the rest.
    let stages: [&[Role]; 2] = [&[Role::Bridge], &[Role::Pool, Role::Signer]];
    for stage in stages {
        let pids: Vec<u32> = running
            .iter()
            .filter(|r| stage.contains(&r.role))
            .map(|r| r.pid)
            .collect();
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGTERM);
        }
        let mut waiting = pids;
        let drained = timeout(STOP_GRACE, async {
            while !waiting.is_empty() {
                match set.join_next().await {
                    Some(Ok((role, pid, status))) => {
                        tracing::info!(role = role.as_str(), pid, status = ?status.ok(), "stopped");
                        waiting.retain(|p| *p != pid);
                    }
                    Some(Err(_)) => {}
                    None => break,
                }
            }
        })
        .await;
        if drained.is_err() {
            for r in running.iter().filter(|r| stage.contains(&r.role)) {
                let _ = kill(Pid::from_raw(r.pid as i32), Signal::SIGKILL);
            }
        }
    }
    set.shutdown().await;
}
