//! Memory for secrets: pages that are locked (never swapped), left out of core dumps and
//! wiped in a forked child, and wiped again before they are returned; stack scrubbing; and
//! locking a whole process.
//!
//! None of this hides a secret from a reader of `/proc/PID/mem` with root's rights (the
//! platform notes measured that a no-access page is still readable there): that is the job of
//! the key shield in `custos-crypto`, which never keeps a key whole. These pages keep the
//! shield's material off swap and out of core files, and limit what a fork inherits.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

/// Bytes in one [`LockedPage`] (the x86-64 page size; on systems with larger pages the
/// mapping is rounded up by the kernel and only the first `PAGE` bytes are used).
pub const PAGE: usize = 4096;

/// Bytes of stack [`scrub_stack`] overwrites: more than the deepest signing path uses
/// (ed25519 signing, AEAD opening, HMAC and the shield's walk stay under a few KiB; the
/// memory-scan test checks that no seed or key survives it).
pub const SCRUB_BYTES: usize = 16 * 1024;

/// Why locked memory could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The anonymous mapping failed.
    #[error("mmap of a secret page: {0}")]
    Map(nix::Error),
    /// The kernel refused to keep the page out of core dumps or forked children.
    #[error("madvise({advice}) of a secret page: {source}")]
    Advise {
        /// Which advice.
        advice: &'static str,
        /// What the kernel said.
        source: nix::Error,
    },
    /// The page could not be locked in RAM (RLIMIT_MEMLOCK too low without CAP_IPC_LOCK).
    #[error("mlock of a secret page: {0} (raise RLIMIT_MEMLOCK or run as root)")]
    Lock(nix::Error),
    /// Locking the whole process failed.
    #[error("mlockall: {0}")]
    LockAll(nix::Error),
}

/// One page of anonymous memory for secret material: locked in RAM, excluded from core
/// dumps (`MADV_DONTDUMP`), zero in any forked child (`MADV_WIPEONFORK`), and zeroed before
/// it is unmapped. Its own mapping, so each page lands at an address of the kernel's
/// choosing rather than next to other secret pages in the heap.
pub struct LockedPage {
    ptr: NonNull<u8>,
}

// SAFETY (both impls): a LockedPage is the sole owner of its private mapping; shared access
// only reads it through `&self`, mutation needs `&mut self`, exactly like a `Box<[u8; PAGE]>`.
#[allow(unsafe_code)]
unsafe impl Send for LockedPage {}
#[allow(unsafe_code)]
unsafe impl Sync for LockedPage {}

