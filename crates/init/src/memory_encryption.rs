//! Step `memory_encryption`: what AMD memory encryption the kernel reports active.
//!
//! The kernel log is the authority: x86 `print_mem_encrypt_feature_info()` prints
//! `Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP` (or `... AMD SME` on a
//! host, `... Intel TDX` in a TDX guest) once at boot. `/proc/cpuinfo` flags (`sme`, `sev`,
//! `sev_es`, `sev_snp`) only say what the CPU advertises, so they are reported alongside
//! but never count as "active".

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

/// The kernel log's marker line.
pub const KERNEL_MARKER: &str = "Memory Encryption Features active:";

/// A set of AMD memory-encryption features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryEncryption {
    /// Secure Memory Encryption (host memory encrypted with one key).
    pub sme: bool,
    /// Secure Encrypted Virtualization (this guest's memory encrypted).
    pub sev: bool,
    /// SEV with Encrypted State (register state encrypted too).
    pub sev_es: bool,
    /// SEV with Secure Nested Paging (integrity protection of guest memory).
    pub sev_snp: bool,
}

impl MemoryEncryption {
    /// Whether any feature is set.
    pub fn any(&self) -> bool {
        self.sme || self.sev || self.sev_es || self.sev_snp
    }

    /// The set features in the kernel's spelling (`SME SEV SEV-ES SEV-SNP`), or `none`.
    pub fn names(&self) -> String {
        let names: Vec<&str> = [
            (self.sme, "SME"),
            (self.sev, "SEV"),
            (self.sev_es, "SEV-ES"),
            (self.sev_snp, "SEV-SNP"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(" ")
        }
    }

    /// The features the CPU advertises in the first `flags` line of `/proc/cpuinfo` text.
    pub fn from_cpuinfo(cpuinfo: &str) -> Self {
        let mut found = Self::default();
        let flags = cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "flags").then_some(value)
        });
        for flag in flags.unwrap_or("").split_whitespace() {
            match flag {
                "sme" => found.sme = true,
                "sev" => found.sev = true,
                "sev_es" => found.sev_es = true,
                "sev_snp" => found.sev_snp = true,
                _ => {}
            }
        }
        found
    }

    /// The features the kernel log reports active, with the reported text (after the
    /// marker), or `None` if the log has no marker line. Accepts `/dev/kmsg` records
    /// (`6,12,345,-;message`), `dmesg` lines, or bare messages.
    pub fn from_kernel_log(log: &str) -> Option<(Self, String)> {
        let mut lines = log.lines().filter(|l| !l.starts_with(' ')).map(message);
        let rest = lines.by_ref().find_map(|m| {
            m.find(KERNEL_MARKER)
                .map(|at| m[at + KERNEL_MARKER.len()..].trim().to_owned())
        })?;
        let mut text = rest;
        // pr_cont() pieces normally join the marker's record, but can land in records of
        // their own when another CPU logs in between: take following records made only
        // of feature words.
        for next in lines {
            let words: Vec<&str> = next.split_whitespace().collect();
            if words.is_empty() || !words.iter().all(|w| is_feature_word(w)) {
                break;
            }
            text.push(' ');
            text.push_str(&words.join(" "));
        }
        let mut found = Self::default();
        for word in text.split_whitespace() {
            match word {
                "SME" => found.sme = true,
                "SEV" => found.sev = true,
                "SEV-ES" => found.sev_es = true,
                "SEV-SNP" => found.sev_snp = true,
                _ => {}
            }
        }
        Some((found, text))
    }
}

fn is_feature_word(word: &str) -> bool {
    matches!(
        word,
        "AMD" | "Intel" | "TDX" | "SME" | "SEV" | "SEV-ES" | "SEV-SNP"
    )
}

/// The message of one log line: after `;` for a `/dev/kmsg` record, after `] ` for a
/// `dmesg` line, else the line itself.
fn message(line: &str) -> &str {
    if let Some((prefix, msg)) = line.split_once(';') {
        let fields: Vec<&str> = prefix.split(',').collect();
        if fields.len() >= 3 && fields[..3].iter().all(|f| f.parse::<u64>().is_ok()) {
            return msg;
        }
    }
    if line.starts_with('[') {
        if let Some((_, msg)) = line.split_once("] ") {
            return msg;
        }
    }
    line
}

