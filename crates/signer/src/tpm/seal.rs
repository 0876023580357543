//! The TPM seal: the master key sealed by a TPM 2.0 to an operator-signed PCR policy.
//!
//! * Genesis ([`genesis`]) draws the master key, splits it into the custodians' recovery
//!   shares, seals it in the TPM under `PolicyAuthorize(operator policy key)` and writes
//!   `tpm-seal.bin` (public: the TPM's wrapped object, useless on any other TPM).
//! * Each release comes with a signed policy (`custos policy sign`): "PCR 7 and PCR 11
//!   have these values, and the NV counter has not passed this version". At start
//!   [`TpmSeal`] unseals with the policy given to it, then advances the counter to the
//!   policy's version, so older images cannot unseal any more.
//! * Recovery ([`recover`]) rebuilds the key from k custodian shares and seals it to a new
//!   TPM. In none of these is the key written anywhere in plaintext.

use super::device::TpmDevice;
use custos_crypto::keys::MasterKey;
use custos_crypto::recovery::{
    self, CustodianKey, CustodianSecret, RecoveryError, RecoveryHeader, RecoveryKit, ShareBundle,
};
use custos_crypto::seal::{Seal, SealError};
use custos_tpm::policy::{PolicyPublicKey, SignedPolicy};
use custos_tpm::seal::{SealedMasterKey, UnsealError};
use custos_tpm::NvIndex;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// File name of the sealed master key in the data directory.
pub const SEAL_FILE: &str = "tpm-seal.bin";
/// Directory of the recovery kit in the data directory (header and encrypted shares).
pub const RECOVERY_DIR: &str = "recovery";
/// File name of the recovery kit's header.
pub const KIT_HEADER_FILE: &str = "kit-header.bin";
/// Where the NV counter lives unless the operator chooses another index (owner range).
pub const DEFAULT_COUNTER_INDEX: u32 = 0x0150_0016;

