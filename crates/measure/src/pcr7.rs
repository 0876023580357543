//! The PCR 7 (sha256) value OVMF produces when it boots an image under Secure Boot.
//!
//! edk2's `Tcg2Dxe` (`MeasureSecureBootPolicy`) measures into PCR 7, in this order, as
//! `EV_EFI_VARIABLE_DRIVER_CONFIG` events:
//!
//! 1. `SecureBoot` (global GUID): one byte, `1` under Secure Boot;
//! 2. `PK`, `KEK` (global GUID), `db`, `dbx` (image security database GUID): each
//!    variable's data, or **empty data when the variable is absent** (edk2 measures absent
//!    secure boot variables with size 0);
//! 3. `dbt`, only when present;
//!
//! then an `EV_SEPARATOR` of four zero bytes. When `DxeImageVerificationLib` verifies the
//! boot image against a db certificate it measures that db entry once, as an
//! `EV_EFI_VARIABLE_AUTHORITY` event named `db` whose data is the `EFI_SIGNATURE_DATA`
//! (owner GUID then the DER certificate).
//!
//! Every event's digest is the SHA-256 of its `UEFI_VARIABLE_DATA`: vendor GUID (16
//! bytes), name length in UTF-16 units without the NUL (u64 LE), data length (u64 LE), the
//! name in UTF-16LE without the NUL, the data.
//!
//! `virt-fw-measure --vars VARS --digests` (PyPI `virt-firmware`) computes the value after
//! the separator, for stores that hold all of PK, KEK, db and dbx and no dbt (it skips
//! absent variables); the prediction here adds the authority event.

use crate::guid::Guid;
use crate::pcr::{extend, PcrBank};
use crate::varstore::{VarStore, VarStoreError};

/// `EV_SEPARATOR`.
pub const EV_SEPARATOR: u32 = 0x0000_0004;
/// `EV_EFI_VARIABLE_DRIVER_CONFIG`.
pub const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
/// `EV_EFI_VARIABLE_AUTHORITY`.
pub const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00e0;

/// The secure boot variables measured before the separator, in order; all but `dbt` are
/// measured even when absent.
const POLICY_VARIABLES: [(&str, Guid); 4] = [
    ("PK", Guid::GLOBAL_VARIABLE),
    ("KEK", Guid::GLOBAL_VARIABLE),
    ("db", Guid::IMAGE_SECURITY_DATABASE),
    ("dbx", Guid::IMAGE_SECURITY_DATABASE),
];

/// Why PCR 7 could not be predicted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pcr7Error {
    /// The variable store could not be read.
    #[error(transparent)]
    VarStore(#[from] VarStoreError),
    /// No `PK`: the firmware is in setup mode and Secure Boot is off.
    #[error("no PK enrolled: the firmware would be in setup mode, with Secure Boot off")]
    NoPlatformKey,
    /// edk2's `SecureBootEnable` is present and not 1: Secure Boot is off.
    #[error("SecureBootEnable is {0:02x?}, not [01]: Secure Boot is off")]
    SecureBootDisabled(Vec<u8>),
    /// `db` is not a well-formed list of `EFI_SIGNATURE_LIST`s.
    #[error("db is malformed at offset {offset:#x}: {reason}")]
    MalformedDb {
        /// Where in db's data.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The certificate is not an X.509 entry of `db`, so it cannot verify the image.
    #[error("the certificate is not enrolled in db")]
    CertificateNotInDb,
}

/// Which measurement a [`Pcr7Event`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pcr7Measured {
    /// A secure boot policy variable (`EV_EFI_VARIABLE_DRIVER_CONFIG`), by name.
    Config(&'static str),
    /// The separator between the policy and the authorities (`EV_SEPARATOR`).
    Separator,
    /// The db entry that verified the boot image (`EV_EFI_VARIABLE_AUTHORITY`).
    Authority,
}

/// One PCR 7 measurement: what, its TCG event type and data, and its sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcr7Event {
    /// What was measured.
    pub measured: Pcr7Measured,
    /// The TCG event type, as in the event log.
    pub event_type: u32,
    /// The event data, as in the event log (`UEFI_VARIABLE_DATA`, or the separator word).
    pub data: Vec<u8>,
    /// SHA-256 of `data`: what is extended into PCR 7.
    pub digest: [u8; 32],
}

