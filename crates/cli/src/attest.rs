//! `custos attest`: fetch a TPM quote from a running Custos and check it against a
//! release's expected measurements.
//!
//! What is checked, in order (nothing unsigned is trusted before the signature):
//! 1. the quote is signed by the attestation key (and that key is the pinned one, when
//!    `--ak` is given: without a pin, a verifier learns which TPM it talks to on first use);
//! 2. it carries the verifier's fresh nonce (no replay) and covers PCR 7 and 11 with the
//!    values reported beside it;
//! 3. those values are the release's (`release.json` from the image build): the exact
//!    signed image, under Secure Boot with the operator's keys;
//! 4. the firmware event log, when present, replays to the same values, so each
//!    measurement can be read and explained.

use crate::client::{runtime, status_error, EXIT_FAILED};
use crate::output::{error, print_json, EXIT_INPUT};
use crate::Format;
use custos_api::v1::AttestRequest;
use custos_ipc::signer::{Attestation, PcrValue};
use custos_measure::release::Release;
use custos_tpm::{PcrSelection, Quote};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// Exit status when the evidence does not verify.
pub const EXIT_UNTRUSTED: u8 = 6;

/// A quote and everything needed to check it, as saved by `custos attest fetch` (hex and
/// base64 strings in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The attestation key (uncompressed SEC1), hex.
    pub ak_public: String,
    /// The TPMS_ATTEST bytes, hex.
    pub quote: String,
    /// `r || s`, hex.
    pub signature: String,
    /// PCR 7 value, hex.
    pub pcr7: String,
    /// PCR 11 value, hex.
    pub pcr11: String,
    /// The event log, base64 (may be empty).
    #[serde(default)]
    pub event_log: String,
    /// The image version the server reported (unauthenticated; the PCRs are what count).
    #[serde(default)]
    pub image_version: u64,
}

impl Evidence {
    /// From the signer's answer.
    pub fn from_attestation(a: &Attestation) -> Result<Self, String> {
        let pcr = |i: u8| {
            a.pcrs
                .iter()
                .find(|p| p.index == i)
                .map(|p| hex::encode(p.value))
                .ok_or(format!("the attestation lacks PCR {i}"))
        };
        Ok(Self {
            ak_public: hex::encode(&a.ak_public),
            quote: hex::encode(&a.quote),
            signature: hex::encode(&a.signature),
            pcr7: pcr(7)?,
            pcr11: pcr(11)?,
            event_log: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                &a.event_log,
            ),
            image_version: a.image_version.unwrap_or(0),
        })
    }

    fn from_response(r: custos_api::v1::AttestResponse) -> Result<Self, String> {
        let pcrs = r
            .pcrs
            .iter()
            .map(|p| {
                Ok(PcrValue {
                    index: u8::try_from(p.index).map_err(|_| "PCR index out of range")?,
                    value: p
                        .sha256
                        .as_slice()
                        .try_into()
                        .map_err(|_| "PCR value is not 32 bytes")?,
                })
            })
            .collect::<Result<Vec<_>, &str>>()?;
        Self::from_attestation(&Attestation {
            ak_public: r.ak_public,
            quote: r.quote,
            signature: r.signature,
            pcrs,
            event_log: r.event_log,
            image_version: Some(r.image_version),
        })
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The release version whose measurements matched.
    pub version: u64,
    /// Events the log held for PCR 7 and 11 (0 when no log was sent).
    pub events: usize,
    /// TPM resets since the TPM was cleared (reboots), from the quote.
    pub reset_count: u32,
}

/// Why evidence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    /// A field is not valid hex/base64 or has the wrong length.
    #[error("malformed evidence: {0}")]
    Malformed(String),
    /// The attestation key is not the pinned one.
    #[error("the quote is signed by another attestation key than the pinned one (another TPM)")]
    UnpinnedKey,
    /// The quote itself failed (signature, nonce, PCR digest).
    #[error("the quote does not verify: {0}")]
    Quote(custos_tpm::VerifyError),
    /// The PCRs are not the release's.
    #[error("the measurements are not those of release {version}: {detail}")]
    NotTheRelease {
        /// The release checked against.
        version: u64,
        /// Which PCR, with both values.
        detail: String,
    },
    /// The event log does not replay to the quoted values.
    #[error("the event log does not match the quote: {0}")]
    EventLog(String),
}

