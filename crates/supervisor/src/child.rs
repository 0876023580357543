//! The first steps of every child process.

use nix::sys::signal::Signal;
use nix::sys::stat::{fstat, SFlag};
use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

/// Why a child could not set itself up.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The descriptor was already adopted in this process.
    #[error("file descriptor {0} was already adopted")]
    AlreadyAdopted(RawFd),
    /// The descriptor is not open or is not a socket.
    #[error("file descriptor {0} is not a socket handed over by the supervisor")]
    NotASocket(RawFd),
    /// A system call failed.
    #[error("{0}: {1}")]
    Sys(&'static str, nix::Error),
    /// The view key socket ended before 32 bytes.
    #[error("the supervisor's view key on file descriptor {0} is incomplete")]
    ShortViewKey(RawFd),
}

static ADOPTED: Mutex<Option<HashSet<RawFd>>> = Mutex::new(None);

/// Takes ownership of a socket the supervisor mapped to `fd` in this process.
pub fn adopt_socket(fd: RawFd) -> Result<UnixStream, ChildError> {
    {
        let mut adopted = ADOPTED.lock().unwrap_or_else(|p| p.into_inner());
        if !adopted.get_or_insert_with(HashSet::new).insert(fd) {
            return Err(ChildError::AlreadyAdopted(fd));
        }
    }
    // Check that the number names an open socket before claiming it; fcntl on a
    // raw number never touches memory.
    nix::fcntl::fcntl(
        unsafe_borrow(fd).ok_or(ChildError::NotASocket(fd))?,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|_| ChildError::NotASocket(fd))?;
    #[allow(unsafe_code)]
    // SAFETY: the supervisor dup2'ed a socket to `fd` before exec; nothing else in
    // this process owns that number (checked above: each number is adopted once),
    // so the OwnedFd becomes its single owner and closes it exactly once.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let stat = fstat(&owned).map_err(|e| ChildError::Sys("fstat", e))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(ChildError::NotASocket(fd));
    }
    Ok(UnixStream::from(owned))
}

/// Borrows a raw descriptor number for one fcntl call, if it is non-negative.
fn unsafe_borrow(fd: RawFd) -> Option<std::os::fd::BorrowedFd<'static>> {
    if fd < 0 {
        return None;
    }
    #[allow(unsafe_code)]
    // SAFETY: used only for an immediate fcntl(F_SETFD) that fails cleanly with
    // EBADF if the number is not open; the borrow does not outlive the call site.
    Some(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}

/// Names the process (as `ps` shows it) and asks the kernel to kill it when
/// the supervisor dies, so no child outlives a crashed parent.
pub fn init_child(name: &str) -> Result<(), ChildError> {
    let cname =
        CString::new(name).map_err(|_| ChildError::Sys("prctl name", nix::Error::EINVAL))?;
    nix::sys::prctl::set_name(&cname).map_err(|e| ChildError::Sys("prctl(PR_SET_NAME)", e))?;
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| ChildError::Sys("prctl(PR_SET_PDEATHSIG)", e))?;
    // The parent may have died before pdeathsig was armed.
    if nix::unistd::getppid() == nix::unistd::Pid::from_raw(1) {
        std::process::exit(1);
    }
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec, so nothing the
/// supervisor inherited from whoever started it leaks into the children:
/// each child gets exactly the sockets mapped for it.
pub fn close_inherited_on_exec() -> std::io::Result<usize> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<RawFd>().ok())
        {
            if fd > 2 {
                fds.push(fd);
            }
        }
    }
    let mut marked = 0;
    for fd in fds {
        // The read_dir handle itself is closed by now; EBADF is harmless.
        if let Some(borrowed) = unsafe_borrow(fd) {
            if nix::fcntl::fcntl(
                borrowed,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .is_ok()
            {
                marked += 1;
            }
        }
    }
    Ok(marked)
}

/// Reads the view key the supervisor wrote to the socket at `fd`, then closes it.
pub fn read_view_key(fd: RawFd) -> Result<custos_ipc::pool::ViewKey, ChildError> {
    use std::io::Read;
    let mut socket = adopt_socket(fd)?;
    let mut key = zeroize::Zeroizing::new([0u8; custos_ipc::pool::ViewKey::LEN]);
    socket
        .read_exact(key.as_mut())
        .map_err(|_| ChildError::ShortViewKey(fd))?;
    drop(socket);
    Ok(custos_ipc::pool::ViewKey::from_bytes(&key))
}
