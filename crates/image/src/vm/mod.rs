//! A qemu test harness for the boot image: OVMF with Secure Boot (SMM, secure pflash), a
//! fresh copy of the enrolled variable store per boot, a TPM 2.0 (CRB) backed by
//! [`Swtpm`], the UKI on an EFI system partition, an optional ext4 data disk
//! (virtio-blk, serial `custos-data`), user networking with a free host port forwarded to
//! the guest's 7420, and the serial console in a log file.
//!
//! Everything runs under TCG (no KVM here): expect ~15 s to reach `/init`. The VM and its
//! swtpm are killed when the [`Vm`] is dropped.

mod disk;
pub mod inputs;
mod swtpm;

pub use disk::{make_esp, make_ext4, read_ext4_file};
pub use swtpm::{Swtpm, SwtpmEndpoint, TcpPower};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::tool::ToolError;
use crate::vars::OVMF_CODE_SECBOOT;

/// The guest port custos listens on, forwarded from [`Vm::host_port`].
pub const GUEST_PORT: u16 = 7420;
/// How much of a log an error quotes.
const TAIL_BYTES: usize = 4000;

/// Why the VM (or its swtpm) could not start, or did not do what was awaited.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A file could not be made or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A disk tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// A program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program and where it comes from.
        program: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// swtpm exited or did not open its sockets.
    #[error("swtpm did not become ready; its log ends:\n{0}")]
    SwtpmNotReady(String),
    /// The pattern did not appear in time.
    #[error("{pattern:?} not on the serial console after {waited:?}; it ends:\n{tail}")]
    Timeout {
        /// The awaited text.
        pattern: String,
        /// How long was waited.
        waited: Duration,
        /// The end of the serial log.
        tail: String,
    },
    /// qemu exited before the awaited text appeared.
    #[error("qemu exited ({status}) before {pattern:?} appeared; serial log ends:\n{tail}\nqemu stderr:\n{stderr}")]
    Exited {
        /// The awaited text.
        pattern: String,
        /// qemu's exit status.
        status: ExitStatus,
        /// The end of the serial log.
        tail: String,
        /// The end of qemu's own standard error.
        stderr: String,
    },
    /// qemu kept running past the deadline of [`Vm::wait_exit`].
    #[error("qemu still running after {0:?}")]
    StillRunning(Duration),
    /// A path inside the data disk is not absolute or has quotes/newlines.
    #[error("bad path in the image: {0:?}")]
    BadPath(String),
    /// The file is not in the ext4 image.
    #[error("{path} is not in the image: {detail}")]
    NotInImage {
        /// The path asked for.
        path: String,
        /// debugfs's message.
        detail: String,
    },
}

impl VmError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VmError {
        let what = what.into();
        move |source| VmError::Io { what, source }
    }
}

/// How to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmConfig {
    /// The UKI (signed or not) to put at `\EFI\BOOT\BOOTX64.EFI`.
    pub uki: PathBuf,
    /// The variable store to boot with (normally with keys enrolled); a fresh copy is used,
    /// since OVMF writes to it.
    pub ovmf_vars: PathBuf,
    /// The swtpm state directory; kept across boots by the caller. `None`: a fresh TPM.
    pub tpm_state: Option<PathBuf>,
    /// An ext4 image (see [`make_ext4`]) attached as virtio-blk with serial `custos-data`,
    /// used in place (the guest's writes stay in it).
    pub data_disk: Option<PathBuf>,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// Guest CPUs.
    pub cpus: u32,
}

impl VmConfig {
    /// A config booting `uki` with `ovmf_vars`: fresh TPM, no data disk, 1024 MiB, 2 CPUs.
    pub fn new(uki: impl Into<PathBuf>, ovmf_vars: impl Into<PathBuf>) -> Self {
        Self {
            uki: uki.into(),
            ovmf_vars: ovmf_vars.into(),
            tpm_state: None,
            data_disk: None,
            memory_mib: 1024,
            cpus: 2,
        }
    }
}

/// A running (or finished) qemu VM.
#[derive(Debug)]
pub struct Vm {
    child: Option<Child>,
    status: Option<ExitStatus>,
    serial: PathBuf,
    stderr: PathBuf,
    host_port: u16,
    started: Instant,
    // Dropped after the child is killed (field order): the TPM, then the scratch files.
    swtpm: Swtpm,
    work: tempfile::TempDir,
}

