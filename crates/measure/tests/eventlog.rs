//! The event log reader on synthesized logs (a small encoder below), truncated and garbled
//! input, and against `tpm2_eventlog` (tpm2-tools).

use std::path::Path;
use std::process::Command;

use custos_measure::eventlog::{ALG_SHA1, ALG_SHA256, MAX_LOG_LEN};
use custos_measure::pcr7::uefi_variable_data;
use custos_measure::{
    extend, predict_pcr11, EventLog, EventLogError, EventType, Guid, PcrBank, StubMeasured,
    UkiSection, UkiSections,
};
use sha1::Digest as _;

const TPM2_EVENTLOG: &str = "/usr/bin/tpm2_eventlog";

/// One event to encode. `sha256` overrides the digest of `data` (systemd-stub logs the
/// section name as the data of the contents event too).
struct Ev<'a> {
    pcr: u32,
    event_type: EventType,
    data: &'a [u8],
    sha256: Option<[u8; 32]>,
}

fn ev(pcr: u32, event_type: EventType, data: &[u8]) -> Ev<'_> {
    Ev {
        pcr,
        event_type,
        data,
        sha256: None,
    }
}

/// A crypto-agile log with sha1 and sha256 banks; `EV_NO_ACTION` digests are zero.
fn encode(events: &[Ev<'_>]) -> Vec<u8> {
    let mut spec_id = b"Spec ID Event03\0".to_vec();
    spec_id.extend_from_slice(&0u32.to_le_bytes()); // client platform
    spec_id.extend_from_slice(&[0, 2, 0, 2]); // version 2.0, errata 0, 64-bit UINTN
    spec_id.extend_from_slice(&2u32.to_le_bytes());
    for (alg, size) in [(ALG_SHA1, 20u16), (ALG_SHA256, 32)] {
        spec_id.extend_from_slice(&alg.to_le_bytes());
        spec_id.extend_from_slice(&size.to_le_bytes());
    }
    spec_id.push(0);
    let mut log = Vec::new();
    log.extend_from_slice(&0u32.to_le_bytes());
    log.extend_from_slice(&EventType::NO_ACTION.0.to_le_bytes());
    log.extend_from_slice(&[0; 20]);
    log.extend_from_slice(&(spec_id.len() as u32).to_le_bytes());
    log.extend_from_slice(&spec_id);
    for e in events {
        let no_action = e.event_type == EventType::NO_ACTION;
        log.extend_from_slice(&e.pcr.to_le_bytes());
        log.extend_from_slice(&e.event_type.0.to_le_bytes());
        log.extend_from_slice(&2u32.to_le_bytes());
        log.extend_from_slice(&ALG_SHA1.to_le_bytes());
        let sha1: [u8; 20] = sha1::Sha1::digest(e.data).into();
        log.extend_from_slice(if no_action { &[0; 20] } else { &sha1 });
        log.extend_from_slice(&ALG_SHA256.to_le_bytes());
        let sha256 = e.sha256.unwrap_or_else(|| PcrBank::Sha256.digest(e.data));
        log.extend_from_slice(if no_action { &[0; 32] } else { &sha256 });
        log.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        log.extend_from_slice(e.data);
    }
    log
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn startup_locality(locality: u8) -> Vec<u8> {
    let mut d = b"StartupLocality\0".to_vec();
    d.push(locality);
    d
}

/// A log shaped like OVMF + systemd-stub's: firmware events in PCRs 0-7, the stub's
/// name/contents pairs in PCR 11 for `sections`; with a `StartupLocality` event when
/// `locality` is given.
fn boot_log(sections: &UkiSections, locality: Option<u8>) -> Vec<u8> {
    let locality_event = locality.map(startup_locality);
    let version = utf16z("EDK II");
    let sb = uefi_variable_data(&Guid::GLOBAL_VARIABLE, "SecureBoot", &[1]);
    let authority = uefi_variable_data(&Guid::IMAGE_SECURITY_DATABASE, "db", &[3; 40]);
    // UEFI_IMAGE_LOAD_EVENT: address, length, link-time address, device path length,
    // then the device path (just the end node).
    let mut image = Vec::new();
    for word in [0x7e00_0000u64, 0x1000, 0, 4] {
        image.extend_from_slice(&word.to_le_bytes());
    }
    image.extend_from_slice(&[0x7f, 0xff, 0x04, 0x00]);
    let mut stub = Vec::new();
    for (section, contents) in sections.iter() {
        if !section.is_measured() || contents.is_empty() {
            continue;
        }
        let mut name = section.name().as_bytes().to_vec();
        name.push(0);
        stub.push((
            utf16z(section.name()),
            PcrBank::Sha256.digest(&name),
            PcrBank::Sha256.digest(contents),
        ));
    }
    let mut events = Vec::new();
    if let Some(data) = &locality_event {
        events.push(ev(0, EventType::NO_ACTION, data));
    }
    events.extend([
        ev(0, EventType::S_CRTM_VERSION, &version),
        ev(0, EventType::EFI_PLATFORM_FIRMWARE_BLOB, &[1; 16]),
        ev(7, EventType::EFI_VARIABLE_DRIVER_CONFIG, &sb),
        ev(7, EventType::SEPARATOR, &[0; 4]),
        ev(
            4,
            EventType::EFI_ACTION,
            b"Calling EFI Application from Boot Option",
        ),
    ]);
    // PCR 7's separator came before the authority events, as in edk2.
    for pcr in 0..7 {
        events.push(ev(pcr, EventType::SEPARATOR, &[0; 4]));
    }
    events.push(ev(7, EventType::EFI_VARIABLE_AUTHORITY, &authority));
    events.push(ev(4, EventType::EFI_BOOT_SERVICES_APPLICATION, &image));
    for (name, name_digest, contents_digest) in &stub {
        events.push(Ev {
            pcr: 11,
            event_type: EventType::IPL,
            data: name,
            sha256: Some(*name_digest),
        });
        events.push(Ev {
            pcr: 11,
            event_type: EventType::IPL,
            data: name,
            sha256: Some(*contents_digest),
        });
    }
    encode(&events)
}

fn sections() -> UkiSections {
    UkiSections::new()
        .with(UkiSection::Linux, b"kernel bytes".to_vec())
        .with(UkiSection::Osrel, b"ID=custos\n".to_vec())
        .with(UkiSection::Cmdline, b"console=ttyS0\0".to_vec())
        .with(UkiSection::Initrd, b"initramfs".to_vec())
}

#[test]
fn replays_a_boot_log_and_pcr11_matches_the_stub_prediction() {
    let s = sections();
    let log = EventLog::parse(&boot_log(&s, Some(3))).unwrap();
    assert_eq!(log.spec_id.algorithms, [(ALG_SHA1, 20), (ALG_SHA256, 32)]);
    assert_eq!(log.pcr(11), predict_pcr11(&s));
    let mut locality3 = [0; 32];
    locality3[31] = 3;
    let pcr0 = [
        PcrBank::Sha256.digest(&utf16z("EDK II")),
        PcrBank::Sha256.digest(&[1; 16]),
        PcrBank::Sha256.digest(&[0; 4]),
    ]
    .iter()
    .fold(locality3, |p, d| extend(&p, d));
    assert_eq!(log.pcr(0), pcr0);
    let replayed = log.replay();
    assert_eq!(
        replayed.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6, 7, 11]
    );
    assert_eq!(log.pcr(12), [0; 32]);

    let stub = log.stub_events();
    let names: Vec<_> = stub
        .iter()
        .map(|e| (e.section.as_str(), e.measured))
        .collect();
    use StubMeasured::*;
    assert_eq!(
        names,
        [
            (".linux", Name),
            (".linux", Contents),
            (".osrel", Name),
            (".osrel", Contents),
            (".cmdline", Name),
            (".cmdline", Contents),
            (".initrd", Name),
            (".initrd", Contents),
        ]
    );
    assert_eq!(stub[1].sha256, PcrBank::Sha256.digest(b"kernel bytes"));
    let first = &log.events[0];
    assert_eq!(first.event_type, EventType::NO_ACTION);
    assert!(!first.is_extended());
}

#[test]
fn drtm_pcrs_are_refused() {
    for pcr in 17..=22 {
        let log = encode(&[ev(pcr, EventType::ACTION, b"x")]);
        assert!(matches!(
            EventLog::parse(&log),
            Err(EventLogError::BadPcr { pcr: p, .. }) if p == pcr
        ));
    }
}

#[test]
fn every_truncation_is_refused_unless_it_falls_between_events() {
    let good = boot_log(&sections(), Some(3));
    let log = EventLog::parse(&good).unwrap();
    let boundaries: Vec<usize> = log.events.iter().map(|e| e.offset).collect();
    for len in 0..good.len() {
        let r = EventLog::parse(&good[..len]);
        if boundaries.contains(&len) {
            let shorter = r.unwrap_or_else(|e| panic!("{len}: {e}"));
            assert_eq!(
                shorter.events.len(),
                boundaries.iter().position(|&b| b == len).unwrap()
            );
        } else {
            assert!(
                matches!(r, Err(EventLogError::Truncated { .. })),
                "{len}: {r:?}"
            );
        }
    }
}

#[test]
fn garbled_fields_get_precise_errors() {
    let good = encode(&[ev(7, EventType::SEPARATOR, &[0; 4])]);
    let first = EventLog::parse(&good).unwrap().events[0].offset;
    let set = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        EventLog::parse(&b)
    };
    // First event: not EV_NO_ACTION, not PCR 0, non-zero digest, wrong signature.
    assert!(matches!(set(4, &[4]), Err(EventLogError::BadSpecId(_))));
    assert!(matches!(set(0, &[1]), Err(EventLogError::BadSpecId(_))));
    assert!(matches!(set(8, &[1]), Err(EventLogError::BadSpecId(_))));
    assert!(matches!(set(32, b"X"), Err(EventLogError::BadSpecId(_))));
    // Spec version 2.1, 128-bit UINTN, no algorithms.
    assert!(matches!(
        set(32 + 20, &[1]),
        Err(EventLogError::BadSpecId(_))
    ));
    assert!(matches!(
        set(32 + 23, &[3]),
        Err(EventLogError::BadSpecId(_))
    ));
    assert!(matches!(
        set(32 + 24, &[0]),
        Err(EventLogError::BadSpecId(_))
    ));
    // sha256 declared with a 20-byte digest.
    assert_eq!(
        set(32 + 34, &[20]),
        Err(EventLogError::BadDigestSize {
            alg: ALG_SHA256,
            size: 20
        })
    );
    // sha256 renamed to an unknown algorithm with 32-byte digests: no sha256 bank.
    assert_eq!(set(32 + 32, &[0x77]), Err(EventLogError::NoSha256Bank));
    // Vendor info size claiming one more byte than the event has.
    assert!(matches!(
        set(32 + 36, &[1]),
        Err(EventLogError::BadSpecId(_))
    ));
    assert_eq!(
        set(first, &[24]),
        Err(EventLogError::BadPcr {
            offset: first,
            pcr: 24
        })
    );
    assert_eq!(
        set(first + 8, &[3]),
        Err(EventLogError::DigestCount {
            offset: first,
            count: 3,
            expected: 2
        })
    );
    // A digest of a bank the log does not have (sha384).
    assert_eq!(
        set(first + 12, &[0x0c]),
        Err(EventLogError::UnexpectedDigest {
            offset: first,
            alg: 0x0c
        })
    );
    // The sha256 digest relabelled sha1: sha1 twice.
    assert_eq!(
        set(first + 12 + 2 + 20, &[0x04]),
        Err(EventLogError::UnexpectedDigest {
            offset: first,
            alg: ALG_SHA1
        })
    );
    // An event size past the end.
    let size_at = good.len() - 4 - 4;
    assert!(matches!(
        set(size_at, &[5]),
        Err(EventLogError::Truncated { offset, what: "event data" }) if offset == first
    ));
    let mut huge = good.clone();
    huge.resize(MAX_LOG_LEN + 1, 0);
    assert_eq!(
        EventLog::parse(&huge),
        Err(EventLogError::TooLarge(MAX_LOG_LEN + 1))
    );
}

