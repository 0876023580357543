//! Offline key ceremonies: genesis (`custos init --seal tpm`), the operator's image
//! policies (`custos policy`), and disaster recovery (`custos recovery`).
//!
//! These run where the TPM is (the first boot of the image, or a host with swtpm in
//! tests). The master key exists only in this process's memory: sealed to the TPM and
//! split into custodian shares that are HPKE-encrypted before they touch the disk.

use crate::confirm::read_secret_file;
use crate::output::{error, print_json, EXIT_INPUT};
use crate::Format;
use custos_crypto::recovery::{CustodianKey, CustodianSecret};
use custos_signer::tpm::seal::{self, CustodianShare, SealTarget, DEFAULT_COUNTER_INDEX};
use custos_signer::tpm::TpmDevice;
use custos_tpm::policy::{sign_policy, ImagePolicy, PolicyPublicKey, PolicySigningKey};
use custos_tpm::NvIndex;
use serde_json::json;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Exit status when the TPM or the ceremony refused.
pub const EXIT_REFUSED: u8 = 1;

/// Where the TPM seal is and who may authorize images: options shared by `init` and
/// `recovery rebuild`.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// The TPM: a device path, or swtpm:HOST:PORT.
    #[arg(long, default_value = "/dev/tpmrm0")]
    pub tpm: String,
    /// The operator's policy-signing public key (PEM, from `custos policy keygen`):
    /// only images whose policy it signed can unseal the master key.
    #[arg(long)]
    pub policy_key: PathBuf,
    /// NV index of the anti-rollback counter (hex, owner range 0x01xxxxxx).
    #[arg(long, default_value_t = format!("{DEFAULT_COUNTER_INDEX:#010x}"))]
    pub counter_index: String,
}

impl TargetArgs {
    fn resolve(&self) -> Result<SealTarget, String> {
        let device: TpmDevice = self.tpm.parse().map_err(|e| format!("--tpm: {e}"))?;
        let pem = fs::read_to_string(&self.policy_key)
            .map_err(|e| format!("--policy-key {}: {e}", self.policy_key.display()))?;
        let policy_key = PolicyPublicKey::from_pem(&pem)
            .map_err(|e| format!("--policy-key {}: {e}", self.policy_key.display()))?;
        Ok(SealTarget {
            device,
            policy_key,
            counter: parse_counter(&self.counter_index)?,
        })
    }
}

fn parse_counter(s: &str) -> Result<NvIndex, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    let raw = u32::from_str_radix(hex, 16).map_err(|_| format!("--counter-index {s}: not hex"))?;
    NvIndex::new(raw).map_err(|e| format!("--counter-index {s}: {e}"))
}

