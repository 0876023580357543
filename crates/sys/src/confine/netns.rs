//! A network namespace of the process's own: no interface but a loopback that is down, so
//! no socket it could still create would reach anything.

use super::{ConfineError, NetnsOutcome};
use nix::sched::{unshare, CloneFlags};

/// Enters a new network namespace. As root it is required; unprivileged it needs a new user
/// namespace too, and when those are switched off (a hardened dev machine) the process goes
/// on in the shared namespace with a loud warning: seccomp still forbids creating sockets.
pub(super) fn enter_own(root: bool) -> Result<NetnsOutcome, ConfineError> {
    if root {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|source| ConfineError::Unshare {
            flags: "CLONE_NEWNET",
            source,
        })?;
        return Ok(NetnsOutcome::Own);
    }
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    if let Err(e) = unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET) {
        eprintln!(
            "custos: WARNING: no network namespace of its own (unshare(CLONE_NEWUSER|CLONE_NEWNET): {e}); \
             run as root or enable unprivileged user namespaces"
        );
        return Ok(NetnsOutcome::Unavailable);
    }
    // Map our own ids, so files and logs keep showing them (unmapped, they read 65534).
    // Writing the maps needs /proc/self owned by us, which a non-dumpable process (one
    // that changed uid) does not have; dumpable is switched off again in a later step.
    nix::sys::prctl::set_dumpable(true).map_err(ConfineError::Dumpable)?;
    let write = |file: &'static str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text)
            .map_err(|source| ConfineError::UserNamespaceMap { file, source })
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{uid} {uid} 1\n"))?;
    write("gid_map", format!("{gid} {gid} 1\n"))?;
    // The new user namespace gave us every capability inside it; keep none.
    drop_all_capabilities().map_err(ConfineError::DropCapabilities)?;
    Ok(NetnsOutcome::Own)
}

fn drop_all_capabilities() -> Result<(), nix::Error> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // _LINUX_CAPABILITY_VERSION_3: two 32-bit words of each set.
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    #[allow(unsafe_code)]
    // SAFETY: capset reads one header and two data structs laid out as the kernel's
    // __user_cap_header_struct / __user_cap_data_struct (repr(C), version 3); both live on
    // this stack frame for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            std::ptr::addr_of_mut!(header),
            data.as_ptr(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}
