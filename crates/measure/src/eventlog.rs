//! A strict reader of the TCG PC Client crypto-agile event log, as Linux exposes it in
//! `/sys/kernel/security/tpm0/binary_bios_measurements`, with sha256 replay and decoding
//! of systemd-stub's PCR 11 events.
//!
//! Format (TCG PC Client Platform Firmware Profile, section 10), all little-endian:
//!
//! - the first event is a legacy `TCG_PCClientPCREvent`: PCR index 0, type `EV_NO_ACTION`,
//!   a 20-byte zero digest, event size u32, and as data the `TCG_EfiSpecIDEvent`:
//!   `"Spec ID Event03\0"`, platform class u32, spec version minor/major u8 (0/2), errata
//!   u8, uintn size u8 (1 = 32-bit, 2 = 64-bit), algorithm count u32, that many
//!   `{ algorithm id u16, digest size u16 }`, vendor info size u8, vendor info;
//! - every later event is a `TCG_PCR_EVENT2`: PCR index u32, type u32, digest count u32
//!   (one per algorithm of the Spec ID event), each `{ algorithm id u16, digest }`, event
//!   size u32, data.
//!
//! The reader never panics and allocates no more than the input's size: it is meant for
//! logs received from an untrusted machine (attestation). `EV_NO_ACTION` events are listed
//! but not extended; a `StartupLocality` no-action event sets PCR 0's initial value.

use std::collections::BTreeMap;

use crate::pcr::extend;

/// The largest log accepted (Linux logs are tens of KiB; OVMF's area is 64 KiB).
pub const MAX_LOG_LEN: usize = 16 << 20;
/// The most hash algorithms a Spec ID event may list.
pub const MAX_ALGORITHMS: usize = 16;
/// The PCRs a PC Client TPM has (0..=23); events may name 0 to 16 and 23.
pub const PCR_COUNT: u32 = 24;

/// `TPM_ALG_SHA1`.
pub const ALG_SHA1: u16 = 0x0004;
/// `TPM_ALG_SHA256`.
pub const ALG_SHA256: u16 = 0x000b;

const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";
const STARTUP_LOCALITY_SIGNATURE: &[u8; 16] = b"StartupLocality\0";

/// A TCG event type (`EV_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(pub u32);

impl EventType {
    /// `EV_POST_CODE`.
    pub const POST_CODE: EventType = EventType(0x1);
    /// `EV_NO_ACTION`: informational, never extended.
    pub const NO_ACTION: EventType = EventType(0x3);
    /// `EV_SEPARATOR`.
    pub const SEPARATOR: EventType = EventType(0x4);
    /// `EV_ACTION`.
    pub const ACTION: EventType = EventType(0x5);
    /// `EV_S_CRTM_CONTENTS`.
    pub const S_CRTM_CONTENTS: EventType = EventType(0x7);
    /// `EV_S_CRTM_VERSION`.
    pub const S_CRTM_VERSION: EventType = EventType(0x8);
    /// `EV_IPL`: what systemd-stub logs its PCR 11 measurements as.
    pub const IPL: EventType = EventType(0xd);
    /// `EV_EFI_VARIABLE_DRIVER_CONFIG`.
    pub const EFI_VARIABLE_DRIVER_CONFIG: EventType = EventType(0x8000_0001);
    /// `EV_EFI_VARIABLE_BOOT`.
    pub const EFI_VARIABLE_BOOT: EventType = EventType(0x8000_0002);
    /// `EV_EFI_BOOT_SERVICES_APPLICATION`.
    pub const EFI_BOOT_SERVICES_APPLICATION: EventType = EventType(0x8000_0003);
    /// `EV_EFI_BOOT_SERVICES_DRIVER`.
    pub const EFI_BOOT_SERVICES_DRIVER: EventType = EventType(0x8000_0004);
    /// `EV_EFI_GPT_EVENT`.
    pub const EFI_GPT_EVENT: EventType = EventType(0x8000_0006);
    /// `EV_EFI_ACTION`.
    pub const EFI_ACTION: EventType = EventType(0x8000_0007);
    /// `EV_EFI_PLATFORM_FIRMWARE_BLOB`.
    pub const EFI_PLATFORM_FIRMWARE_BLOB: EventType = EventType(0x8000_0008);
    /// `EV_EFI_HANDOFF_TABLES`.
    pub const EFI_HANDOFF_TABLES: EventType = EventType(0x8000_0009);
    /// `EV_EFI_PLATFORM_FIRMWARE_BLOB2`.
    pub const EFI_PLATFORM_FIRMWARE_BLOB2: EventType = EventType(0x8000_000a);
    /// `EV_EFI_HANDOFF_TABLES2`.
    pub const EFI_HANDOFF_TABLES2: EventType = EventType(0x8000_000b);
    /// `EV_EFI_VARIABLE_BOOT2`.
    pub const EFI_VARIABLE_BOOT2: EventType = EventType(0x8000_000c);
    /// `EV_EFI_VARIABLE_AUTHORITY`.
    pub const EFI_VARIABLE_AUTHORITY: EventType = EventType(0x8000_00e0);

