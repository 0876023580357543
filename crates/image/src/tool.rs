//! Running the external tools the image build relies on (apt-get, dpkg-deb, openssl,
//! sbsign, virt-fw-vars, mkfs, mtools, debugfs), with errors that name the tool and keep
//! its standard error.

use std::process::{Command, ExitStatus, Output};

/// An external tool that could not be run or failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program could not be started (usually: not installed).
    #[error("cannot run {program} ({hint}): {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Where it comes from (a Debian package name, usually).
        hint: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The program exited unsuccessfully.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error, lossily decoded and trimmed.
        stderr: String,
    },
}

/// Runs `cmd` to completion, capturing its output; fails unless it exits with 0.
/// `hint` says where the program comes from, for the error when it is missing.
pub(crate) fn run(cmd: &mut Command, hint: &'static str) -> Result<Output, ToolError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| ToolError::Spawn {
            program: program.clone(),
            hint,
            source,
        })?;
    if !output.status.success() {
        return Err(ToolError::Failed {
            program,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output)
}
