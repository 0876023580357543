//! A software TPM (`swtpm socket --tpm2`) on a state directory, either for qemu (control
//! channel on a Unix socket, `-tpmdev emulator`) or for host tools (TCP data and control
//! ports). The same state directory can be used by both modes at different times (swtpm
//! locks it while running); the process is stopped when the [`Swtpm`] is dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, stop_child, tail, VmError};

/// How long swtpm may take to open its sockets.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Power state of a TCP swtpm when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpPower {
    /// Off: the client sends `CMD_INIT` on the control port, then TPM2_Startup
    /// (what `custos_tpm::transport::swtpm_power_on` does).
    Off,
    /// On and started (`--flags not-need-init,startup-clear`): ready for commands.
    StartedUp,
}

/// Where a running swtpm listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwtpmEndpoint {
    /// qemu mode: the control socket (`-chardev socket,path=...`).
    Unix {
        /// The Unix socket path.
        ctrl: PathBuf,
    },
    /// Host-tool mode: TCP on 127.0.0.1.
    Tcp {
        /// The TPM command port.
        data: SocketAddr,
        /// The control port.
        ctrl: SocketAddr,
    },
}

/// A running swtpm process, stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub struct Swtpm {
    child: Option<Child>,
    endpoint: SwtpmEndpoint,
    log: PathBuf,
    // Holds the Unix socket and the log; removed after the process is stopped.
    _scratch: tempfile::TempDir,
}

impl Swtpm {
    /// Starts swtpm on `state_dir` (created if missing) with a Unix control socket, for
    /// qemu's `-tpmdev emulator`. The firmware powers it on and starts it up.
    pub fn for_qemu(state_dir: &Path) -> Result<Self, VmError> {
        let scratch = scratch()?;
        let ctrl = scratch.path().join("swtpm.sock");
        let mut cmd = base_command(state_dir)?;
        cmd.arg("--ctrl")
            .arg(format!("type=unixio,path={}", ctrl.display()));
        let mut swtpm = Self::spawn(cmd, SwtpmEndpoint::Unix { ctrl: ctrl.clone() }, scratch)?;
        swtpm.wait_ready(|| ctrl.exists())?;
        Ok(swtpm)
    }

    /// Starts swtpm on `state_dir` (created if missing) listening on two free TCP ports of
    /// 127.0.0.1, for host tools (`custos_tpm` over TCP, tss-esapi's `swtpm:` TCTI).
    pub fn tcp(state_dir: &Path, power: TcpPower) -> Result<Self, VmError> {
        let scratch = scratch()?;
        let data: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let ctrl: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let mut cmd = base_command(state_dir)?;
        cmd.arg("--server")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", data.port()))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", ctrl.port()));
        if power == TcpPower::StartedUp {
            cmd.arg("--flags").arg("not-need-init,startup-clear");
        }
        let mut swtpm = Self::spawn(cmd, SwtpmEndpoint::Tcp { data, ctrl }, scratch)?;
        swtpm
            .wait_ready(|| TcpStream::connect_timeout(&ctrl, Duration::from_millis(200)).is_ok())?;
        Ok(swtpm)
    }

    fn spawn(
        mut cmd: Command,
        endpoint: SwtpmEndpoint,
        scratch: tempfile::TempDir,
    ) -> Result<Self, VmError> {
        let log = scratch.path().join("swtpm.log");
        let log_file = std::fs::File::create(&log).map_err(VmError::io("create swtpm.log"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(
                log_file
                    .try_clone()
                    .map_err(VmError::io("clone swtpm.log"))?,
            )
            .stderr(log_file)
            .spawn()
            .map_err(|source| VmError::Spawn {
                program: "swtpm (Debian package swtpm)",
                source,
            })?;
        Ok(Self {
            child: Some(child),
            endpoint,
            log,
            _scratch: scratch,
        })
    }

    /// Polls `ready` until it holds, failing if swtpm exits or takes too long.
    fn wait_ready(&mut self, ready: impl Fn() -> bool) -> Result<(), VmError> {
        let start = Instant::now();
        while !ready() {
            let exited = match self.child.as_mut() {
                Some(child) => child
                    .try_wait()
                    .map_err(VmError::io("wait for swtpm"))?
                    .is_some(),
                None => true,
            };
            if exited || start.elapsed() > READY_TIMEOUT {
                return Err(self.not_ready());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn not_ready(&self) -> VmError {
        VmError::SwtpmNotReady(tail(&self.log))
    }

    /// Where it listens.
    pub fn endpoint(&self) -> &SwtpmEndpoint {
        &self.endpoint
    }

    /// The qemu-mode control socket, if in that mode.
    pub fn ctrl_socket(&self) -> Option<&Path> {
        match &self.endpoint {
            SwtpmEndpoint::Unix { ctrl } => Some(ctrl),
            SwtpmEndpoint::Tcp { .. } => None,
        }
    }

    /// The TCP (command, control) addresses, if in that mode.
    pub fn tcp_addrs(&self) -> Option<(SocketAddr, SocketAddr)> {
        match &self.endpoint {
            SwtpmEndpoint::Tcp { data, ctrl } => Some((*data, *ctrl)),
            SwtpmEndpoint::Unix { .. } => None,
        }
    }

    /// Stops swtpm now (SIGTERM so it writes its state, SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child, Duration::from_secs(5));
        }
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.stop();
    }
}

fn scratch() -> Result<tempfile::TempDir, VmError> {
    // Short path: Unix socket paths are limited to 107 bytes.
    tempfile::Builder::new()
        .prefix("custos-swtpm")
        .tempdir_in("/tmp")
        .map_err(VmError::io("create a swtpm scratch directory"))
}

fn base_command(state_dir: &Path) -> Result<Command, VmError> {
    std::fs::create_dir_all(state_dir).map_err(VmError::io(format!(
        "create the TPM state directory {}",
        state_dir.display()
    )))?;
    let mut cmd = Command::new("swtpm");
    cmd.args(["socket", "--tpm2", "--tpmstate"])
        .arg(format!("dir={}", state_dir.display()));
    Ok(cmd)
}