    /// The TCG name, e.g. `"EV_SEPARATOR"`, for the types above.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::POST_CODE => "EV_POST_CODE",
            Self::NO_ACTION => "EV_NO_ACTION",
            Self::SEPARATOR => "EV_SEPARATOR",
            Self::ACTION => "EV_ACTION",
            Self::S_CRTM_CONTENTS => "EV_S_CRTM_CONTENTS",
            Self::S_CRTM_VERSION => "EV_S_CRTM_VERSION",
            Self::IPL => "EV_IPL",
            Self::EFI_VARIABLE_DRIVER_CONFIG => "EV_EFI_VARIABLE_DRIVER_CONFIG",
            Self::EFI_VARIABLE_BOOT => "EV_EFI_VARIABLE_BOOT",
            Self::EFI_BOOT_SERVICES_APPLICATION => "EV_EFI_BOOT_SERVICES_APPLICATION",
            Self::EFI_BOOT_SERVICES_DRIVER => "EV_EFI_BOOT_SERVICES_DRIVER",
            Self::EFI_GPT_EVENT => "EV_EFI_GPT_EVENT",
            Self::EFI_ACTION => "EV_EFI_ACTION",
            Self::EFI_PLATFORM_FIRMWARE_BLOB => "EV_EFI_PLATFORM_FIRMWARE_BLOB",
            Self::EFI_HANDOFF_TABLES => "EV_EFI_HANDOFF_TABLES",
            Self::EFI_PLATFORM_FIRMWARE_BLOB2 => "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
            Self::EFI_HANDOFF_TABLES2 => "EV_EFI_HANDOFF_TABLES2",
            Self::EFI_VARIABLE_BOOT2 => "EV_EFI_VARIABLE_BOOT2",
            Self::EFI_VARIABLE_AUTHORITY => "EV_EFI_VARIABLE_AUTHORITY",
            _ => return None,
        })
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#010x}", self.0),
        }
    }
}

impl std::fmt::Debug for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventType({self})")
    }
}