impl Pcr7Event {
    fn new(measured: Pcr7Measured, event_type: u32, data: Vec<u8>) -> Self {
        let digest = PcrBank::Sha256.digest(&data);
        Pcr7Event {
            measured,
            event_type,
            data,
            digest,
        }
    }
}

/// The `UEFI_VARIABLE_DATA` structure firmware logs for a variable measurement.
pub fn uefi_variable_data(guid: &Guid, name: &str, data: &[u8]) -> Vec<u8> {
    let name: Vec<u16> = name.encode_utf16().collect();
    let mut out = Vec::with_capacity(32 + 2 * name.len() + data.len());
    out.extend_from_slice(&guid.0);
    out.extend_from_slice(&(name.len() as u64).to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend(name.iter().flat_map(|u| u.to_le_bytes()));
    out.extend_from_slice(data);
    out
}

/// The measurements up to and including the separator, for a store booted under Secure
/// Boot: what `virt-fw-measure --vars VARS` lists (see the module docs for the difference
/// on absent variables).
pub fn policy_events(store: &VarStore) -> Result<Vec<Pcr7Event>, Pcr7Error> {
    if store.get("PK", &Guid::GLOBAL_VARIABLE).is_none() {
        return Err(Pcr7Error::NoPlatformKey);
    }
    if let Some(v) = store.get("SecureBootEnable", &Guid::SECURE_BOOT_ENABLE_DISABLE) {
        if v.data != [1] {
            return Err(Pcr7Error::SecureBootDisabled(v.data.clone()));
        }
    }
    let config = |name: &'static str, guid: &Guid, data: &[u8]| {
        Pcr7Event::new(
            Pcr7Measured::Config(name),
            EV_EFI_VARIABLE_DRIVER_CONFIG,
            uefi_variable_data(guid, name, data),
        )
    };
    let mut events = vec![config("SecureBoot", &Guid::GLOBAL_VARIABLE, &[1])];
    for (name, guid) in &POLICY_VARIABLES {
        let data = store.get(name, guid).map_or(&[][..], |v| &v.data);
        events.push(config(name, guid, data));
    }
    if let Some(dbt) = store.get("dbt", &Guid::IMAGE_SECURITY_DATABASE) {
        events.push(config("dbt", &Guid::IMAGE_SECURITY_DATABASE, &dbt.data));
    }
    events.push(Pcr7Event::new(
        Pcr7Measured::Separator,
        EV_SEPARATOR,
        vec![0; 4],
    ));
    Ok(events)
}

/// The `EFI_SIGNATURE_DATA` (owner GUID then certificate) of `cert_der` in `db`.
pub fn find_db_certificate(db: &[u8], cert_der: &[u8]) -> Result<Vec<u8>, Pcr7Error> {
    let bad = |offset, reason| Pcr7Error::MalformedDb { offset, reason };
    let mut pos = 0;
    while pos < db.len() {
        // EFI_SIGNATURE_LIST: type GUID, list size, header size, signature size.
        let header = db
            .get(pos..pos + 28)
            .ok_or(bad(pos, "truncated list header"))?;
        let sig_type = Guid::from_slice(header).unwrap_or(Guid([0; 16]));
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
                as usize
        };
        let (list_size, header_size, sig_size) = (word(16), word(20), word(24));
        let end = pos
            .checked_add(list_size)
            .filter(|&e| e <= db.len())
            .ok_or(bad(pos, "list size runs past the end"))?;
        let first = pos
            .checked_add(28 + header_size)
            .filter(|&f| f <= end)
            .ok_or(bad(pos, "header size runs past the list"))?;
        if sig_size <= 16 || !(end - first).is_multiple_of(sig_size) {
            return Err(bad(pos, "signature size does not divide the list"));
        }
        if sig_type == Guid::CERT_X509 {
            for entry in db[first..end].chunks_exact(sig_size) {
                if &entry[16..] == cert_der {
                    return Ok(entry.to_vec());
                }
            }
        }
        pos = end;
    }
    Err(Pcr7Error::CertificateNotInDb)
}

