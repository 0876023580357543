//! The pool's declared confinement, applied for real: it cannot read the data directory
//! (the store) nor anything but the certificate files it was given and what name
//! resolution reads; it connects only to its endpoints' ports; it cannot execute a program
//! or trace another process. Calls off its list fail with EPERM.

use custos_pool::confine::PoolNeeds;
use custos_sys::confine::{libc, Policy, Report};
use std::path::PathBuf;

const EPERM: End = End::Exit(libc::EPERM);
const EACCES: End = End::Exit(libc::EACCES);

/// A data directory with a store, and a certificate file elsewhere (fixed paths: the
/// re-run process builds the same policy).
fn files() -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join("custos-pool-confine-test");
    let data = base.join("data");
    let tls = base.join("tls");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(data.join("custos.sqlite3"), b"wallet records").unwrap();
    std::fs::write(tls.join("page.pem"), b"-----BEGIN CERTIFICATE-----").unwrap();
    (data, tls.join("page.pem"))
}

/// The port the pool may connect to (its "Bot API"), and one it may not; both listening.
fn listeners() -> [std::net::TcpListener; 2] {
    let bind = |port| std::net::TcpListener::bind(("127.0.0.1", port));
    // Fixed ports, so the re-run builds the same policy; retried upward if taken.
    let mut port = 47_311;
    loop {
        if let (Ok(a), Ok(b)) = (bind(port), bind(port + 1)) {
            return [a, b];
        }
        port += 2;
    }
}

fn policy_for(cert: PathBuf, allowed: u16) -> Policy {
    // No identity: these checks are about landlock and seccomp (a root test run's
    // temporary files are not readable by the pool's uid anyway).
    custos_pool::confine::policy(
        None,
        &PoolNeeds {
            files: vec![cert],
            listen_ports: Vec::new(),
            connect_ports: vec![allowed],
        },
    )
}

#[test]
fn the_pool_cannot_read_the_data_dir_but_reads_its_certificate() {
    let name = "the_pool_cannot_read_the_data_dir_but_reads_its_certificate";
    let (data, cert) = files();
    let policy = || policy_for(files().1, 443);
    if let Some(end) = confined(name, policy, |_| {
        io_errno(std::fs::read(data.join("custos.sqlite3")))
    }) {
        assert_eq!(end, EACCES);
    }
    if let Some(end) = confined(name, policy, |_| io_errno(std::fs::read_dir(&data))) {
        assert_eq!(end, EACCES);
    }
    if let Some(end) = confined(name, policy, |_| {
        let cert = io_errno(std::fs::read(&cert));
        if cert != 0 {
            return cert;
        }
        io_errno(std::fs::read("/etc/hosts"))
    }) {
        assert_eq!(end, End::Exit(0));
    }
}

#[test]
fn the_pool_connects_only_to_its_endpoints() {
    let name = "the_pool_connects_only_to_its_endpoints";
    let [allowed, other] = listeners();
    let (allowed, other) = (allowed.local_addr().unwrap(), other.local_addr().unwrap());
    let policy = || policy_for(files().1, allowed.port());
    if let Some(end) = confined(name, policy, |_| {
        io_errno(std::net::TcpStream::connect(allowed))
    }) {
        assert_eq!(end, End::Exit(0));
    }
    if let Some(end) = confined(name, policy, |report| {
        // Landlock's TCP rules need Linux 6.7; on older kernels this is not enforced.
        if report.tcp.is_none() {
            return libc::EACCES;
        }
        io_errno(std::net::TcpStream::connect(other))
    }) {
        assert_eq!(end, EACCES);
    }
}

#[test]
fn the_pool_cannot_execute_a_program_or_trace_or_read_another_process() {
    let name = "the_pool_cannot_execute_a_program_or_trace_or_read_another_process";
    let parent = std::process::id() as i32;
    let policy = || policy_for(files().1, 443);
    if let Some(end) = confined(name, policy, |_| exec_true()) {
        assert_eq!(end, EPERM);
    }
    if let Some(end) = confined(name, policy, |_| ptrace_attach(parent)) {
        assert_eq!(end, EPERM);
    }
    let addr = &parent as *const i32 as usize;
    if let Some(end) = confined(name, policy, |_| vm_read(parent, addr)) {
        assert_eq!(end, EPERM);
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
