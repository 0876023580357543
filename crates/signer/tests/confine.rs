//! The signer's declared confinement, applied for real: a forbidden call kills it (SIGSYS),
//! and what it needs to serve (threads, the key shield's locked pages, randomness, its
//! socket) still works. Run as root (CI and this project's machines), the fork also takes
//! the signer's uid and its own network namespace.

use custos_sys::confine::{libc, Identity, NetnsOutcome, Policy, Report};

fn policy() -> Policy {
    custos_signer::confine::policy(Some(Identity {
        uid: 64101,
        gid: 64101,
    }))
}

const SIGSYS: End = End::Signal(libc::SIGSYS);

#[test]
fn the_signer_is_killed_when_it_opens_a_file() {
    if let Some(end) = confined("the_signer_is_killed_when_it_opens_a_file", policy, |_| {
        io_errno(std::fs::File::open("/etc/hostname"))
    }) {
        assert_eq!(end, SIGSYS);
    }
}

#[test]
fn the_signer_is_killed_when_it_creates_a_socket() {
    if let Some(end) = confined(
        "the_signer_is_killed_when_it_creates_a_socket",
        policy,
        |_| io_errno(std::net::UdpSocket::bind("127.0.0.1:0")),
    ) {
        assert_eq!(end, SIGSYS);
    }
}

#[test]
fn the_signer_is_killed_when_it_executes_a_program() {
    if let Some(end) = confined(
        "the_signer_is_killed_when_it_executes_a_program",
        policy,
        |_| exec_true(),
    ) {
        assert_eq!(end, SIGSYS);
    }
}

#[test]
fn the_signer_is_killed_when_it_forks() {
    if let Some(end) = confined("the_signer_is_killed_when_it_forks", policy, |_| {
        #[allow(unsafe_code)]
        // SAFETY: a fork that the filter refuses; had it succeeded, the child would _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            #[allow(unsafe_code)]
            // SAFETY: leaves the (unexpected) child at once.
            unsafe {
                libc::_exit(0)
            };
        }
        errno_of(pid.into())
    }) {
        assert_eq!(end, SIGSYS);
    }
}

#[test]
fn the_signer_is_killed_when_it_traces_or_reads_another_process() {
    let parent = std::process::id() as i32;
    if let Some(end) = confined(
        "the_signer_is_killed_when_it_traces_or_reads_another_process",
        policy,
        |_| ptrace_attach(parent),
    ) {
        assert_eq!(end, SIGSYS);
    }
    let addr = &parent as *const i32 as usize;
    if let Some(end) = confined(
        "the_signer_is_killed_when_it_traces_or_reads_another_process",
        policy,
        |_| vm_read(parent, addr),
    ) {
        assert_eq!(end, SIGSYS);
    }
}

/// What the signer does while serving still works under its policy: worker and shield
/// threads, locked secret pages, randomness, sleeping, its socket pair (made before, like
/// the supervisor's), log lines.
#[test]
fn the_signer_still_serves_under_its_policy() {
    use std::io::{Read, Write};
    let root = custos_sys::confine::running_as_root();
    let (mut bridge, signer) = std::os::unix::net::UnixStream::pair().unwrap();
    let end = confined(
        "the_signer_still_serves_under_its_policy",
        policy,
        |report| {
            if root && (report.uid != 64101 || report.netns != NetnsOutcome::Own) {
                return 90;
            }
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    std::thread::spawn(|| {
                        let mut page = custos_sys::memory::LockedPage::new().unwrap();
                        let mut seed = [0u8; 32];
                        #[allow(unsafe_code)]
                        // SAFETY: fills `seed`, which outlives the call.
                        let n = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
                        assert_eq!(n, 32);
                        page.bytes_mut()[..32].copy_from_slice(&seed);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    })
                })
                .collect();
            for w in workers {
                if w.join().is_err() {
                    return 91;
                }
            }
            let mut writer = signer.try_clone().unwrap();
            writer.write_all(b"signed").unwrap();
            let mut got = [0u8; 6];
            bridge.read_exact(&mut got).unwrap();
            eprintln!("the confined signer logs to stderr");
            if &got == b"signed" {
                0
            } else {
                92
            }
        },
    );
    if let Some(end) = end {
        assert_eq!(end, End::Exit(0));
    }
}

// ---- the confined child (the same helper in the signer's, bridge's and pool's tests) ----

/// Tells the re-executed test binary which test to run confined.
const INNER: &str = "CUSTOS_CONFINE_TEST";

/// How the confined child ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
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
fn confined(
    name: &str,
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
fn errno_of(result: i64) -> i32 {
    if result == -1 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// The errno of a failed std I/O call, 0 on success.
fn io_errno<T>(result: std::io::Result<T>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Tries to run /bin/true in place of this process; returns only if that failed.
fn exec_true() -> i32 {
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
fn ptrace_attach(pid: i32) -> i32 {
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
fn vm_read(pid: i32, addr: usize) -> i32 {
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
