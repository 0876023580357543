//! Remote attestation: TPM quotes over the measured-boot PCRs with the verifier's nonce.
//!
//! The attestation key is a restricted signing key in the endorsement hierarchy, recreated
//! at every start from the TPM's endorsement seed (so it is the same key on the same TPM);
//! a restricted key signs only TPM-generated structures, so its signature over a quote is
//! the TPM's word about its PCRs. Nothing here touches the master key.

use super::device::{AnyTransport, TpmDevice};
use custos_ipc::signer::{Attestation, ErrorKind, PcrValue, SignerError};
use custos_tpm::{AttestationKey, PcrSelection, Tpm};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The PCRs quoted: 7 (Secure Boot state and the certificate that verified the image) and
/// 11 (the unified kernel image's sections, measured by systemd-stub). Together they name
/// the exact signed image; they are the PCRs the master key is sealed to.
pub const QUOTED_PCRS: [u8; 2] = [7, 11];

/// Where Linux exposes the firmware's TCG event log.
pub const EVENT_LOG_PATH: &str = "/sys/kernel/security/tpm0/binary_bios_measurements";

/// The largest event log passed on (the IPC frame limit is 256 KiB; real logs are tens
/// of KiB).
pub const MAX_EVENT_LOG: u64 = 192 * 1024;

/// Why attestation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AttestSetupError {
    /// The TPM could not be reached or refused to make the attestation key.
    #[error("attestation: TPM {device}: {source}")]
    Tpm {
        /// The TPM.
        device: String,
        /// What it said.
        source: custos_tpm::Error,
    },
    /// The event log could not be read.
    #[error("attestation: reading the event log {path}: {source}")]
    EventLog {
        /// The log's path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The event log is larger than an attestation answer can carry.
    #[error("attestation: the event log {path} is larger than {MAX_EVENT_LOG} bytes")]
    EventLogTooLarge {
        /// The log's path.
        path: PathBuf,
    },
}

/// Answers attestation requests from one TPM.
pub struct Attestor {
    tpm: Mutex<Tpm<AnyTransport>>,
    ak: AttestationKey,
    /// Read once when opened: the signer is confined afterwards and opens no file. The
    /// log only grows when something is measured, and measurements stop before Custos
    /// starts (the boot chain is done), so the copy stays current.
    event_log: Vec<u8>,
    image_version: Option<u64>,
}

impl Attestor {
    /// Connects to the TPM, creates the attestation key and reads `event_log` (None: no
    /// log, e.g. swtpm on a host); `image_version` is reported as is.
    pub fn open(
        device: &TpmDevice,
        event_log: Option<PathBuf>,
        image_version: Option<u64>,
    ) -> Result<Self, AttestSetupError> {
        let err = |source| AttestSetupError::Tpm {
            device: device.to_string(),
            source,
        };
        let event_log = match &event_log {
            Some(path) => read_event_log(path)?,
            None => Vec::new(),
        };
        let mut tpm = device.open().map_err(err)?;
        let ak = tpm.create_attestation_key().map_err(err)?;
        Ok(Self {
            tpm: Mutex::new(tpm),
            ak,
            event_log,
            image_version,
        })
    }

    /// The attestation key's public point (uncompressed SEC1), for the operator to pin.
    pub fn ak_public(&self) -> [u8; 65] {
        self.ak.public.to_sec1()
    }

    /// Quotes [`QUOTED_PCRS`] with `nonce` and attaches their values and the event log.
    pub fn attest(&self, nonce: &[u8]) -> Result<Attestation, SignerError> {
        if nonce.is_empty() || nonce.len() > custos_tpm::attest::MAX_NONCE_LEN {
            return Err(SignerError {
                kind: ErrorKind::InvalidRequest,
                message: format!(
                    "attestation nonce must be 1 to {} bytes",
                    custos_tpm::attest::MAX_NONCE_LEN
                ),
            });
        }
        let selection = PcrSelection::sha256(&QUOTED_PCRS).map_err(tpm_error)?;
        let (quote, values) = {
            let mut tpm = self.tpm.lock().unwrap_or_else(|p| p.into_inner());
            let quote = tpm.quote(&self.ak, nonce, &selection).map_err(tpm_error)?;
            // Read after the quote: the verifier compares these with the quote's digest,
            // so a PCR extended in between shows up as a mismatch rather than passing.
            let values = tpm.pcr_read(&selection).map_err(tpm_error)?;
            (quote, values)
        };
        Ok(Attestation {
            ak_public: self.ak.public.to_sec1().to_vec(),
            quote: quote.attest,
            signature: quote.signature.to_vec(),
            pcrs: QUOTED_PCRS
                .iter()
                .zip(values)
                .map(|(&index, value)| PcrValue { index, value })
                .collect(),
            event_log: self.event_log.clone(),
            image_version: self.image_version,
        })
    }
}

fn read_event_log(path: &Path) -> Result<Vec<u8>, AttestSetupError> {
    let io = |source| AttestSetupError::EventLog {
        path: path.to_owned(),
        source,
    };
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_EVENT_LOG + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_EVENT_LOG {
        return Err(AttestSetupError::EventLogTooLarge {
            path: path.to_owned(),
        });
    }
    Ok(buf)
}

fn tpm_error(e: custos_tpm::Error) -> SignerError {
    SignerError {
        kind: ErrorKind::Internal,
        message: format!("TPM: {e}"),
    }
}
