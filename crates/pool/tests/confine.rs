//! The pool's declared confinement, applied for real: it cannot read the data directory
//! (the store) nor anything but the certificate files it was given and what name
//! resolution reads; it connects only to its endpoints' ports; it cannot execute a program
//! or trace another process. Calls off its list fail with EPERM.

use custos_pool::confine::PoolNeeds;
use custos_sys::confine::{libc, Policy};
use std::path::PathBuf;

#[path = "../../sys/tests/support/probe.rs"]
mod probe;
use probe::*;

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