impl Vm {
    /// Prepares the disks and variable store, starts swtpm and qemu.
    pub fn start(config: VmConfig) -> Result<Self, VmError> {
        let work = tempfile::Builder::new()
            .prefix("custos-vm")
            .tempdir()
            .map_err(VmError::io("create the VM directory"))?;
        let dir = work.path();
        let vars = dir.join("vars.fd");
        std::fs::copy(&config.ovmf_vars, &vars)
            .map_err(VmError::io(format!("copy {}", config.ovmf_vars.display())))?;
        let esp = dir.join("esp.img");
        make_esp(&esp, &config.uki)?;
        let tpm_state = config.tpm_state.clone().unwrap_or_else(|| dir.join("tpm"));
        let swtpm = Swtpm::for_qemu(&tpm_state)?;
        let ctrl = swtpm.ctrl_socket().expect("qemu mode").to_owned();

        let serial = dir.join("serial.log");
        let stderr = dir.join("qemu.log");
        let host_port = free_port()?;
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "q35,smm=on,accel=tcg"])
            .args(["-m", &config.memory_mib.to_string()])
            .args(["-smp", &config.cpus.to_string()])
            // Secure Boot OVMF only runs with its flash locked to SMM.
            .args(["-global", "driver=cfi.pflash01,property=secure,value=on"])
            .args(["-global", "ICH9-LPC.disable_s3=1"])
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE_SECBOOT}"
            ))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,unit=1,file={}",
                vars.display()
            ))
            .arg("-chardev")
            .arg(format!("socket,id=chrtpm,path={}", ctrl.display()))
            .args(["-tpmdev", "emulator,id=tpm0,chardev=chrtpm"])
            .args(["-device", "tpm-crb,tpmdev=tpm0"])
            .arg("-drive")
            .arg(format!("if=none,id=esp,format=raw,file={}", esp.display()))
            .args(["-device", "virtio-blk-pci,drive=esp,bootindex=1"]);
        if let Some(data) = &config.data_disk {
            cmd.arg("-drive")
                .arg(format!(
                    "if=none,id=data,format=raw,file={}",
                    data.display()
                ))
                .args(["-device", "virtio-blk-pci,drive=data,serial=custos-data"]);
        }
        cmd.arg("-netdev")
            .arg(format!(
                "user,id=net0,hostfwd=tcp:127.0.0.1:{host_port}-:{GUEST_PORT}"
            ))
            // No option ROM: the firmware must not try network boot.
            .args(["-device", "virtio-net-pci,netdev=net0,romfile="])
            .arg("-nographic")
            .args(["-monitor", "none"])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-no-reboot");
        let stderr_file = std::fs::File::create(&stderr).map_err(VmError::io("create qemu.log"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(
                stderr_file
                    .try_clone()
                    .map_err(VmError::io("clone qemu.log"))?,
            )
            .stderr(stderr_file)
            .spawn()
            .map_err(|source| VmError::Spawn {
                program: "qemu-system-x86_64 (Debian package qemu-system-x86)",
                source,
            })?;
        Ok(Self {
            child: Some(child),
            status: None,
            serial,
            stderr,
            host_port,
            started: Instant::now(),
            swtpm,
            work,
        })
    }

    /// The host port forwarded to the guest's [`GUEST_PORT`] (on 127.0.0.1).
    pub fn host_port(&self) -> u16 {
        self.host_port
    }

    /// The serial console log file.
    pub fn serial_path(&self) -> &Path {
        &self.serial
    }

    /// The serial console output so far (lossily decoded).
    pub fn serial_log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.serial).unwrap_or_default()).into_owned()
    }

    /// The VM's scratch directory (vars copy, ESP, logs).
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// Time since qemu was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// qemu's exit status, polling once; `None` while it runs.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>, VmError> {
        if self.status.is_none() {
            if let Some(child) = self.child.as_mut() {
                self.status = child.try_wait().map_err(VmError::io("wait for qemu"))?;
            }
        }
        Ok(self.status)
    }

    /// Waits until `pattern` appears on the serial console; returns the time since start.
    /// Fails when qemu exits first or `timeout` (from now) passes.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> Result<Duration, VmError> {
        let deadline = Instant::now() + timeout;
        loop {
            // Checked before the log is read, so output written just before exiting counts.
            let status = self.try_status()?;
            if self.serial_log().contains(pattern) {
                return Ok(self.elapsed());
            }
            if let Some(status) = status {
                return Err(VmError::Exited {
                    pattern: pattern.to_owned(),
                    status,
                    tail: tail(&self.serial),
                    stderr: tail(&self.stderr),
                });
            }
            if Instant::now() >= deadline {
                return Err(VmError::Timeout {
                    pattern: pattern.to_owned(),
                    waited: timeout,
                    tail: tail(&self.serial),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for qemu to exit (the guest powered off, or rebooted under `-no-reboot`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, VmError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(VmError::StillRunning(timeout));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills qemu (if running) and stops swtpm; the logs stay readable.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.status.is_none() {
                let _ = child.kill();
                self.status = child.wait().ok();
            }
        }
        self.swtpm.stop();
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP port on 127.0.0.1 free right now (the OS picks it; racy only against other
/// processes grabbing the same port in between).
pub fn free_port() -> Result<u16, VmError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(VmError::io("find a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(VmError::io("find a free port"))?
        .port())
}

/// Asks `child` to stop with SIGTERM, waits up to `grace`, then kills it.
fn stop_child(mut child: Child, grace: Duration) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if let Ok(None) = child.try_wait() {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// The last [`TAIL_BYTES`] of a log file, lossily decoded.
fn tail(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(TAIL_BYTES);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
