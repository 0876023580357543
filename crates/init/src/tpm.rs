//! Step `wait_for_tpm`: the TPM's device node. The CRB/TIS drivers are built into the
//! cloud kernel, but devtmpfs creates the node when the driver's probe finishes, which can
//! be after `/init` starts.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for the TPM device node.
pub const TPM_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TPM device is not usable.
#[derive(Debug, thiserror::Error)]
pub enum TpmWaitError {
    /// The node did not appear in time.
    #[error("TPM device {path} did not appear within {waited:?}")]
    Missing {
        /// The device path.
        path: PathBuf,
        /// How long was waited.
        waited: Duration,
    },
    /// The path exists but is not a character device.
    #[error("{0} is not a character device")]
    NotCharDevice(PathBuf),
}

/// Waits up to `timeout` for `path` to be a character device; returns how long it took.
pub fn wait_for_tpm(path: &Path, timeout: Duration) -> Result<Duration, TpmWaitError> {
    let start = Instant::now();
    loop {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.file_type().is_char_device() {
                return Ok(start.elapsed());
            }
            return Err(TpmWaitError::NotCharDevice(path.to_owned()));
        }
        if start.elapsed() >= timeout {
            return Err(TpmWaitError::Missing {
                path: path.to_owned(),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_char_device_refuses_others() {
        assert!(wait_for_tpm(Path::new("/dev/null"), Duration::ZERO).is_ok());
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("tpmrm0");
        std::fs::write(&file, b"").unwrap();
        let e = wait_for_tpm(&file, Duration::ZERO).unwrap_err();
        assert!(matches!(e, TpmWaitError::NotCharDevice(_)));
        let e = wait_for_tpm(&t.path().join("tpm0"), Duration::from_millis(120)).unwrap_err();
        assert!(
            matches!(e, TpmWaitError::Missing { waited, .. } if waited >= Duration::from_millis(120))
        );
    }
}
