//! The bridge's declared confinement, applied for real: it cannot trace or read another
//! process's memory, execute a program, dial out, or touch files outside its data
//! directory - and it can still use that directory and its API port. Calls off its list
//! fail with EPERM rather than kill it. (That it cannot read the running signer's memory,
//! under the signer's own uid, is checked live in `custos`'s `confinement` test.)

use custos_sys::confine::{libc, Policy};
use std::path::Path;

#[path = "../../sys/tests/support/probe.rs"]
mod probe;
use probe::*;

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
