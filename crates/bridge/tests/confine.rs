//! The bridge's declared confinement, applied for real: it cannot trace or read another
//! process's memory, execute a program, dial out, or touch files outside its data
//! directory - and it can still use that directory and its API port. Calls off its list
//! fail with EPERM rather than kill it. (That it cannot read the running signer's memory,
//! under the signer's own uid, is checked live in `custos`'s `confinement` test.)

use custos_sys::confine::{libc, Policy, Report};
use std::path::Path;

const EPERM: End = End::Exit(libc::EPERM);
const EACCES: End = End::Exit(libc::EACCES);

/// The data directory the policy allows (fixed, because the re-run process must build
/// the same policy).
fn data_dir() -> &'static Path {
    let dir = std::env::temp_dir().join("custos-bridge-confine-test");
    std::fs::create_dir_all(&dir).unwrap();
    Box::leak(dir.into_boxed_path())
}

/// No identity: these checks are about seccomp and landlock, and a root test run's
/// temporary files are not readable by the bridge's uid.
fn policy() -> Policy {
    custos_bridge::confine::policy(None, data_dir(), 0)
}

#[test]
fn the_bridge_cannot_trace_another_process() {
    let parent = std::process::id() as i32;
    if let Some(end) = confined("the_bridge_cannot_trace_another_process", policy, |_| {
        ptrace_attach(parent)
    }) {
        assert_eq!(end, EPERM);
    }
}

#[test]
fn the_bridge_cannot_read_another_process_memory() {
    let parent = std::process::id() as i32;
    let addr = &parent as *const i32 as usize;
    let name = "the_bridge_cannot_read_another_process_memory";
    if let Some(end) = confined(name, policy, |_| vm_read(parent, addr)) {
        assert_eq!(end, EPERM);
    }
    // /proc is outside its landlock rules, whoever owns the target.
    if let Some(end) = confined(name, policy, |_| {
        io_errno(std::fs::File::open(format!("/proc/{parent}/mem")))
    }) {
        assert_eq!(end, EACCES);
    }
}

#[test]
fn the_bridge_cannot_execute_a_program() {
    if let Some(end) = confined("the_bridge_cannot_execute_a_program", policy, |_| {
        exec_true()
    }) {
        assert_eq!(end, EPERM);
    }
}

#[test]
fn the_bridge_cannot_dial_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    if let Some(end) = confined("the_bridge_cannot_dial_out", policy, |_| {
        io_errno(std::net::TcpStream::connect(addr))
    }) {
        assert_eq!(end, EPERM);
    }
}

#[test]
fn the_bridge_reads_and_writes_its_data_dir_only() {
    let name = "the_bridge_reads_and_writes_its_data_dir_only";
    let outside = std::env::temp_dir().join("custos-bridge-confine-outside");
    std::fs::write(&outside, b"not the bridge's").unwrap();
    if let Some(end) = confined(name, policy, |_| io_errno(std::fs::read(&outside))) {
        assert_eq!(end, EACCES);
    }
    if let Some(end) = confined(name, policy, |_| {
        let file = data_dir().join("store");
        let wrote = io_errno(std::fs::write(&file, b"records"));
        if wrote != 0 {
            return wrote;
        }
        match std::fs::read(&file) {
            Ok(b) if b == b"records" => io_errno(std::fs::remove_file(&file)),
            Ok(_) => 99,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        }
    }) {
        assert_eq!(end, End::Exit(0));
    }
}

#[test]
fn the_bridge_serves_its_api_port() {
    if let Some(end) = confined("the_bridge_serves_its_api_port", policy, |_| {
        // Port 0 in the policy: an ephemeral port, as in tests.
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => return e.raw_os_error().unwrap_or(-1),
        };
        let worker = std::thread::spawn(move || listener.accept().map(|_| ()));
        drop(worker);
        0
    }) {
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
