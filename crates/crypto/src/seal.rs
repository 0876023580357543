//! Seals: where the master key comes from.
//!
//! A [`Seal`] yields the master key to the signer at start-up. Production uses
//! a TPM bound to the measured boot state (a later backend); development uses
//! [`DevSeal`], a plain file in the data directory that anyone who can read
//! the disk can steal. The signer announces the seal's name and security at
//! every start so an insecure seal is never mistaken for a real one.

use crate::keys::{MasterKey, KEY_LEN};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Why the master key could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading or writing the sealed blob failed.
    #[error("seal {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The sealed blob is not in a known format.
    #[error("seal {0}: not a Custos development seal (bad magic or length)")]
    Format(PathBuf),
    /// The sealed blob's permissions let others read it.
    #[error("seal {0}: file is readable by group or others; refusing to use it (chmod 600)")]
    Permissions(PathBuf),
    /// The OS random number generator failed.
    #[error(transparent)]
    Random(#[from] crate::RandomError),
    /// The TPM seal could not produce the key (no seal yet, the TPM refused the policy,
    /// the image was rolled back, ...); the message names which, and how to fix it.
    #[error("TPM seal: {0}")]
    Tpm(Box<dyn std::error::Error + Send + Sync>),
}

/// A source of the master key.
pub trait Seal {
    /// Short name shown in logs and health ("development", "tpm").
    fn name(&self) -> &'static str;
    /// Whether this seal protects the key against someone holding the disk.
    fn is_secure(&self) -> bool;
    /// Unseals the master key, creating and sealing a fresh one on first use.
    fn unseal_or_create(&self) -> Result<MasterKey, SealError>;
}

/// Development seal: the master key in a file, protected only by file permissions.
#[derive(Debug, Clone)]
pub struct DevSeal {
    path: PathBuf,
}

const DEV_MAGIC: &[u8; 16] = b"CUSTOS-DEV-SEAL1";

impl DevSeal {
    /// File name of the development seal inside the data directory.
    pub const FILE_NAME: &'static str = "dev-seal.key";

    /// The development seal of a data directory.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(Self::FILE_NAME),
        }
    }

    /// Path of the sealed blob.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The banner printed at every start.
    pub fn warning(&self) -> String {
        format!(
            "\n\
             ************************************************************************\n\
             *  INSECURE DEVELOPMENT SEAL                                           *\n\
             *  The master key is stored in plain form in {:<25} *\n\
             *  Anyone who can read that file can decrypt every wallet.             *\n\
             *  Never use this seal for real funds: use the TPM seal in production. *\n\
             ************************************************************************\n",
            Self::FILE_NAME
        )
    }

    fn io(&self, source: std::io::Error) -> SealError {
        SealError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read_existing(&self, mut file: File) -> Result<MasterKey, SealError> {
        let mode = file
            .metadata()
            .map_err(|e| self.io(e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(SealError::Permissions(self.path.clone()));
        }
        // Straight from the file into one wiped buffer, one byte longer than a seal to see
        // a longer file: no `BufReader`, no `Vec` that `read_to_end` could grow (a grown
        // `Zeroizing<Vec>` wipes only its last allocation, not the one it left).
        let mut buf = Zeroizing::new([0u8; DEV_MAGIC.len() + KEY_LEN + 1]);
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        if len != DEV_MAGIC.len() + KEY_LEN || &buf[..DEV_MAGIC.len()] != DEV_MAGIC {
            return Err(SealError::Format(self.path.clone()));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&buf[DEV_MAGIC.len()..len]);
        Ok(MasterKey::from_bytes(key))
    }

    fn create(&self) -> Result<MasterKey, SealError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        crate::os_random(key.as_mut())?;
        let mut blob = Zeroizing::new(Vec::with_capacity(DEV_MAGIC.len() + KEY_LEN));
        blob.extend_from_slice(DEV_MAGIC);
        blob.extend_from_slice(key.as_ref());
        // Write to a temporary name, fsync, then link into place: a crash never
        // leaves a half-written seal, and a concurrent creator cannot be overwritten.
        let tmp = self.path.with_extension("tmp");
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        f.write_all(&blob).map_err(|e| self.io(e))?;
        f.sync_all().map_err(|e| self.io(e))?;
        drop(f);
        let linked = fs::hard_link(&tmp, &self.path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            // Someone else created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = File::open(&self.path).map_err(|e| self.io(e))?;
                return self.read_existing(file);
            }
            Err(e) => return Err(self.io(e)),
        }
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.io(e))?;
        }
        Ok(MasterKey::from_bytes(key))
    }
}

impl Seal for DevSeal {
    fn name(&self) -> &'static str {
        "development"
    }

    fn is_secure(&self) -> bool {
        false
    }

    fn unseal_or_create(&self) -> Result<MasterKey, SealError> {
        match File::open(&self.path) {
            Ok(file) => self.read_existing(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create(),
            Err(e) => Err(self.io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPurpose;

    #[test]
    fn creates_once_then_unseals_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let seal = DevSeal::in_data_dir(dir.path());
        let a = seal.unseal_or_create().unwrap();
        let b = seal.unseal_or_create().unwrap();
        assert_eq!(
            format!("{:?}", a.derive(KeyPurpose::WalletWrap).bytes()),
            format!("{:?}", b.derive(KeyPurpose::WalletWrap).bytes())
        );
        let mode = fs::metadata(seal.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!seal.is_secure());
        assert!(seal.warning().contains("INSECURE"));
    }

    #[test]
    fn refuses_corrupt_or_world_readable_seal() {
        let dir = tempfile::tempdir().unwrap();
        let seal = DevSeal::in_data_dir(dir.path());
        seal.unseal_or_create().unwrap();
        fs::set_permissions(seal.path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            seal.unseal_or_create(),
            Err(SealError::Permissions(_))
        ));
        fs::set_permissions(seal.path(), fs::Permissions::from_mode(0o600)).unwrap();
        let mut bytes = fs::read(seal.path()).unwrap();
        bytes.pop();
        fs::write(seal.path(), bytes).unwrap();
        assert!(matches!(seal.unseal_or_create(), Err(SealError::Format(_))));
    }
}