#[test]
fn garbled_bytes_never_panic() {
    // A cheap deterministic fuzz: overwrite random bytes of a valid log, parse, use.
    let good = boot_log(&sections(), Some(3));
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut ok = 0;
    for _ in 0..20_000 {
        let mut b = good.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % b.len();
            b[at] = (x >> 32) as u8;
        }
        if let Ok(log) = EventLog::parse(&b) {
            ok += 1;
            let _ = log.replay();
            let _ = log.stub_events();
        }
    }
    // Most flips land in digests or data and leave the log valid.
    assert!(ok > 1000, "{ok}");
}

/// `tpm2_eventlog`'s final sha256 PCR values for `log`, parsed from its YAML.
fn tpm2_eventlog_sha256(log: &[u8]) -> Vec<(u32, [u8; 32])> {
    assert!(
        Path::new(TPM2_EVENTLOG).exists(),
        "{TPM2_EVENTLOG} is missing: install the Debian package `tpm2-tools`"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary_bios_measurements");
    std::fs::write(&path, log).unwrap();
    let out = Command::new(TPM2_EVENTLOG)
        .arg(&path)
        .output()
        .expect("run tpm2_eventlog");
    assert!(
        out.status.success(),
        "tpm2_eventlog failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let tail = yaml
        .split_once("\npcrs:\n")
        .unwrap_or_else(|| panic!("no pcrs: in tpm2_eventlog output:\n{yaml}"))
        .1;
    let mut in_sha256 = false;
    let mut values = Vec::new();
    for line in tail.lines() {
        let t = line.trim();
        if t.ends_with(':') && !t.contains(' ') {
            in_sha256 = t == "sha256:";
            continue;
        }
        if !in_sha256 {
            continue;
        }
        let (index, value) = t.split_once(':').expect("`N : 0x...` line");
        let index: u32 = index.trim().parse().unwrap();
        let value = value.trim().trim_start_matches("0x");
        values.push((index, hex::decode(value).unwrap().try_into().unwrap()));
    }
    assert!(!values.is_empty(), "no sha256 values in:\n{yaml}");
    values
}

#[test]
fn replay_matches_tpm2_eventlog() {
    let s = sections();
    // No EV_NO_ACTION events past the Spec ID: tpm2-tools 5.4 (Debian bookworm) extends
    // them and ignores StartupLocality (tpm2-tools issues 3224 and 3146, fixed in 5.5).
    for log in [
        boot_log(&s, None),
        boot_log(
            &UkiSections::new().with(UkiSection::Linux, vec![7; 4096]),
            None,
        ),
        encode(&[
            ev(16, EventType::ACTION, b"debug"),
            ev(23, EventType::ACTION, b"x"),
        ]),
    ] {
        let ours = EventLog::parse(&log).unwrap().replay();
        let theirs = tpm2_eventlog_sha256(&log);
        let ours: Vec<(u32, [u8; 32])> = ours.into_iter().collect();
        assert_eq!(ours, theirs);
    }
}