/// What went wrong with the TPM seal. Every message names the file or TPM involved and
/// what to do; none carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TpmSealError {
    /// No sealed key in the data directory.
    #[error("no TPM seal at {0}: run `custos init --seal tpm` (or a recovery ceremony) first")]
    NoSeal(PathBuf),
    /// Genesis or recovery would overwrite an existing seal.
    #[error(
        "{0} already exists: this data directory already has a master key; refusing to replace it"
    )]
    AlreadyInitialized(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The sealed key file does not parse.
    #[error("{path}: not a Custos TPM seal: {reason}")]
    BadSeal {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No signed policy was given or found.
    #[error("no signed image policy at {0}: each release ships one (`custos policy sign`)")]
    NoPolicy(PathBuf),
    /// The signed policy does not parse.
    #[error("{path}: not a signed image policy: {reason}")]
    BadPolicy {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The TPM could not be reached or failed a command.
    #[error("TPM {device}: {source}")]
    Tpm {
        /// The TPM.
        device: String,
        /// What it said.
        source: custos_tpm::Error,
    },
    /// The TPM refused to unseal (wrong image, rolled back, foreign policy, ...).
    #[error("cannot unseal the master key: {0}")]
    Unseal(#[from] UnsealError),
    /// The recovery kit refused (wrong shares, too few, wrong custodian key, ...).
    #[error("recovery: {0}")]
    Recovery(#[from] RecoveryError),
    /// The recovery kit's files do not parse.
    #[error("{path}: {reason}")]
    BadKit {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The OS random number generator failed.
    #[error(transparent)]
    Random(#[from] custos_crypto::RandomError),
}

impl From<TpmSealError> for SealError {
    fn from(e: TpmSealError) -> Self {
        SealError::Tpm(Box::new(e))
    }
}

/// The master key in a TPM, opened with a signed image policy.
#[derive(Debug, Clone)]
pub struct TpmSeal {
    device: TpmDevice,
    seal_path: PathBuf,
    policy_path: PathBuf,
}

impl TpmSeal {
    /// The seal in `data_dir`, opened on `device` with the signed policy at `policy_path`.
    pub fn new(device: TpmDevice, data_dir: &Path, policy_path: PathBuf) -> Self {
        Self {
            device,
            seal_path: data_dir.join(SEAL_FILE),
            policy_path,
        }
    }

    /// The signed policy's version (the image version it authorizes).
    pub fn policy_version(&self) -> Result<u64, TpmSealError> {
        Ok(read_policy(&self.policy_path)?.policy().version)
    }

    /// Unseals the master key and advances the NV counter to the policy's version.
    pub fn unseal(&self) -> Result<MasterKey, TpmSealError> {
        let sealed = read_seal(&self.seal_path)?;
        let policy = read_policy(&self.policy_path)?;
        let mut tpm = self.device.open().map_err(|e| tpm_err(&self.device, e))?;
        let secret = custos_tpm::seal::unseal(&mut tpm, &sealed, &policy)?;
        let key = MasterKey::from_bytes(secret);
        // Only after the key opened: from now on no image signed for an older version
        // can unseal. A failure here stops the start, so the rollback guard is never
        // silently skipped.
        custos_tpm::seal::advance_counter(&mut tpm, sealed.counter(), policy.policy().version)
            .map_err(|e| tpm_err(&self.device, e))?;
        Ok(key)
    }
}

impl Seal for TpmSeal {
    fn name(&self) -> &'static str {
        "tpm"
    }

    fn is_secure(&self) -> bool {
        true
    }

    /// Never creates a key: genesis is an explicit step ([`genesis`]).
    fn unseal_or_create(&self) -> Result<MasterKey, SealError> {
        Ok(self.unseal()?)
    }
}

/// Parameters of [`genesis`] and [`recover`].
#[derive(Debug, Clone)]
pub struct SealTarget {
    /// The TPM to seal to.
    pub device: TpmDevice,
    /// The operator's policy-signing public key: only policies it signed unseal.
    pub policy_key: PolicyPublicKey,
    /// The NV counter guarding against rollback.
    pub counter: NvIndex,
}

/// What genesis produced.
#[derive(Debug)]
pub struct GenesisOutcome {
    /// The sealed key's file.
    pub seal_path: PathBuf,
    /// The recovery kit's header file.
    pub kit_header: PathBuf,
    /// The encrypted shares' files, one per custodian in order.
    pub shares: Vec<PathBuf>,
    /// The counter's value after genesis: release versions must be at least this.
    pub counter_value: u64,
}

/// Genesis: a fresh master key, split into `threshold`-of-`custodians.len()` recovery
/// shares (written first, so no key is ever sealed without its backup) and sealed to the
/// TPM. Refuses to replace an existing seal.
pub fn genesis(
    data_dir: &Path,
    target: &SealTarget,
    threshold: u8,
    custodians: &[CustodianKey],
) -> Result<GenesisOutcome, TpmSealError> {
    let seal_path = data_dir.join(SEAL_FILE);
    if seal_path.exists() {
        return Err(TpmSealError::AlreadyInitialized(seal_path));
    }
    let master = MasterKey::generate()?;
    let kit = recovery::split_master_key(&master, threshold, custodians)?;
    let (kit_header, shares) = write_kit(data_dir, &kit)?;
    let counter_value = seal_to(&master, data_dir, target)?;
    Ok(GenesisOutcome {
        seal_path,
        kit_header,
        shares,
        counter_value,
    })
}

/// One custodian's part in a recovery ceremony: their encrypted share and their secret
/// key (read from the custodian's file, zeroized after use).
pub struct CustodianShare {
    /// The encrypted share from the kit.
    pub bundle: ShareBundle,
    /// The custodian's X25519 secret.
    pub secret: CustodianSecret,
}

/// Recovery: opens the custodians' shares in memory, rebuilds the master key (refused
/// unless the kit's commitment matches, so fewer than k shares never yield a key), seals
/// it to `target`'s TPM and writes `tpm-seal.bin` into `data_dir`. Returns the counter's
/// value.
pub fn recover(
    data_dir: &Path,
    target: &SealTarget,
    header: &RecoveryHeader,
    shares: &[CustodianShare],
) -> Result<u64, TpmSealError> {
    let seal_path = data_dir.join(SEAL_FILE);
    if seal_path.exists() {
        return Err(TpmSealError::AlreadyInitialized(seal_path));
    }
    let opened = shares
        .iter()
        .map(|s| recovery::open_share(&s.secret, &s.bundle, header))
        .collect::<Result<Vec<_>, _>>()?;
    let master = recovery::recover(header, &opened)?;
    seal_to(&master, data_dir, target)
}

/// Reads a recovery kit's header file.
pub fn read_kit_header(path: &Path) -> Result<RecoveryHeader, TpmSealError> {
    let bytes = fs::read(path).map_err(io(path))?;
    RecoveryHeader::from_bytes(&bytes).map_err(|e| TpmSealError::BadKit {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Reads one encrypted share file.
pub fn read_share(path: &Path) -> Result<ShareBundle, TpmSealError> {
    let bytes = fs::read(path).map_err(io(path))?;
    ShareBundle::from_bytes(&bytes).map_err(|e| TpmSealError::BadKit {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Reads a signed image policy file.
pub fn read_policy(path: &Path) -> Result<SignedPolicy, TpmSealError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TpmSealError::NoPolicy(path.to_owned()))
        }
        Err(e) => return Err(io(path)(e)),
    };
    SignedPolicy::from_bytes(&bytes).map_err(|e| TpmSealError::BadPolicy {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Reads the sealed key file of a data directory.
pub fn read_seal(path: &Path) -> Result<SealedMasterKey, TpmSealError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TpmSealError::NoSeal(path.to_owned()))
        }
        Err(e) => return Err(io(path)(e)),
    };
    SealedMasterKey::from_bytes(&bytes).map_err(|e| TpmSealError::BadSeal {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn seal_to(master: &MasterKey, data_dir: &Path, target: &SealTarget) -> Result<u64, TpmSealError> {
    let mut tpm = target
        .device
        .open()
        .map_err(|e| tpm_err(&target.device, e))?;
    let sealed = custos_tpm::seal::genesis(
        &mut tpm,
        master.expose_to_seal(),
        &target.policy_key,
        target.counter,
    )
    .map_err(|e| tpm_err(&target.device, e))?;
    let value = custos_tpm::seal::read_counter(&mut tpm, target.counter)
        .map_err(|e| tpm_err(&target.device, e))?;
    write_new_durably(&data_dir.join(SEAL_FILE), &sealed.to_bytes())?;
    Ok(value)
}

fn write_kit(data_dir: &Path, kit: &RecoveryKit) -> Result<(PathBuf, Vec<PathBuf>), TpmSealError> {
    let dir = data_dir.join(RECOVERY_DIR);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    let header = dir.join(KIT_HEADER_FILE);
    write_new_durably(&header, &kit.header.to_bytes())?;
    let n = kit.header.share_count();
    let mut shares = Vec::with_capacity(kit.shares.len());
    for share in &kit.shares {
        let path = dir.join(format!("share-{}-of-{n}.bin", share.index()));
        write_new_durably(&path, &share.to_bytes())?;
        shares.push(path);
    }
    Ok((header, shares))
}

/// Creates `path` (never replacing a file), writes, fsyncs it and its directory.
fn write_new_durably(path: &Path, bytes: &[u8]) -> Result<(), TpmSealError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                TpmSealError::AlreadyInitialized(path.to_owned())
            } else {
                io(path)(e)
            }
        })?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    if let Some(parent) = path.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io(parent))?;
    }
    Ok(())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TpmSealError + '_ {
    move |source| TpmSealError::Io {
        path: path.to_owned(),
        source,
    }
}

fn tpm_err(device: &TpmDevice, source: custos_tpm::Error) -> TpmSealError {
    TpmSealError::Tpm {
        device: device.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn no_tpm() -> TpmDevice {
        TpmDevice::Device("/nonexistent/tpm".into())
    }

    #[test]
    fn a_data_dir_without_a_seal_says_to_run_init() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("1.policy");
        let err = TpmSeal::new(no_tpm(), dir.path(), policy)
            .unseal()
            .err()
            .expect("no key without a seal");
        assert!(matches!(err, TpmSealError::NoSeal(_)), "{err}");
        assert!(err.to_string().contains("custos init --seal tpm"), "{err}");
    }

    #[test]
    fn missing_or_malformed_policies_and_seals_get_specific_errors() {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("1.policy");
        assert!(matches!(
            read_policy(&policy),
            Err(TpmSealError::NoPolicy(_))
        ));
        std::fs::write(&policy, b"not a policy").unwrap();
        let err = read_policy(&policy).unwrap_err();
        assert!(matches!(err, TpmSealError::BadPolicy { .. }), "{err}");
        let seal = dir.path().join(SEAL_FILE);
        std::fs::write(&seal, b"not a seal").unwrap();
        let err = read_seal(&seal).unwrap_err();
        assert!(matches!(err, TpmSealError::BadSeal { .. }), "{err}");
        // Both files are read before the TPM is opened: no TPM needed for these errors.
        let err = TpmSeal::new(no_tpm(), dir.path(), policy)
            .unseal()
            .err()
            .expect("no key without a seal");
        assert!(matches!(err, TpmSealError::BadSeal { .. }), "{err}");
    }

    #[test]
    fn genesis_and_recovery_never_replace_a_seal() {
        let dir = tempfile::tempdir().unwrap();
        let seal = dir.path().join(SEAL_FILE);
        std::fs::write(&seal, b"existing").unwrap();
        let target = SealTarget {
            device: no_tpm(),
            policy_key: custos_tpm::policy::PolicySigningKey::generate().public_key(),
            counter: NvIndex::new(DEFAULT_COUNTER_INDEX).unwrap(),
        };
        let custodian = CustodianKey::from_bytes(
            &CustodianSecret::from_bytes(Zeroizing::new([7u8; 32])).public_key(),
        )
        .unwrap();
        let err = genesis(dir.path(), &target, 1, &[custodian]).unwrap_err();
        assert!(matches!(err, TpmSealError::AlreadyInitialized(_)), "{err}");
        // Nothing else was written: no recovery kit for a key that was never sealed.
        assert!(!dir.path().join(RECOVERY_DIR).exists());
        assert_eq!(std::fs::read(&seal).unwrap(), b"existing");
    }
}