/// `custos init --seal tpm`: genesis.
pub fn init(
    data_dir: &Path,
    target: &TargetArgs,
    threshold: u8,
    custodians: &[PathBuf],
    format: Format,
) -> ExitCode {
    let target = match target.resolve() {
        Ok(t) => t,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let keys = match custodians
        .iter()
        .map(|p| read_custodian_public(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(k) => k,
        Err(e) => return error(EXIT_INPUT, e),
    };
    if let Err(e) = fs::create_dir_all(data_dir) {
        return error(EXIT_INPUT, format!("{}: {e}", data_dir.display()));
    }
    // The API's TLS material, so clients can reach the image once it serves.
    if let Err(e) = custos_bridge::devpki::ensure(data_dir) {
        return error(EXIT_REFUSED, format!("development certificates: {e}"));
    }
    match seal::genesis(data_dir, &target, threshold, &keys) {
        Ok(out) => {
            match format {
                Format::Json => print_json(&json!({
                    "seal": out.seal_path,
                    "recovery_kit": out.kit_header,
                    "shares": out.shares,
                    "threshold": threshold,
                    "counter_index": format!("{:#010x}", target.counter.handle()),
                    "counter_value": out.counter_value,
                })),
                Format::Text => {
                    println!("master key sealed to the TPM: {}", out.seal_path.display());
                    println!(
                        "recovery kit: {} and {} shares ({threshold} needed):",
                        out.kit_header.display(),
                        out.shares.len()
                    );
                    for s in &out.shares {
                        println!("  {}", s.display());
                    }
                    println!(
                        "anti-rollback counter {:#010x} is at {}: sign image policies for version {} or later",
                        target.counter.handle(),
                        out.counter_value,
                        out.counter_value
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => error(EXIT_REFUSED, e),
    }
}

/// `custos policy keygen`: the operator's policy-signing key pair.
pub fn policy_keygen(out: &Path) -> ExitCode {
    let key = PolicySigningKey::generate();
    let secret = match key.to_pkcs8_pem() {
        Ok(p) => p,
        Err(e) => return error(EXIT_REFUSED, e),
    };
    let (key_path, pub_path) = (out.with_extension("key"), out.with_extension("pub.pem"));
    if let Err(e) = write_new(&key_path, secret.as_bytes(), 0o600) {
        return error(EXIT_INPUT, e);
    }
    if let Err(e) = write_new(&pub_path, key.public_key().to_pem().as_bytes(), 0o644) {
        return error(EXIT_INPUT, e);
    }
    println!(
        "policy signing key: {} (keep it offline)\npublic key: {} (give it to `custos init --policy-key`)",
        key_path.display(),
        pub_path.display()
    );
    ExitCode::SUCCESS
}

/// `custos policy sign`: authorizes a release's measurements to unseal the key.
pub fn policy_sign(key: &Path, release: &Path, counter_index: &str, out: &Path) -> ExitCode {
    let pem = match read_secret_file(key) {
        Ok(p) => p,
        Err(e) => return error(EXIT_INPUT, format!("--key {}: {e}", key.display())),
    };
    // Borrowed, not copied into a `String`.
    let Ok(pem) = std::str::from_utf8(&pem) else {
        return error(
            EXIT_INPUT,
            format!("--key {}: not a PEM file", key.display()),
        );
    };
    let key = match PolicySigningKey::from_pkcs8_pem(pem) {
        Ok(k) => k,
        Err(e) => return error(EXIT_INPUT, format!("--key: {e}")),
    };
    let release = match read_release(release) {
        Ok(r) => r,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let counter = match parse_counter(counter_index) {
        Ok(c) => c,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let Some(pcr7) = release.pcr7 else {
        return error(
            EXIT_INPUT,
            format!(
                "release {} has no predicted PCR 7: sign only a signed build made with --ovmf-vars",
                release.version
            ),
        );
    };
    let policy = ImagePolicy {
        version: release.version,
        pcr7,
        pcr11: release.pcr11,
    };
    let signed = sign_policy(&policy, counter, &key);
    if let Err(e) = write_new(out, &signed.to_bytes(), 0o644) {
        return error(EXIT_INPUT, e);
    }
    println!(
        "signed the policy for release version {} (PCR 7 {}, PCR 11 {}) into {}",
        policy.version,
        hex::encode(policy.pcr7),
        hex::encode(policy.pcr11),
        out.display()
    );
    ExitCode::SUCCESS
}

/// Reads a release manifest (`release.json` from the image build).
pub fn read_release(path: &Path) -> Result<custos_measure::release::Release, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("release {}: {e}", path.display()))?;
    custos_measure::release::Release::from_json(&text)
        .map_err(|e| format!("release {}: {e}", path.display()))
}

/// `custos recovery keygen`: a custodian's X25519 key pair.
pub fn recovery_keygen(out: &Path) -> ExitCode {
    let mut bytes = Zeroizing::new([0u8; 32]);
    if let Err(e) = custos_crypto::os_random(bytes.as_mut()) {
        return error(EXIT_REFUSED, e);
    }
    let secret = CustodianSecret::from_bytes(bytes.clone());
    let public = match CustodianKey::from_bytes(&secret.public_key()) {
        Ok(k) => k,
        Err(e) => return error(EXIT_REFUSED, e),
    };
    let (key_path, pub_path) = (out.with_extension("key"), out.with_extension("pub"));
    let encoded = Zeroizing::new(data_encoding::BASE64URL_NOPAD.encode(bytes.as_ref()));
    if let Err(e) = write_new(&key_path, encoded.as_bytes(), 0o600) {
        return error(EXIT_INPUT, e);
    }
    if let Err(e) = write_new(&pub_path, public.to_base64url().as_bytes(), 0o644) {
        return error(EXIT_INPUT, e);
    }
    println!(
        "custodian secret key: {} (keep it offline; it opens this custodian's share)\npublic key: {}",
        key_path.display(),
        pub_path.display()
    );
    ExitCode::SUCCESS
}

/// `custos recovery rebuild`: rebuilds the master key from k shares and seals it to a
/// new TPM.
pub fn recovery_rebuild(
    data_dir: &Path,
    target: &TargetArgs,
    kit: &Path,
    shares: &[PathBuf],
    custodian_keys: &[PathBuf],
) -> ExitCode {
    if shares.len() != custodian_keys.len() {
        return error(
            EXIT_INPUT,
            format!(
                "give one --custodian-key per --share, in the same order ({} shares, {} keys)",
                shares.len(),
                custodian_keys.len()
            ),
        );
    }
    let target = match target.resolve() {
        Ok(t) => t,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let header = match seal::read_kit_header(kit) {
        Ok(h) => h,
        Err(e) => return error(EXIT_INPUT, e),
    };
    let mut parts = Vec::with_capacity(shares.len());
    for (share, key) in shares.iter().zip(custodian_keys) {
        let bundle = match seal::read_share(share) {
            Ok(b) => b,
            Err(e) => return error(EXIT_INPUT, e),
        };
        let secret = match read_custodian_secret(key) {
            Ok(s) => s,
            Err(e) => return error(EXIT_INPUT, e),
        };
        parts.push(CustodianShare { bundle, secret });
    }
    if let Err(e) = fs::create_dir_all(data_dir) {
        return error(EXIT_INPUT, format!("{}: {e}", data_dir.display()));
    }
    match seal::recover(data_dir, &target, &header, &parts) {
        Ok(counter) => {
            println!(
                "master key rebuilt from {} shares and sealed to the TPM {} in {}; counter at {counter}",
                parts.len(),
                target.device,
                data_dir.join(seal::SEAL_FILE).display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => error(EXIT_REFUSED, e),
    }
}

fn read_custodian_public(path: &Path) -> Result<CustodianKey, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("custodian {}: {e}", path.display()))?;
    CustodianKey::from_base64url(text.trim())
        .map_err(|e| format!("custodian {}: {e}", path.display()))
}

/// Reads a custodian's secret key file (base64url of 32 bytes), decoding it straight into
/// its zeroized array: no `String`, no intermediate vector, no array on the stack.
fn read_custodian_secret(path: &Path) -> Result<CustodianSecret, String> {
    let text =
        read_secret_file(path).map_err(|e| format!("custodian key {}: {e}", path.display()))?;
    let text = text.trim_ascii();
    let b64 = data_encoding::BASE64URL_NOPAD;
    let not_a_key = || format!("custodian key {}: not a base64url key", path.display());
    match b64.decode_len(text.len()) {
        Ok(32) => {}
        Ok(_) => return Err(format!("custodian key {}: not 32 bytes", path.display())),
        Err(_) => return Err(not_a_key()),
    }
    let mut key = Zeroizing::new([0u8; 32]);
    b64.decode_mut(text, &mut key[..])
        .map_err(|_| not_a_key())?;
    Ok(CustodianSecret::from_bytes(key))
}

/// Creates a new file (never replacing one) with `mode`, fsynced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custodian_key_reads_back_as_keygen_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("alice");
        assert_eq!(recovery_keygen(&out), ExitCode::SUCCESS);
        let secret = read_custodian_secret(&out.with_extension("key")).unwrap();
        let public = read_custodian_public(&out.with_extension("pub")).unwrap();
        assert_eq!(&secret.public_key(), public.as_bytes());
    }

    #[test]
    fn a_bad_custodian_key_file_is_refused_precisely() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let refused = |content: &[u8]| {
            fs::write(&path, content).unwrap();
            match read_custodian_secret(&path) {
                Ok(_) => panic!("accepted {content:?}"),
                Err(e) => e,
            }
        };
        let b64 = data_encoding::BASE64URL_NOPAD;
        assert!(refused(b64.encode(&[7; 31]).as_bytes()).ends_with("not 32 bytes"));
        assert!(refused(b64.encode(&[7; 33]).as_bytes()).ends_with("not 32 bytes"));
        let mut bad = b64.encode(&[7; 32]).into_bytes();
        bad[5] = b'*';
        assert!(refused(&bad).ends_with("not a base64url key"));
        // Surrounding whitespace (an editor's newline) is fine.
        let padded = format!("\n {}\n", b64.encode(&[7; 32]));
        fs::write(&path, padded).unwrap();
        assert!(read_custodian_secret(&path).is_ok());
        assert!(read_custodian_secret(&dir.path().join("missing")).is_err());
    }
}
