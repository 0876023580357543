//! The confined child, shared by the confinement tests of custos-sys, the signer, the
//! bridge and the pool (each includes this file with `#[path]`): a probe runs in a forked,
//! single-threaded process that applied a policy, and the test reads how it ended.
#![allow(dead_code)]

use custos_sys::confine::{libc, Policy, Report};

/// Tells the re-executed test binary which test to run confined.
pub const INNER: &str = "CUSTOS_CONFINE_TEST";

/// How the confined child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// `_exit(code)`: the probe's answer (0, or the errno it met).
    Exit(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// Runs `probe` in a process confined by `policy` and says how that process ended.
///
/// Confinement must start single-threaded, and a test harness has threads: so the test
/// first re-runs itself alone (this binary, `--exact NAME`, one test thread) and returns
/// `None` after asserting that run passed; in that run it forks, and the fork - which has
/// one thread - applies `policy` and runs `probe`, whose return value is its exit code.
pub fn confined(
    name: &str,
    policy: impl FnOnce() -> Policy,
    probe: impl FnOnce(&Report) -> i32,
) -> Option<End> {
    confined_as(name, None, policy, probe)
}

/// As [`confined`], the child first becoming `uid` (as an unprivileged process would start).
pub fn confined_as(
    name: &str,
    uid: Option<u32>,
    policy: impl FnOnce() -> Policy,
    probe: impl FnOnce(&Report) -> i32,
) -> Option<End> {
    if std::env::var(INNER).as_deref() != Ok(name) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(INNER, name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "inner run failed: {stdout}\n{stderr}");
        assert!(
            stdout.contains("1 passed"),
            "inner run did not run {name}: {stdout}"
        );
        return None;
    }
    let policy = policy();
    #[allow(unsafe_code)]
    // SAFETY: this process runs only this test (the harness's other thread waits idle for
    // its result), so the forked child - one thread - finds no lock held; it leaves by
    // `_exit`, never returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        if let Some(uid) = uid {
            #[allow(unsafe_code)]
            // SAFETY: plain id changes in the single-threaded child.
            let r = unsafe { libc::setresgid(uid, uid, uid) + libc::setresuid(uid, uid, uid) };
            assert_eq!(r, 0, "dropping to uid {uid}");
        }
        let code = match custos_sys::confine::apply(&policy) {
            Ok(report) => probe(&report),
            Err(e) => {
                eprintln!("confinement failed: {e}");
                100
            }
        };
        #[allow(unsafe_code)]
        // SAFETY: ends the forked child at once, without unwinding into the harness.
        unsafe {
            libc::_exit(code)
        };
    }
    let mut status = 0;
    #[allow(unsafe_code)]
    // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    Some(if libc::WIFSIGNALED(status) {
        End::Signal(libc::WTERMSIG(status))
    } else {
        End::Exit(libc::WEXITSTATUS(status))
    })
}

/// 0 if `result` is not -1, else the errno it set.
pub fn errno_of(result: i64) -> i32 {
    if result == -1 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// The errno of a failed std I/O call, 0 on success.
pub fn io_errno<T>(result: std::io::Result<T>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Tries to run /bin/true in place of this process; returns only if that failed.
pub fn exec_true() -> i32 {
    let path = std::ffi::CString::new("/bin/true").unwrap();
    let argv = [path.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null()];
    #[allow(unsafe_code)]
    // SAFETY: NUL-terminated path and NULL-terminated argument and environment arrays
    // that outlive the call.
    let r = unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno_of(r as i64)
}

/// Tries to attach to `pid` with ptrace.
pub fn ptrace_attach(pid: i32) -> i32 {
    #[allow(unsafe_code)]
    // SAFETY: PTRACE_ATTACH reads no memory of ours.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_ATTACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    errno_of(r)
}

/// Tries to read 8 bytes of `pid`'s memory at `addr` with process_vm_readv.
pub fn vm_read(pid: i32, addr: usize) -> i32 {
    let mut buf = [0u8; 8];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    #[allow(unsafe_code)]
    // SAFETY: one local iovec over `buf`, which outlives the call; the remote one is only
    // read by the kernel (in the other process, or refused).
    let r = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    errno_of(r as i64)
}