impl LockedPage {
    /// Maps, advises and locks a fresh zero page.
    pub fn new() -> Result<Self, MemoryError> {
        use nix::sys::mman::{MapFlags, ProtFlags};
        let len = NonZeroUsize::new(PAGE).expect("PAGE is not zero");
        #[allow(unsafe_code)]
        // SAFETY: a new private anonymous mapping at an address the kernel chooses; it
        // aliases nothing, and is unmapped only in Drop.
        let ptr = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE,
            )
        }
        .map_err(MemoryError::Map)?;
        let page = Self { ptr: ptr.cast() };
        page.advise(nix::sys::mman::MmapAdvise::MADV_DONTDUMP, "MADV_DONTDUMP")?;
        page.advise(
            nix::sys::mman::MmapAdvise::MADV_WIPEONFORK,
            "MADV_WIPEONFORK",
        )?;
        #[allow(unsafe_code)]
        // SAFETY: locks exactly the mapping this value owns.
        unsafe { nix::sys::mman::mlock(page.ptr.cast::<c_void>(), PAGE) }
            .map_err(MemoryError::Lock)?;
        Ok(page)
    }

    fn advise(
        &self,
        advice: nix::sys::mman::MmapAdvise,
        name: &'static str,
    ) -> Result<(), MemoryError> {
        #[allow(unsafe_code)]
        // SAFETY: both advices only change how the kernel treats this page in core dumps and
        // forks; its contents and validity in this process are unchanged.
        unsafe { nix::sys::mman::madvise(self.ptr.cast::<c_void>(), PAGE, advice) }.map_err(
            |source| MemoryError::Advise {
                advice: name,
                source,
            },
        )
    }

    /// The page's bytes.
    pub fn bytes(&self) -> &[u8; PAGE] {
        #[allow(unsafe_code)]
        // SAFETY: the mapping is PAGE readable, writable bytes owned by self for its whole
        // life; the shared borrow of self rules out a concurrent `&mut`.
        unsafe {
            &*self.ptr.as_ptr().cast::<[u8; PAGE]>()
        }
    }

    /// The page's bytes, to fill.
    pub fn bytes_mut(&mut self) -> &mut [u8; PAGE] {
        #[allow(unsafe_code)]
        // SAFETY: as in `bytes`, and the exclusive borrow of self makes this the only
        // reference.
        unsafe {
            &mut *self.ptr.as_ptr().cast::<[u8; PAGE]>()
        }
    }

    /// The page's address (for tests that look it up in `/proc/self/smaps`).
    pub fn address(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

impl Drop for LockedPage {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bytes_mut()[..]);
        #[allow(unsafe_code)]
        // SAFETY: unlocks and unmaps the mapping this value owns, once; no reference to it
        // outlives self.
        unsafe {
            let _ = nix::sys::mman::munlock(self.ptr.cast::<c_void>(), PAGE);
            let _ = nix::sys::mman::munmap(self.ptr.cast::<c_void>(), PAGE);
        }
    }
}

/// Overwrites [`SCRUB_BYTES`] of stack below the caller with zeros.
///
/// Called right after a secret was used by code this crate does not control (a hash's
/// block buffer, a cipher's key schedule, a signature's nonce state live in stack frames
/// that are popped but not wiped): this frame lies over the ones those calls used, so their
/// leftovers are gone before the next request. `black_box` keeps the compiler from
/// dropping the writes as dead.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; SCRUB_BYTES];
    std::hint::black_box(&mut area);
}

/// Locks every current and future page of this process in RAM (`mlockall`), so no secret
/// (nor a leftover of one) is ever written to swap. Needs root or CAP_IPC_LOCK for more
/// than RLIMIT_MEMLOCK bytes; callers without them lock only their [`LockedPage`]s.
pub fn lock_all() -> Result<(), MemoryError> {
    use nix::sys::mman::{mlockall, MlockAllFlags};
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(MemoryError::LockAll)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The VmFlags line of the mapping that starts at `addr`, from /proc/self/smaps.
    fn vm_flags(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut in_it = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((start, _)) = range.split_once('-') {
                    if start.chars().all(|c| c.is_ascii_hexdigit()) && !start.is_empty() {
                        in_it = usize::from_str_radix(start, 16).unwrap() == addr;
                        continue;
                    }
                }
            }
            if in_it {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return flags.trim().to_owned();
                }
            }
        }
        panic!("no mapping at {addr:#x}");
    }

    #[test]
    fn a_locked_page_is_locked_undumped_wiped_on_fork_and_its_own_mapping() {
        let mut page = LockedPage::new().unwrap();
        assert_eq!(page.bytes(), &[0u8; PAGE]);
        page.bytes_mut()[..4].copy_from_slice(b"abcd");
        assert_eq!(&page.bytes()[..4], b"abcd");
        let flags = vm_flags(page.address());
        for flag in ["lo", "dd", "wf"] {
            assert!(
                flags.split(' ').any(|f| f == flag),
                "{flag} missing: {flags}"
            );
        }
        let other = LockedPage::new().unwrap();
        assert_ne!(other.address(), page.address());
        let addr = page.address();
        drop(page);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        assert!(
            !smaps.contains(&format!("{addr:x}-")),
            "the page is unmapped on drop"
        );
    }
}
