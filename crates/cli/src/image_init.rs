//! `custos` as `/init` of the boot image.
//!
//! [`custos_init`] brings the guest up (mounts, modules, network, memory-encryption report,
//! data disk, TPM); then `custos serve` runs with the TPM seal and the release's signed
//! policy from the data disk (`policies/<version>.policy`). When it stops - the seal
//! refused to open, or a child died - and the data disk holds a verifier's nonce
//! (`attest-nonce`, hex), /init prints a TPM quote for it on the console
//! (`CUSTOS-EVIDENCE {json}`, checked with `custos attest verify --evidence`), so an
//! image that refuses to serve can still be attested. Then it powers off.

use crate::attest::Evidence;
use custos_init::{ChildExit, ImageConfig};
use custos_signer::tpm::{Attestor, TpmDevice};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the signed policy for an image version lives on the data disk.
pub fn policy_path(config: &ImageConfig) -> PathBuf {
    config
        .data_mount
        .join("policies")
        .join(format!("{}.policy", config.version))
}

/// The supervisor's command line for this image.
pub fn serve_command(config: &ImageConfig) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/init"));
    let mut cmd = Command::new(exe);
    cmd.arg("--data-dir")
        .arg(&config.data_mount)
        .arg("serve")
        .arg("--listen")
        .arg(config.listen.to_string())
        .args(["--seal", "tpm", "--tpm"])
        .arg(&config.tpm_device)
        .arg("--image-policy")
        .arg(policy_path(config))
        .arg("--event-log")
        .arg(custos_signer::tpm::attest::EVENT_LOG_PATH);
    cmd
}

/// Runs the image: never returns.
pub fn run() -> ! {
    custos_init::log("starting custos");
    let config = match custos_init::boot(Path::new(custos_init::IMAGE_CONFIG_PATH)) {
        Ok(c) => c,
        Err(e) => {
            custos_init::log(&format!("FAILED: {e}"));
            custos_init::power_off(None)
        }
    };
    match custos_init::supervise(serve_command(&config)) {
        Ok(exit) => {
            custos_init::log(&format!("supervisor {exit}"));
            if exit != ChildExit::Exited(0) {
                diagnostic_quote(&config);
            }
        }
        Err(e) => custos_init::log(&format!("FAILED: {e}")),
    }
    custos_init::power_off(Some(&config.data_mount))
}

/// Prints a quote over the verifier's nonce from the data disk, if there is one.
fn diagnostic_quote(config: &ImageConfig) {
    let nonce_file = config.data_mount.join("attest-nonce");
    let Ok(text) = std::fs::read_to_string(&nonce_file) else {
        return;
    };
    let nonce = match hex::decode(text.trim()) {
        Ok(n) if (16..=32).contains(&n.len()) => n,
        _ => {
            custos_init::log(&format!(
                "{}: not a 16 to 32 byte hex nonce; no quote",
                nonce_file.display()
            ));
            return;
        }
    };
    let device = TpmDevice::Device(config.tpm_device.clone());
    let quote = Attestor::open(
        &device,
        Some(PathBuf::from(custos_signer::tpm::attest::EVENT_LOG_PATH)),
        Some(config.version),
    )
    .map_err(|e| e.to_string())
    .and_then(|a| a.attest(&nonce).map_err(|e| e.message))
    .and_then(|a| Evidence::from_attestation(&a));
    match quote {
        Ok(evidence) => println!(
            "CUSTOS-EVIDENCE {}",
            serde_json::to_string(&evidence).expect("evidence serializes")
        ),
        Err(e) => custos_init::log(&format!("no diagnostic quote: {e}")),
    }
}
