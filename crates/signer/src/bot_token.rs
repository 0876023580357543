//! The Telegram bot token in the data directory, sealed under a key derived from the
//! master key (`custos/v1/bot-token`): `<data-dir>/telegram/bot-token.sealed`.
//!
//! [`install`] is what `custos telegram setup` calls; the signer reads it back with
//! [`load`] (or [`crate::Service::load_bot_token`]) and hands it to the pool only inside
//! the sealed channel. No error or `Debug` output here ever contains the token.

use custos_crypto::bot_token::{self as sealed_box, BotTokenBoxError};
use custos_crypto::keys::BotTokenKey;
use custos_crypto::seal::{Seal, SealError};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Directory under the data directory that holds Telegram state.
pub const DIR_NAME: &str = "telegram";
/// File name of the sealed token inside [`DIR_NAME`].
pub const FILE_NAME: &str = "bot-token.sealed";
/// Fewest characters of the token's secret part (after the colon).
pub const MIN_SECRET_CHARS: usize = 35;

/// Why a token could not be installed or loaded. Never contains the token.
#[derive(Debug, thiserror::Error)]
pub enum BotTokenError {
    /// The token does not look like one @BotFather issues.
    #[error(
        "invalid bot token: expected <bot id digits>:<at least {MIN_SECRET_CHARS} characters of \
         A-Z a-z 0-9 _ ->, as @BotFather gives it (the token is not shown here)"
    )]
    InvalidFormat,
    /// The seal could not produce the master key.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Reading or writing the file failed.
    #[error("bot token file {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The sealed file does not open under this master key, or holds no valid token.
    #[error("bot token file {path} failed its integrity check: {reason}")]
    Integrity {
        /// The file.
        path: PathBuf,
        /// Why (secret-free).
        reason: String,
    },
    /// Sealing failed (the OS random number generator).
    #[error("could not seal the bot token: {0}")]
    Sealing(BotTokenBoxError),
}

/// Path of the sealed token in a data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR_NAME).join(FILE_NAME)
}

