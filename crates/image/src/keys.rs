//! The operator's Secure Boot keys: platform key (PK), key exchange key (KEK) and
//! signature database key (db), each an RSA 2048 self-signed certificate made with the
//! `openssl` command, plus the owner GUID their firmware entries carry.
//!
//! Layout of the key directory: `PK.key PK.pem PK.der KEK.key KEK.pem KEK.der db.key
//! db.pem db.der owner.guid`. Private keys are mode 0600 and only ever handled by
//! `openssl` and `sbsign`, never read by this program.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tool::{run, ToolError};

/// The three Secure Boot key roles, in enrollment order.
pub const ROLES: [&str; 3] = ["PK", "KEK", "db"];

/// Certificates' validity (days): long, since the firmware ignores it and expiry would only
/// break rebuilding.
const VALID_DAYS: &str = "36500";

/// Why keys could not be made or found.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// `openssl` failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The directory already holds keys; they are never overwritten.
    #[error("{0} already exists: refusing to overwrite Secure Boot keys")]
    Exists(PathBuf),
    /// A file of the key set is missing or unreadable.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `owner.guid` is not a GUID.
    #[error("{0} does not hold a GUID")]
    BadGuid(PathBuf),
}

/// Paths of a key directory's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    dir: PathBuf,
}

impl KeySet {
    /// The key set in `dir` (not checked until used).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<role>.key`: the private key (PEM).
    pub fn key(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{role}.key"))
    }

    /// `<role>.pem`: the certificate (PEM).
    pub fn cert_pem(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{role}.pem"))
    }

    /// `<role>.der`: the certificate (DER).
    pub fn cert_der(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{role}.der"))
    }

    /// `owner.guid`'s path.
    pub fn owner_guid_path(&self) -> PathBuf {
        self.dir.join("owner.guid")
    }

    /// The owner GUID of the firmware entries (signature owner in PK, KEK and db).
    pub fn owner_guid(&self) -> Result<String, KeysError> {
        let path = self.owner_guid_path();
        let text = std::fs::read_to_string(&path).map_err(|source| KeysError::Io {
            what: format!("read {}", path.display()),
            source,
        })?;
        let guid = text.trim().to_ascii_lowercase();
        if is_guid(&guid) {
            Ok(guid)
        } else {
            Err(KeysError::BadGuid(path))
        }
    }

    /// Generates PK, KEK and db with `openssl` into the (new or empty) directory, and a
    /// random owner GUID. `name` goes into the certificates' common names.
    pub fn generate(dir: impl Into<PathBuf>, name: &str) -> Result<Self, KeysError> {
        let set = Self::new(dir);
        let io = |what: String| move |source| KeysError::Io { what, source };
        std::fs::create_dir_all(&set.dir).map_err(io(format!("create {}", set.dir.display())))?;
        for path in ROLES
            .iter()
            .flat_map(|r| [set.key(r), set.cert_pem(r), set.cert_der(r)])
            .chain([set.owner_guid_path()])
        {
            if path.exists() {
                return Err(KeysError::Exists(path));
            }
        }
        for role in ROLES {
            let key = set.key(role);
            run(
                Command::new("openssl")
                    .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"])
                    .args(["-days", VALID_DAYS, "-subj"])
                    .arg(format!("/CN={name} {role}/"))
                    .arg("-keyout")
                    .arg(&key)
                    .arg("-out")
                    .arg(set.cert_pem(role)),
                "Debian package openssl",
            )?;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .map_err(io(format!("chmod {}", key.display())))?;
            run(
                Command::new("openssl")
                    .args(["x509", "-outform", "DER", "-in"])
                    .arg(set.cert_pem(role))
                    .arg("-out")
                    .arg(set.cert_der(role)),
                "Debian package openssl",
            )?;
        }
        let guid = random_guid().map_err(io("read random bytes".into()))?;
        std::fs::write(set.owner_guid_path(), format!("{guid}\n"))
            .map_err(io("write owner.guid".into()))?;
        Ok(set)
    }
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A random (version 4) GUID from the OS RNG.
fn random_guid() -> std::io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids() {
        let g = random_guid().unwrap();
        assert!(is_guid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert!(!is_guid("not-a-guid"));
        assert!(!is_guid("0000000-0000-0000-0000-000000000000"));
    }
}
