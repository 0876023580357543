//! The PID 1 sequence: the steps in order, the supervisor as the one child, reaping,
//! power-off. Every outcome ends in a power-off: under `qemu -no-reboot` that ends the VM,
//! and a half-started key manager is never left running.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::errno::Errno;
use nix::mount::umount;
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{sync, Pid};

use crate::config::{ConfigError, ImageConfig};
use crate::disk::{self, DiskError};
use crate::memory_encryption::{self, MemoryEncryptionError};
use crate::modules::{self, ModuleError, ModuleLoad};
use crate::mounts::{self, MountError};
use crate::network::{self, NetworkError};
use crate::tpm::{self, TpmWaitError};

/// The console prefix of every line `/init` prints.
pub const LOG_PREFIX: &str = "custos-init:";

/// Which step failed, and why.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Step `mount_basics`.
    #[error("mount_basics: {0}")]
    Mounts(#[from] MountError),
    /// Step `config`: reading `/etc/custos/image.toml`.
    #[error("config: {0}")]
    Config(#[from] ConfigError),
    /// Step `load_modules`.
    #[error("load_modules: {0}")]
    Modules(#[from] ModuleError),
    /// Step `memory_encryption`.
    #[error("memory_encryption: {0}")]
    MemoryEncryption(#[from] MemoryEncryptionError),
    /// Step `network`.
    #[error("network: {0}")]
    Network(#[from] NetworkError),
    /// Step `data_disk`.
    #[error("data_disk: {0}")]
    DataDisk(#[from] DiskError),
    /// Step `wait_for_tpm`.
    #[error("wait_for_tpm: {0}")]
    Tpm(#[from] TpmWaitError),
    /// The supervisor could not be started.
    #[error("supervisor: cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// waitpid(2) failed while the supervisor was running.
    #[error("supervisor: waitpid: {0}")]
    Wait(Errno),
}

/// How the supervisor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It exited with this status code.
    Exited(i32),
    /// A signal killed it.
    Signaled(Signal),
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildExit::Exited(code) => write!(f, "exited with status {code}"),
            ChildExit::Signaled(sig) => write!(f, "killed by {sig}"),
        }
    }
}

/// Whether this process is PID 1 (the kernel started it as `/init`).
pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// Prints one `custos-init:` line to stdout (the console under PID 1). Write errors are
/// ignored: a console problem must not panic PID 1.
pub fn log(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{LOG_PREFIX} {line}");
    let _ = out.flush();
}

/// Runs the steps in the guest's fixed layout, logging each: `mount_basics`, `config`
/// (`config_path`), `load_modules`, `memory_encryption`, `network`, `data_disk`,
/// `wait_for_tpm`. Returns the configuration for the supervisor.
pub fn boot(config_path: &Path) -> Result<ImageConfig, InitError> {
    let mounted = mounts::mount_basics(Path::new("/"))?;
    log(&format!("mount_basics: ok ({})", join_paths(&mounted)));

    let config = ImageConfig::load(config_path)?;
    log(&format!(
        "config: ok ({}, version {})",
        config_path.display(),
        config.version
    ));

    let modules_dir = Path::new(modules::MODULES_DIR);
    let names = match &config.modules {
        Some(names) => names.clone(),
        None => modules::read_load_order(modules_dir)?,
    };
    let loads = modules::load_modules(modules_dir, &names)?;
    let listed: Vec<String> = names
        .iter()
        .zip(&loads)
        .map(|(name, load)| match load {
            ModuleLoad::Loaded => name.clone(),
            ModuleLoad::AlreadyLoaded => format!("{name} (already loaded)"),
        })
        .collect();
    log(&format!(
        "load_modules: ok ({})",
        or_none(&listed.join(", "))
    ));

    // After the modules: nothing they do changes the report, but the report is printed
    // before anything touches the network or the untrusted disk.
    let report = memory_encryption::check_memory_encryption(
        Path::new("/proc/cpuinfo"),
        Path::new("/dev/kmsg"),
        config.require_memory_encryption,
    )?;
    log(&format!(
        "memory_encryption: {}{}",
        report.line(),
        if config.require_memory_encryption {
            " [required]"
        } else {
            ""
        }
    ));

    let actions = network::configure_network(config.network.as_ref(), network::INTERFACE_TIMEOUT)?;
    log(&format!("network: ok ({})", actions.join("; ")));

    let device = disk::wait_for_data_disk(
        Path::new("/sys"),
        Path::new("/dev"),
        &config.data_disk_serial,
        disk::DISK_TIMEOUT,
    )?;
    disk::mount_data_disk(&device, &config.data_mount)?;
    log(&format!(
        "data_disk: ok ({} serial `{}` on {})",
        device.display(),
        config.data_disk_serial,
        config.data_mount.display()
    ));

    let waited = tpm::wait_for_tpm(&config.tpm_device, tpm::TPM_TIMEOUT)?;
    log(&format!(
        "wait_for_tpm: ok ({} after {waited:?})",
        config.tpm_device.display()
    ));
    Ok(config)
}

/// Starts `command` and reaps every child (orphans are re-parented to PID 1) until the
/// command's process ends; returns how it ended.
pub fn supervise(mut command: Command) -> Result<ChildExit, InitError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let child = command.spawn().map_err(|source| InitError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits in i32"));
    log(&format!("supervisor: started {program} (pid {pid})"));
    // `child` is not waited through std: waitpid(-1) below reaps it with the others.
    drop(child);
    loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return Ok(ChildExit::Exited(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => return Ok(ChildExit::Signaled(sig)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(errno) => return Err(InitError::Wait(errno)),
        }
    }
}

/// Reaps children that have already ended, without blocking.
fn reap_finished() {
    while let Ok(status) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// The PID 1 entry point: [`boot`], then [`supervise`] the command `child` builds from
/// the configuration, then sync, unmount the data disk and power off. Any step error is
/// printed and also ends in a power-off.
pub fn run_init(config_path: &Path, child: impl FnOnce(&ImageConfig) -> Command) -> ! {
    log("starting");
    let mut data_mount: Option<PathBuf> = None;
    let outcome = boot(config_path).and_then(|config| {
        data_mount = Some(config.data_mount.clone());
        supervise(child(&config))
    });
    match outcome {
        Ok(exit) => log(&format!("supervisor {exit}")),
        Err(e) => log(&format!("FAILED: {e}")),
    }
    reap_finished();
    power_off(data_mount.as_deref())
}

/// Syncs, unmounts `data_mount` if given (so ext4 is clean), and powers off. Never
/// returns: if the kernel refuses the power-off, the process exits, which panics the
/// kernel (and `panic=-1` reboots it, ending qemu under `-no-reboot`).
pub fn power_off(data_mount: Option<&Path>) -> ! {
    sync();
    if let Some(mount) = data_mount {
        match umount(mount) {
            Ok(()) => log(&format!("unmounted {}", mount.display())),
            // Still busy (an orphan holds a file): sync above already flushed it.
            Err(e) => log(&format!("cannot unmount {}: {e}", mount.display())),
        }
    }
    log("powering off");
    sync();
    let err = match reboot(RebootMode::RB_POWER_OFF) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    log(&format!("power off failed: {err}"));
    std::process::exit(1)
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "none"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervise_reports_exit_status_and_signal() {
        let mut c = Command::new("sh");
        c.args(["-c", "exit 7"]);
        assert_eq!(supervise(c).unwrap(), ChildExit::Exited(7));
        let mut c = Command::new("sh");
        c.args(["-c", "kill -TERM $$"]);
        assert_eq!(supervise(c).unwrap(), ChildExit::Signaled(Signal::SIGTERM));
        assert_eq!(ChildExit::Exited(0).to_string(), "exited with status 0");
        assert_eq!(
            ChildExit::Signaled(Signal::SIGKILL).to_string(),
            "killed by SIGKILL"
        );
        let e = supervise(Command::new("/nonexistent/custos")).unwrap_err();
        assert!(matches!(e, InitError::Spawn { .. }), "{e}");
        assert!(!is_pid1());
    }

    #[test]
    fn errors_name_their_step() {
        let e = InitError::from(ConfigError::ZeroVersion);
        assert_eq!(e.to_string(), "config: version must be at least 1");
        let e = InitError::from(TpmWaitError::NotCharDevice("/dev/tpmrm0".into()));
        assert_eq!(
            e.to_string(),
            "wait_for_tpm: /dev/tpmrm0 is not a character device"
        );
    }
}