/// Checks the shape `<digits>:<35 or more of [A-Za-z0-9_-]>`.
pub fn validate(token: &str) -> Result<(), BotTokenError> {
    let Some((id, secret)) = token.split_once(':') else {
        return Err(BotTokenError::InvalidFormat);
    };
    let id_ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    let secret_ok = secret.len() >= MIN_SECRET_CHARS
        && secret.len() <= 200
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if id_ok && secret_ok {
        Ok(())
    } else {
        Err(BotTokenError::InvalidFormat)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BotTokenError + '_ {
    move |source| BotTokenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Validates `token`, seals it under the master key from `seal` (created on first use,
/// like [`crate::Service::start`]) and writes it atomically to
/// `<data_dir>/telegram/bot-token.sealed` (temporary file, fsync, rename, fsync of the
/// directory; file mode 0600, directory 0700), replacing any earlier token.
pub fn install(seal: &dyn Seal, data_dir: &Path, token: &str) -> Result<(), BotTokenError> {
    validate(token)?;
    let key = {
        let master = seal.unseal_or_create()?;
        BotTokenKey::derive(&master)
    };
    let sealed = sealed_box::seal(&key, token.as_bytes()).map_err(BotTokenError::Sealing)?;
    let dir = data_dir.join(DIR_NAME);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
    let target = dir.join(FILE_NAME);
    let mut suffix = [0u8; 8];
    custos_crypto::os_random(&mut suffix)
        .map_err(|_| BotTokenError::Sealing(BotTokenBoxError::Random))?;
    let tmp = dir.join(format!(
        ".{FILE_NAME}.tmp-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let result = write_new(&tmp, &sealed).and_then(|()| {
        fs::rename(&tmp, &target).map_err(io(&target))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), BotTokenError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Reads and opens the sealed token: `None` when none is installed; an
/// [`BotTokenError::Integrity`] error when the file does not open under `key` or does
/// not hold a valid token.
pub fn load(
    key: &BotTokenKey,
    data_dir: &Path,
) -> Result<Option<Zeroizing<String>>, BotTokenError> {
    let path = path(data_dir);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    let integrity = |reason: String| BotTokenError::Integrity {
        path: path.clone(),
        reason,
    };
    let plain = sealed_box::open(key, &bytes).map_err(|e| integrity(e.to_string()))?;
    let text =
        std::str::from_utf8(&plain).map_err(|_| integrity("the token is not UTF-8".into()))?;
    validate(text).map_err(|_| integrity("the token has an invalid format".into()))?;
    Ok(Some(Zeroizing::new(text.to_owned())))
}

/// [`load`] with the key derived from the master key the seal holds (for tools that have
/// no [`crate::Service`]).
pub fn load_with_seal(
    seal: &dyn Seal,
    data_dir: &Path,
) -> Result<Option<Zeroizing<String>>, BotTokenError> {
    let key = {
        let master = seal.unseal_or_create()?;
        BotTokenKey::derive(&master)
    };
    load(&key, data_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_crypto::seal::DevSeal;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ_-xyz";

    #[test]
    fn install_and_load_round_trip_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let seal = DevSeal::in_data_dir(dir.path());
        assert!(load_with_seal(&seal, dir.path()).unwrap().is_none());
        install(&seal, dir.path(), TOKEN).unwrap();
        assert_eq!(
            load_with_seal(&seal, dir.path()).unwrap().unwrap().as_str(),
            TOKEN
        );
        let file = fs::metadata(path(dir.path())).unwrap();
        assert_eq!(file.permissions().mode() & 0o777, 0o600);
        let d = fs::metadata(dir.path().join(DIR_NAME)).unwrap();
        assert_eq!(d.permissions().mode() & 0o777, 0o700);
        let raw = fs::read(path(dir.path())).unwrap();
        assert!(!raw.windows(9).any(|w| w == b"123456789"));
        // Replacing works and leaves no temporary files behind.
        let other = "42:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ_-xyz";
        install(&seal, dir.path(), other).unwrap();
        assert_eq!(
            load_with_seal(&seal, dir.path()).unwrap().unwrap().as_str(),
            other
        );
        assert_eq!(fs::read_dir(dir.path().join(DIR_NAME)).unwrap().count(), 1);
    }

    #[test]
    fn bad_formats_are_refused_without_echoing_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let seal = DevSeal::in_data_dir(dir.path());
        for bad in [
            "",
            "nocolon",
            "abc:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ",
            "123:short-secret-SECRETVALUE",
            "123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ!!",
            ":AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQxx",
            "123:AAHdqTcvCH1vGWJxfSeofSAs0K5PAL sawQxx",
        ] {
            let e = install(&seal, dir.path(), bad).unwrap_err();
            assert!(matches!(e, BotTokenError::InvalidFormat), "{bad}");
            let text = format!("{e} {e:?}");
            if let Some((_, secret)) = bad.split_once(':') {
                if secret.len() > 4 {
                    assert!(!text.contains(secret), "{text}");
                }
            }
        }
        assert!(!path(dir.path()).exists());
        assert!(!dir.path().join(DevSeal::FILE_NAME).exists());
    }

    #[test]
    fn a_tampered_or_foreign_file_is_an_integrity_error() {
        let dir = tempfile::tempdir().unwrap();
        let seal = DevSeal::in_data_dir(dir.path());
        install(&seal, dir.path(), TOKEN).unwrap();
        let mut raw = fs::read(path(dir.path())).unwrap();
        raw[30] ^= 1;
        fs::write(path(dir.path()), &raw).unwrap();
        let e = load_with_seal(&seal, dir.path()).unwrap_err();
        assert!(matches!(e, BotTokenError::Integrity { .. }), "{e}");
        // A token sealed under another master key.
        let other = tempfile::tempdir().unwrap();
        install(&DevSeal::in_data_dir(other.path()), other.path(), TOKEN).unwrap();
        fs::copy(path(other.path()), path(dir.path())).unwrap();
        let e = load_with_seal(&seal, dir.path()).unwrap_err();
        assert!(matches!(e, BotTokenError::Integrity { .. }), "{e}");
        assert!(!format!("{e} {e:?}").contains("AAHdq"));
    }
}