/// Checks `evidence` against the verifier's `nonce`, the `release` and the pinned key.
pub fn verify(
    evidence: &Evidence,
    nonce: &[u8],
    release: &Release,
    pinned_ak: Option<&[u8]>,
) -> Result<Verified, AttestError> {
    let bytes = |name: &str, s: &str| {
        hex::decode(s).map_err(|_| AttestError::Malformed(format!("{name} is not hex")))
    };
    let pcr = |name: &str, s: &str| -> Result<[u8; 32], AttestError> {
        bytes(name, s)?
            .try_into()
            .map_err(|_| AttestError::Malformed(format!("{name} is not 32 bytes")))
    };
    let ak = bytes("ak_public", &evidence.ak_public)?;
    let signature: [u8; 64] = bytes("signature", &evidence.signature)?
        .try_into()
        .map_err(|_| AttestError::Malformed("signature is not 64 bytes".into()))?;
    let quote = Quote {
        attest: bytes("quote", &evidence.quote)?,
        signature,
    };
    let (pcr7, pcr11) = (pcr("pcr7", &evidence.pcr7)?, pcr("pcr11", &evidence.pcr11)?);
    let selection = PcrSelection::sha256(&[7, 11]).expect("7 and 11 are valid PCRs");
    let info = custos_tpm::verify_quote(&ak, &quote, nonce, &selection, &[pcr7, pcr11])
        .map_err(AttestError::Quote)?;
    if let Some(pin) = pinned_ak {
        if pin != ak.as_slice() {
            return Err(AttestError::UnpinnedKey);
        }
    }
    release
        .check_pcrs(&pcr7, &pcr11)
        .map_err(|e| AttestError::NotTheRelease {
            version: release.version,
            detail: e.to_string(),
        })?;
    let log = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &evidence.event_log,
    )
    .map_err(|_| AttestError::Malformed("event_log is not base64".into()))?;
    let events = if log.is_empty() {
        0
    } else {
        let parsed = custos_measure::eventlog::EventLog::parse(&log)
            .map_err(|e| AttestError::EventLog(e.to_string()))?;
        for (index, quoted) in [(7u32, pcr7), (11, pcr11)] {
            let replayed = parsed.pcr(index);
            if replayed != quoted {
                return Err(AttestError::EventLog(format!(
                    "PCR {index} replays to {} but the quote says {}",
                    hex::encode(replayed),
                    hex::encode(quoted)
                )));
            }
        }
        parsed
            .events
            .iter()
            .filter(|e| e.pcr == 7 || e.pcr == 11)
            .count()
    };
    Ok(Verified {
        version: release.version,
        events,
        reset_count: info.reset_count,
    })
}

fn fresh_nonce() -> Result<[u8; 32], String> {
    let mut nonce = [0u8; 32];
    custos_crypto::os_random(&mut nonce).map_err(|e| e.to_string())?;
    Ok(nonce)
}

async fn fetch(data_dir: &Path, nonce: &[u8]) -> Result<Evidence, String> {
    let mut client = custos_api::client::connect(data_dir).await?;
    let r = client
        .attest(AttestRequest {
            nonce: nonce.to_vec(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    Evidence::from_response(r)
}

/// `custos attest fetch`: saves evidence for `nonce` (hex) as JSON.
pub fn fetch_command(data_dir: &Path, nonce_hex: &str, out: Option<&Path>) -> ExitCode {
    let nonce = match hex::decode(nonce_hex) {
        Ok(n) if (16..=32).contains(&n.len()) => n,
        _ => return error(EXIT_INPUT, "--nonce: 16 to 32 bytes in hex"),
    };
    let evidence = match runtime().block_on(fetch(data_dir, &nonce)) {
        Ok(e) => e,
        Err(e) => return error(EXIT_FAILED, e),
    };
    let text = serde_json::to_string_pretty(&evidence).expect("evidence serializes");
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                return error(EXIT_INPUT, format!("{}: {e}", path.display()));
            }
        }
        None => println!("{text}"),
    }
    ExitCode::SUCCESS
}

/// `custos attest verify`: a live check against the running server (fresh random nonce),
/// or an offline check of saved evidence with the nonce it was fetched with.
pub fn verify_command(
    data_dir: &Path,
    release: &Path,
    evidence: Option<&Path>,
    nonce_hex: Option<&str>,
    ak: Option<&Path>,
    format: Format,
) -> ExitCode {
    let release = match crate::genesis::read_release(release) {
        Ok(r) => r,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let pinned = match ak {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| hex::decode(t.trim()).map_err(|_| "not hex".to_owned()))
        {
            Ok(k) => Some(k),
            Err(e) => return error(EXIT_INPUT, format!("--ak {}: {e}", p.display())),
        },
        None => None,
    };
    let (evidence, nonce) = match (evidence, nonce_hex) {
        (Some(path), Some(n)) => {
            let nonce = match hex::decode(n) {
                Ok(n) => n,
                Err(_) => return error(EXIT_INPUT, "--nonce is not hex"),
            };
            let parsed = std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<Evidence>(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(e) => (e, nonce),
                Err(e) => return error(EXIT_INPUT, format!("--evidence {}: {e}", path.display())),
            }
        }
        (Some(_), None) => {
            return error(
                EXIT_INPUT,
                "--evidence needs the --nonce it was fetched with",
            )
        }
        (None, Some(_)) => {
            return error(
                EXIT_INPUT,
                "--nonce is only for --evidence; a live check draws its own",
            )
        }
        (None, None) => {
            let nonce = match fresh_nonce() {
                Ok(n) => n,
                Err(e) => return error(EXIT_FAILED, e),
            };
            match runtime().block_on(fetch(data_dir, &nonce)) {
                Ok(e) => (e, nonce.to_vec()),
                Err(e) => return error(EXIT_FAILED, e),
            }
        }
    };
    match verify(&evidence, &nonce, &release, pinned.as_deref()) {
        Ok(v) => {
            match format {
                Format::Json => print_json(&json!({
                    "verified": true,
                    "release_version": v.version,
                    "reported_image_version": evidence.image_version,
                    "ak_public": evidence.ak_public,
                    "pcr7": evidence.pcr7,
                    "pcr11": evidence.pcr11,
                    "events": v.events,
                    "reset_count": v.reset_count,
                })),
                Format::Text => println!(
                    "verified: the TPM ({}) quoted release {}'s PCR 7 and 11 with our nonce; {} event(s) replayed",
                    &evidence.ak_public[..16],
                    v.version,
                    v.events
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if format == Format::Json {
                print_json(&json!({"verified": false, "error": e.to_string()}));
            }
            error(EXIT_UNTRUSTED, e)
        }
    }
}