/// The authority measurement for the db certificate `cert_der` (DER) that verified the
/// boot image.
pub fn authority_event(store: &VarStore, cert_der: &[u8]) -> Result<Pcr7Event, Pcr7Error> {
    let db = store
        .get("db", &Guid::IMAGE_SECURITY_DATABASE)
        .ok_or(Pcr7Error::CertificateNotInDb)?;
    let entry = find_db_certificate(&db.data, cert_der)?;
    Ok(Pcr7Event::new(
        Pcr7Measured::Authority,
        EV_EFI_VARIABLE_AUTHORITY,
        uefi_variable_data(&Guid::IMAGE_SECURITY_DATABASE, "db", &entry),
    ))
}

/// Every PCR 7 measurement OVMF makes booting an image verified by `db_cert_der` under
/// Secure Boot with this variable store, in order.
pub fn pcr7_events(store: &VarStore, db_cert_der: &[u8]) -> Result<Vec<Pcr7Event>, Pcr7Error> {
    let mut events = policy_events(store)?;
    events.push(authority_event(store, db_cert_der)?);
    Ok(events)
}

/// The PCR value after extending each event's digest, in order, into a reset PCR.
pub fn replay_pcr7<'a>(events: impl IntoIterator<Item = &'a Pcr7Event>) -> [u8; 32] {
    events
        .into_iter()
        .fold(PcrBank::Sha256.initial_value(), |pcr, e| {
            extend(&pcr, &e.digest)
        })
}