/// Why an event log was refused. Offsets are from the start of the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventLogError {
    /// The log is larger than [`MAX_LOG_LEN`].
    #[error("event log of {0} bytes is larger than the {MAX_LOG_LEN}-byte limit")]
    TooLarge(usize),
    /// The log ends inside a structure.
    #[error("event log truncated at offset {offset:#x} reading {what}")]
    Truncated {
        /// Where the structure starts.
        offset: usize,
        /// Which structure.
        what: &'static str,
    },
    /// The first event is not a well-formed Spec ID event.
    #[error("first event is not a TCG2 Spec ID event: {0}")]
    BadSpecId(&'static str),
    /// The Spec ID event names a known algorithm with the wrong digest size.
    #[error("Spec ID event gives algorithm {alg:#06x} a {size}-byte digest")]
    BadDigestSize {
        /// The algorithm.
        alg: u16,
        /// The size given.
        size: u16,
    },
    /// The log has no SHA-256 bank, which is the one replayed.
    #[error("event log has no sha256 bank")]
    NoSha256Bank,
    /// An event's PCR index is not a static (SRTM) PC Client PCR: beyond 23, or one of the
    /// DRTM PCRs 17 to 22, whose starting value depends on a dynamic launch this log
    /// cannot show.
    #[error("event at offset {offset:#x} is for PCR {pcr}, not a static PCR (0-16, 23)")]
    BadPcr {
        /// Where the event starts.
        offset: usize,
        /// Its PCR index.
        pcr: u32,
    },
    /// An event's digest count differs from the Spec ID event's algorithm count.
    #[error("event at offset {offset:#x} has {count} digests, not one per bank ({expected})")]
    DigestCount {
        /// Where the event starts.
        offset: usize,
        /// Its digest count.
        count: u32,
        /// The number of banks.
        expected: usize,
    },
    /// An event has a digest for an algorithm that is not a bank of the log, or two for one.
    #[error("event at offset {offset:#x} has an unexpected or repeated {alg:#06x} digest")]
    UnexpectedDigest {
        /// Where the event starts.
        offset: usize,
        /// The algorithm.
        alg: u16,
    },
}

/// The log's Spec ID event: which banks it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecId {
    /// The platform class (0 client, 1 server).
    pub platform_class: u32,
    /// The spec errata level.
    pub errata: u8,
    /// 1 when UINTN is 32-bit, 2 when 64-bit.
    pub uintn_size: u8,
    /// Each bank's algorithm id and digest size, in log order.
    pub algorithms: Vec<(u16, u16)>,
    /// Vendor information.
    pub vendor_info: Vec<u8>,
}

/// One event after the Spec ID event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Where the event starts in the log.
    pub offset: usize,
    /// The PCR index.
    pub pcr: u32,
    /// The event type.
    pub event_type: EventType,
    /// The sha256 digest, extended into the PCR unless the type is `EV_NO_ACTION`.
    pub sha256: [u8; 32],
    /// The event data.
    pub data: Vec<u8>,
}

impl Event {
    /// Whether the event was extended into its PCR (all but `EV_NO_ACTION`).
    pub fn is_extended(&self) -> bool {
        self.event_type != EventType::NO_ACTION
    }
}

/// A parsed event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    /// The Spec ID event.
    pub spec_id: SpecId,
    /// The events after it, in log order.
    pub events: Vec<Event>,
}

/// What one systemd-stub PCR 11 event measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StubMeasured {
    /// The section's name (the digest is SHA-256 of the name and its NUL).
    Name,
    /// The section's contents.
    Contents,
}

/// A PCR 11 event as systemd-stub logs it: `EV_IPL` whose data is the section name in
/// UTF-16LE with a NUL, once for the name and once for the contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubEvent {
    /// The section name from the event data, e.g. `".linux"`.
    pub section: String,
    /// Whether the digest covers the name or the contents.
    pub measured: StubMeasured,
    /// The sha256 digest extended.
    pub sha256: [u8; 32],
}

