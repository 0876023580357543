//! The signer's declared confinement, applied for real: a forbidden call kills it (SIGSYS),
//! and what it needs to serve (threads, the key shield's locked pages, randomness, its
//! socket) still works. Run as root (CI and this project's machines), the fork also takes
//! the signer's uid and its own network namespace.

use custos_sys::confine::{libc, Identity, NetnsOutcome, Policy};

#[path = "../../sys/tests/support/probe.rs"]
mod probe;
use probe::*;

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
