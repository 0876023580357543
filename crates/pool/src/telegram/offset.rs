//! Where the `getUpdates` offset is kept between runs: the next `update_id`
//! wanted (the last accepted one + 1). Storing it is what makes an update
//! "done": the poller stores it only after the consumer accepted the update,
//! and acknowledges it to Telegram only by polling with it afterwards.
//!
//! The pool process itself keeps its offset in memory, advanced by the
//! bridge's acknowledgements ([`crate::events`]): after a restart Telegram
//! re-delivers whatever was not confirmed. This trait, with an in-memory and a
//! file implementation, serves [`super::poller::Poller`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why the offset could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    /// Reading or writing the file failed.
    #[error("offset file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold one decimal integer.
    #[error("offset file {path} is corrupt")]
    Corrupt {
        /// The file.
        path: String,
    },
}

/// Keeps the next `getUpdates` offset.
pub trait OffsetStore: Send + Sync {
    /// The stored offset; `None` before the first update.
    fn load(&self) -> Result<Option<i64>, OffsetError>;
    /// Stores `offset` durably before returning.
    fn store(&self, offset: i64) -> Result<(), OffsetError>;
}

/// An offset in memory (clones share it): survives a poller restart, not a
/// process restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryOffsetStore(Arc<Mutex<Option<i64>>>);

impl OffsetStore for MemoryOffsetStore {
    fn load(&self) -> Result<Option<i64>, OffsetError> {
        Ok(*self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn store(&self, offset: i64) -> Result<(), OffsetError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(offset);
        Ok(())
    }
}

/// An offset in a file, one decimal line, replaced atomically: written to a
/// temporary file beside it, fsynced, renamed over it, and the directory
/// fsynced, so a crash leaves the old or the new value, never a torn one.
#[derive(Debug, Clone)]
pub struct FileOffsetStore {
    path: PathBuf,
}

impl FileOffsetStore {
    /// The store at `path` (created on the first [`OffsetStore::store`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn io(&self, source: std::io::Error) -> OffsetError {
        OffsetError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }
}

impl OffsetStore for FileOffsetStore {
    fn load(&self) -> Result<Option<i64>, OffsetError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        let corrupt = || OffsetError::Corrupt {
            path: self.path.display().to_string(),
        };
        let line = text.strip_suffix('\n').ok_or_else(corrupt)?;
        if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return Err(corrupt());
        }
        line.parse().map(Some).map_err(|_| corrupt())
    }

    fn store(&self, offset: i64) -> Result<(), OffsetError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .ok_or_else(|| self.io(std::io::Error::other("no file name")))?;
        let mut tmp_name = name.to_os_string();
        tmp_name.push(".tmp");
        let tmp = dir.join(tmp_name);
        let mut file = std::fs::File::create(&tmp).map_err(|e| self.io(e))?;
        file.write_all(format!("{offset}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| self.io(e))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        sync_dir(&dir).map_err(|e| self.io(e))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offset");
        let s = FileOffsetStore::new(&path);
        assert_eq!(s.load().unwrap(), None);
        s.store(864_000_005).unwrap();
        assert_eq!(
            FileOffsetStore::new(&path).load().unwrap(),
            Some(864_000_005)
        );
        s.store(7).unwrap();
        assert_eq!(s.load().unwrap(), Some(7));
        assert!(!dir.path().join("offset.tmp").exists());
        for bad in ["", "12", "x\n", "1 2\n", "99999999999999999999\n"] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(s.load(), Err(OffsetError::Corrupt { .. })),
                "{bad:?}"
            );
        }
        let m = MemoryOffsetStore::default();
        m.clone().store(3).unwrap();
        assert_eq!(m.load().unwrap(), Some(3));
    }
}