/// What the step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEncryptionReport {
    /// The features the kernel reports active.
    pub active: MemoryEncryption,
    /// The features the CPU advertises.
    pub cpu_flags: MemoryEncryption,
    /// The kernel's report text after the marker, if the log has one.
    pub kernel_report: Option<String>,
}

impl MemoryEncryptionReport {
    /// Builds the report from `/proc/cpuinfo` and kernel log texts.
    pub fn from_texts(cpuinfo: &str, kernel_log: &str) -> Self {
        let (active, kernel_report) = match MemoryEncryption::from_kernel_log(kernel_log) {
            Some((active, text)) => (active, Some(text)),
            None => (MemoryEncryption::default(), None),
        };
        Self {
            active,
            cpu_flags: MemoryEncryption::from_cpuinfo(cpuinfo),
            kernel_report,
        }
    }

    /// One line for the console.
    pub fn line(&self) -> String {
        let kernel = match &self.kernel_report {
            Some(text) => format!("kernel reports \"{text}\""),
            None => "kernel log has no memory encryption report".into(),
        };
        format!(
            "memory encryption active: {} ({kernel}; cpu flags: {})",
            self.active.names(),
            self.cpu_flags.names()
        )
    }
}

/// Why the step failed.
#[derive(Debug, thiserror::Error)]
pub enum MemoryEncryptionError {
    /// A source could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// `/proc/cpuinfo` or `/dev/kmsg`.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Memory encryption is required by the image configuration and not active.
    #[error("memory encryption is required but not active: {0}")]
    Required(String),
}

/// Reads `cpuinfo` (`/proc/cpuinfo`) and `kmsg` (`/dev/kmsg`), reports, and refuses when
/// `required` and the kernel reports no feature active.
pub fn check_memory_encryption(
    cpuinfo: &Path,
    kmsg: &Path,
    required: bool,
) -> Result<MemoryEncryptionReport, MemoryEncryptionError> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| MemoryEncryptionError::Read { path, source }
    };
    let cpu = std::fs::read_to_string(cpuinfo).map_err(read_err(cpuinfo))?;
    let log = read_kmsg(kmsg).map_err(read_err(kmsg))?;
    let report = MemoryEncryptionReport::from_texts(&cpu, &log);
    if required && !report.active.any() {
        return Err(MemoryEncryptionError::Required(report.line()));
    }
    Ok(report)
}