/// A bounds-checked little-endian reader over the log.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(
        &mut self,
        n: usize,
        start: usize,
        what: &'static str,
    ) -> Result<&'a [u8], EventLogError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(EventLogError::Truncated {
                offset: start,
                what,
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self, start: usize, what: &'static str) -> Result<u8, EventLogError> {
        Ok(self.take(1, start, what)?[0])
    }

    fn u16(&mut self, start: usize, what: &'static str) -> Result<u16, EventLogError> {
        let b = self.take(2, start, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, start: usize, what: &'static str) -> Result<u32, EventLogError> {
        let b = self.take(4, start, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The digest size of the algorithms whose size is fixed by their definition.
fn known_digest_size(alg: u16) -> Option<u16> {
    Some(match alg {
        ALG_SHA1 => 20,
        ALG_SHA256 | 0x0012 /* SM3_256 */ | 0x0027 /* SHA3_256 */ => 32,
        0x000c /* SHA384 */ | 0x0028 /* SHA3_384 */ => 48,
        0x000d /* SHA512 */ | 0x0029 /* SHA3_512 */ => 64,
        _ => return None,
    })
}

fn parse_spec_id(data: &[u8]) -> Result<SpecId, EventLogError> {
    let bad = EventLogError::BadSpecId;
    let mut r = Reader {
        bytes: data,
        pos: 0,
    };
    let trunc = |_| bad("event data too short");
    if r.take(16, 0, "").map_err(trunc)? != SPEC_ID_SIGNATURE {
        return Err(bad("signature is not \"Spec ID Event03\""));
    }
    let platform_class = r.u32(0, "").map_err(trunc)?;
    let minor = r.u8(0, "").map_err(trunc)?;
    let major = r.u8(0, "").map_err(trunc)?;
    let errata = r.u8(0, "").map_err(trunc)?;
    let uintn_size = r.u8(0, "").map_err(trunc)?;
    if (major, minor) != (2, 0) {
        return Err(bad("spec version is not 2.0"));
    }
    if uintn_size != 1 && uintn_size != 2 {
        return Err(bad("uintn size is not 1 or 2"));
    }
    let count = r.u32(0, "").map_err(trunc)? as usize;
    if count == 0 || count > MAX_ALGORITHMS {
        return Err(bad("algorithm count out of range"));
    }
    let mut algorithms = Vec::with_capacity(count);
    for _ in 0..count {
        let alg = r.u16(0, "").map_err(trunc)?;
        let size = r.u16(0, "").map_err(trunc)?;
        if algorithms.iter().any(|&(a, _)| a == alg) {
            return Err(bad("an algorithm is listed twice"));
        }
        if size == 0 || known_digest_size(alg).is_some_and(|k| k != size) {
            return Err(EventLogError::BadDigestSize { alg, size });
        }
        algorithms.push((alg, size));
    }
    let vendor_len = usize::from(r.u8(0, "").map_err(trunc)?);
    let vendor_info = r.take(vendor_len, 0, "").map_err(trunc)?.to_vec();
    if r.pos != data.len() {
        return Err(bad("trailing bytes after the vendor info"));
    }
    if !algorithms.iter().any(|&(a, _)| a == ALG_SHA256) {
        return Err(EventLogError::NoSha256Bank);
    }
    Ok(SpecId {
        platform_class,
        errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}

impl EventLog {
    /// Parses a whole log; every byte must belong to an event.
    pub fn parse(log: &[u8]) -> Result<EventLog, EventLogError> {
        if log.len() > MAX_LOG_LEN {
            return Err(EventLogError::TooLarge(log.len()));
        }
        let mut r = Reader { bytes: log, pos: 0 };
        const FIRST: &str = "Spec ID event header";
        let pcr = r.u32(0, FIRST)?;
        let event_type = r.u32(0, FIRST)?;
        let digest = r.take(20, 0, FIRST)?;
        let size = r.u32(0, FIRST)? as usize;
        if pcr != 0 || EventType(event_type) != EventType::NO_ACTION {
            return Err(EventLogError::BadSpecId(
                "not an EV_NO_ACTION event for PCR 0",
            ));
        }
        if digest.iter().any(|&b| b != 0) {
            return Err(EventLogError::BadSpecId("digest is not zero"));
        }
        let spec_id = parse_spec_id(r.take(size, 0, "Spec ID event data")?)?;

        let mut events = Vec::new();
        while r.pos < log.len() {
            events.push(Self::parse_event(&mut r, &spec_id)?);
        }
        Ok(EventLog { spec_id, events })
    }

    fn parse_event(r: &mut Reader<'_>, spec: &SpecId) -> Result<Event, EventLogError> {
        let offset = r.pos;
        let pcr = r.u32(offset, "event header")?;
        let event_type = EventType(r.u32(offset, "event header")?);
        let count = r.u32(offset, "event header")?;
        if pcr >= PCR_COUNT || (17..=22).contains(&pcr) {
            return Err(EventLogError::BadPcr { offset, pcr });
        }
        if count as usize != spec.algorithms.len() {
            return Err(EventLogError::DigestCount {
                offset,
                count,
                expected: spec.algorithms.len(),
            });
        }
        let mut seen = [false; MAX_ALGORITHMS];
        let mut sha256 = [0; 32];
        for _ in 0..count {
            let alg = r.u16(offset, "event digest")?;
            let index = spec
                .algorithms
                .iter()
                .position(|&(a, _)| a == alg)
                .filter(|&i| !seen[i])
                .ok_or(EventLogError::UnexpectedDigest { offset, alg })?;
            seen[index] = true;
            let digest = r.take(
                usize::from(spec.algorithms[index].1),
                offset,
                "event digest",
            )?;
            if alg == ALG_SHA256 {
                sha256.copy_from_slice(digest);
            }
        }
        let size = r.u32(offset, "event size")? as usize;
        let data = r.take(size, offset, "event data")?.to_vec();
        Ok(Event {
            offset,
            pcr,
            event_type,
            sha256,
            data,
        })
    }

    /// Replays the sha256 bank: the value of every PCR that has an extended event (and of
    /// PCR 0 when a `StartupLocality` event sets it), each from zero (PCR 0: from the
    /// startup locality in its last byte).
    pub fn replay(&self) -> BTreeMap<u32, [u8; 32]> {
        let mut pcrs = BTreeMap::new();
        for e in &self.events {
            if let Some(locality) = startup_locality(e) {
                let mut initial = [0; 32];
                initial[31] = locality;
                pcrs.entry(0).or_insert(initial);
            } else if e.is_extended() {
                let pcr = pcrs.entry(e.pcr).or_insert([0; 32]);
                *pcr = extend(pcr, &e.sha256);
            }
        }
        pcrs
    }

    /// The replayed sha256 value of `pcr`: zero when no event touched it (true for the
    /// static PCRs; DRTM PCRs 17 to 22 never appear in a log this reader accepts).
    pub fn pcr(&self, pcr: u32) -> [u8; 32] {
        self.replay().get(&pcr).copied().unwrap_or([0; 32])
    }

    /// systemd-stub's PCR 11 events, decoded; other PCR 11 events are skipped (use
    /// [`EventLog::events`] to see everything).
    pub fn stub_events(&self) -> Vec<StubEvent> {
        self.events
            .iter()
            .filter(|e| e.pcr == 11 && e.event_type == EventType::IPL)
            .filter_map(|e| {
                let section = crate::utf16::decode_nul_terminated(&e.data)?;
                let mut name = section.clone().into_bytes();
                name.push(0);
                let measured = if crate::pcr::PcrBank::Sha256.digest(&name) == e.sha256 {
                    StubMeasured::Name
                } else {
                    StubMeasured::Contents
                };
                Some(StubEvent {
                    section,
                    measured,
                    sha256: e.sha256,
                })
            })
            .collect()
    }
}

/// The locality of a `StartupLocality` no-action event in PCR 0.
fn startup_locality(e: &Event) -> Option<u8> {
    if e.pcr != 0 || e.event_type != EventType::NO_ACTION || e.data.len() != 17 {
        return None;
    }
    e.data
        .starts_with(STARTUP_LOCALITY_SIGNATURE)
        .then_some(e.data[16])
}