/// Predicts PCR 7 (sha256) for OVMF booting, under Secure Boot with the variable store
/// file `vars_file` (e.g. an enrolled copy of `OVMF_VARS_4M.fd`), an image signed by the
/// db certificate `db_cert_der` (DER).
pub fn predict_pcr7(vars_file: &[u8], db_cert_der: &[u8]) -> Result<[u8; 32], Pcr7Error> {
    let store = VarStore::parse(vars_file)?;
    Ok(replay_pcr7(&pcr7_events(&store, db_cert_der)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::varstore::testing::store;

    const G: Guid = Guid::GLOBAL_VARIABLE;
    const DB: Guid = Guid::IMAGE_SECURITY_DATABASE;
    const OWNER: Guid = Guid([0x11; 16]);

    fn x509_list(certs: &[&[u8]]) -> Vec<u8> {
        let sig_size = 16 + certs[0].len();
        let mut l = Guid::CERT_X509.0.to_vec();
        l.extend_from_slice(&((28 + sig_size * certs.len()) as u32).to_le_bytes());
        l.extend_from_slice(&0u32.to_le_bytes());
        l.extend_from_slice(&(sig_size as u32).to_le_bytes());
        for c in certs {
            l.extend_from_slice(&OWNER.0);
            l.extend_from_slice(c);
        }
        l
    }

    #[test]
    fn variable_data_layout() {
        let d = uefi_variable_data(&G, "SecureBoot", &[1]);
        // The exact bytes virt-fw-measure logs for SecureBoot = 1.
        assert_eq!(
            hex::encode(&d),
            "61dfe48bca93d211aa0d00e098032b8c0a00000000000000010000000000000053006500630075007200650042006f006f00740001"
        );
    }

    #[test]
    fn events_in_edk2_order_with_absent_variables_measured_empty() {
        let db = x509_list(&[b"cert-a", b"cert-b"]);
        let file = store(&[
            (0x3f, "PK", G, b"pk"),
            (0x3f, "db", DB, &db),
            (
                0x3f,
                "SecureBootEnable",
                Guid::SECURE_BOOT_ENABLE_DISABLE,
                &[1],
            ),
        ]);
        let s = VarStore::parse(&file).unwrap();
        let events = pcr7_events(&s, b"cert-b").unwrap();
        let what: Vec<_> = events.iter().map(|e| e.measured.clone()).collect();
        use Pcr7Measured::*;
        assert_eq!(
            what,
            [
                Config("SecureBoot"),
                Config("PK"),
                Config("KEK"),
                Config("db"),
                Config("dbx"),
                Separator,
                Authority
            ]
        );
        assert_eq!(events[2].data, uefi_variable_data(&G, "KEK", b""));
        assert_eq!(events[4].data, uefi_variable_data(&DB, "dbx", b""));
        assert_eq!(events[5].data, [0; 4]);
        assert_eq!(events[5].event_type, EV_SEPARATOR);
        let mut entry = OWNER.0.to_vec();
        entry.extend_from_slice(b"cert-b");
        assert_eq!(events[6].data, uefi_variable_data(&DB, "db", &entry));
        assert_eq!(events[6].event_type, EV_EFI_VARIABLE_AUTHORITY);
        for e in &events {
            assert_eq!(e.digest, PcrBank::Sha256.digest(&e.data));
        }
        assert_eq!(
            predict_pcr7(&file, b"cert-b").unwrap(),
            replay_pcr7(&events)
        );
    }

    #[test]
    fn dbt_is_measured_only_when_present() {
        let file = store(&[(0x3f, "PK", G, b"pk"), (0x3f, "dbt", DB, b"t")]);
        let s = VarStore::parse(&file).unwrap();
        let events = policy_events(&s).unwrap();
        assert_eq!(events.len(), 7);
        assert_eq!(events[5].measured, Pcr7Measured::Config("dbt"));
    }

    #[test]
    fn refuses_setup_mode_disabled_secure_boot_and_unknown_certificates() {
        let db = x509_list(&[b"cert-a"]);
        let no_pk = store(&[(0x3f, "db", DB, &db)]);
        assert_eq!(
            predict_pcr7(&no_pk, b"cert-a"),
            Err(Pcr7Error::NoPlatformKey)
        );
        let off = store(&[
            (0x3f, "PK", G, b"pk"),
            (
                0x3f,
                "SecureBootEnable",
                Guid::SECURE_BOOT_ENABLE_DISABLE,
                &[0],
            ),
        ]);
        assert_eq!(
            predict_pcr7(&off, b"cert-a"),
            Err(Pcr7Error::SecureBootDisabled(vec![0]))
        );
        let file = store(&[(0x3f, "PK", G, b"pk"), (0x3f, "db", DB, &db)]);
        assert_eq!(
            predict_pcr7(&file, b"cert-"),
            Err(Pcr7Error::CertificateNotInDb)
        );
        let no_db = store(&[(0x3f, "PK", G, b"pk")]);
        assert_eq!(
            predict_pcr7(&no_db, b"cert-a"),
            Err(Pcr7Error::CertificateNotInDb)
        );
    }

    #[test]
    fn malformed_db_is_refused_not_misread() {
        let db = x509_list(&[b"cert-a"]);
        for len in 1..db.len() {
            assert!(
                matches!(
                    find_db_certificate(&db[..len], b"cert-a"),
                    Err(Pcr7Error::MalformedDb { .. })
                ),
                "{len}"
            );
        }
        let mut zero_sig = db.clone();
        zero_sig[24..28].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            find_db_certificate(&zero_sig, b"cert-a"),
            Err(Pcr7Error::MalformedDb { .. })
        ));
        // A non-X.509 list holding the same bytes is not a certificate.
        let mut sha = db.clone();
        sha[0] ^= 1;
        assert_eq!(
            find_db_certificate(&sha, b"cert-a"),
            Err(Pcr7Error::CertificateNotInDb)
        );
    }
}