/// Reads what the kernel log holds now without blocking: `/dev/kmsg` returns one record
/// per read and EAGAIN at the end (EPIPE when a record was overwritten meanwhile, which is
/// skipped). A regular file is read to its end.
pub fn read_kmsg(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(path)?;
    let mut log = Vec::new();
    // Records are at most ~1 KiB plus dictionary; a short buffer would give EINVAL.
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => log.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EPIPE) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&log).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO_EPYC_GUEST: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\n\
        model name\t: AMD EPYC 7763 64-Core Processor\n\
        flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge sme sev sev_es \
        sev_snp xsaves\nbugs\t\t: sysret_ss_attrs\n\nprocessor\t: 1\nflags\t\t: fpu\n";
    const CPUINFO_QEMU_TCG: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\n\
        model name\t: QEMU Virtual CPU version 2.5+\n\
        flags\t\t: fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 \
        clflush mmx fxsr sse sse2 syscall nx lm nopl cpuid tsc_known_freq pni cx16 \
        hypervisor lahf_lm svm\n";

    const KMSG_SEV_SNP: &str = "6,0,0,-;Linux version 6.1.0-48-cloud-amd64\n\
        \x20SUBSYSTEM=cpu\n\
        6,190,12345,-;Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP\n\
        6,191,12400,-;SEV: Using SNP CPUID table, 29 entries present.\n";
    const KMSG_SME_HOST: &str =
        "6,188,1000,-;Memory Encryption Features active: AMD SME\n6,189,1001,-;x\n";
    const KMSG_PLAIN: &str = "6,0,0,-;Linux version 6.1.0-48-cloud-amd64\n\
        6,1,0,-;Command line: console=ttyS0 panic=-1\n\
        5,2,10,-;x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'\n";

    #[test]
    fn cpuinfo_flags() {
        let f = MemoryEncryption::from_cpuinfo(CPUINFO_EPYC_GUEST);
        assert_eq!(
            f,
            MemoryEncryption {
                sme: true,
                sev: true,
                sev_es: true,
                sev_snp: true
            }
        );
        assert!(!MemoryEncryption::from_cpuinfo(CPUINFO_QEMU_TCG).any());
        assert!(!MemoryEncryption::from_cpuinfo("").any());
    }

    #[test]
    fn kernel_log_with_sev_snp() {
        let (f, text) = MemoryEncryption::from_kernel_log(KMSG_SEV_SNP).unwrap();
        assert_eq!(text, "AMD SEV SEV-ES SEV-SNP");
        assert!(f.sev && f.sev_es && f.sev_snp && !f.sme);
        assert_eq!(f.names(), "SEV SEV-ES SEV-SNP");
    }

    #[test]
    fn kernel_log_with_sme_and_dmesg_format() {
        let (f, _) = MemoryEncryption::from_kernel_log(KMSG_SME_HOST).unwrap();
        assert_eq!(
            f,
            MemoryEncryption {
                sme: true,
                ..Default::default()
            }
        );
        let dmesg = "[    0.000000] Linux version 6.1\n\
                     [    0.123456] Memory Encryption Features active: AMD SEV\n";
        let (f, text) = MemoryEncryption::from_kernel_log(dmesg).unwrap();
        assert_eq!(text, "AMD SEV");
        assert!(f.sev && !f.sev_es);
    }

    #[test]
    fn kernel_log_split_continuation() {
        let log = "6,190,1,-;Memory Encryption Features active: AMD\n\
                   4,191,2,c;SEV SEV-ES\n6,192,3,-;Other message SEV\n";
        let (f, text) = MemoryEncryption::from_kernel_log(log).unwrap();
        assert_eq!(text, "AMD SEV SEV-ES");
        assert!(f.sev && f.sev_es && !f.sev_snp);
    }

    #[test]
    fn kernel_log_without_report() {
        assert_eq!(MemoryEncryption::from_kernel_log(KMSG_PLAIN), None);
        // TDX is reported but is not AMD memory encryption.
        let tdx = "6,1,1,-;Memory Encryption Features active: Intel TDX\n";
        let (f, _) = MemoryEncryption::from_kernel_log(tdx).unwrap();
        assert!(!f.any());
    }

    #[test]
    fn report_lines() {
        let r = MemoryEncryptionReport::from_texts(CPUINFO_EPYC_GUEST, KMSG_SEV_SNP);
        assert_eq!(
            r.line(),
            "memory encryption active: SEV SEV-ES SEV-SNP (kernel reports \"AMD SEV SEV-ES \
             SEV-SNP\"; cpu flags: SME SEV SEV-ES SEV-SNP)"
        );
        // Advertised by the CPU but not reported active by the kernel: not active.
        let r = MemoryEncryptionReport::from_texts(CPUINFO_EPYC_GUEST, KMSG_PLAIN);
        assert!(!r.active.any());
        assert_eq!(
            r.line(),
            "memory encryption active: none (kernel log has no memory encryption report; \
             cpu flags: SME SEV SEV-ES SEV-SNP)"
        );
    }

    #[test]
    fn check_refuses_when_required_and_absent() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("cpuinfo");
        let kmsg = dir.path().join("kmsg");
        std::fs::write(&cpu, CPUINFO_QEMU_TCG).unwrap();
        std::fs::write(&kmsg, KMSG_PLAIN).unwrap();
        let r = check_memory_encryption(&cpu, &kmsg, false).unwrap();
        assert!(!r.active.any());
        let e = check_memory_encryption(&cpu, &kmsg, true).unwrap_err();
        assert!(
            matches!(&e, MemoryEncryptionError::Required(line) if line.contains("active: none")),
            "{e}"
        );
        std::fs::write(&kmsg, KMSG_SEV_SNP).unwrap();
        let r = check_memory_encryption(&cpu, &kmsg, true).unwrap();
        assert!(r.active.sev_snp);
        let e = check_memory_encryption(&dir.path().join("no"), &kmsg, false).unwrap_err();
        assert!(matches!(e, MemoryEncryptionError::Read { .. }));
    }
}
