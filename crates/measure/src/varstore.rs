//! A strict reader of an edk2 (OVMF) non-volatile variable store file such as
//! `OVMF_VARS_4M.fd`: a firmware volume holding an authenticated variable store.
//!
//! Layout (edk2 `MdePkg/Include/Pi/PiFirmwareVolume.h`, `MdeModulePkg/Include/Guid/
//! VariableFormat.h`), all little-endian:
//!
//! - firmware volume header at offset 0: 16 zero bytes, the file system GUID
//!   ([`Guid::SYSTEM_NV_DATA_FV`]), `FvLength` u64, `"_FVH"`, attributes u32,
//!   `HeaderLength` u16, checksum u16 (the header's u16 words sum to 0), ext header offset
//!   u16, reserved u8, revision u8, then the block map;
//! - the variable store header at `HeaderLength`: [`Guid::AUTHENTICATED_VARIABLE`], size
//!   u32, format `0x5a` (formatted), state `0xfe` (healthy), 6 reserved bytes;
//! - variables, each 4-byte aligned: start id `0x55aa`, state u8, reserved u8, attributes
//!   u32, monotonic count u64, timestamp (16 bytes), public key index u32, name size u32,
//!   data size u32, vendor GUID, the UTF-16LE name with its NUL, the data. The first word
//!   that is not `0x55aa` (erased flash reads `0xffff`) ends the list.

use crate::guid::Guid;

/// Bytes of the firmware volume header before the block map.
const FV_HEADER_MIN: usize = 56;
/// Bytes of the variable store header.
const STORE_HEADER: usize = 28;
/// Bytes of an authenticated variable header (before the name).
const VAR_HEADER: usize = 60;
const FV_SIGNATURE: &[u8; 4] = b"_FVH";
const VARIABLE_START_ID: u16 = 0x55aa;
const STORE_FORMATTED: u8 = 0x5a;
const STORE_HEALTHY: u8 = 0xfe;
/// `VAR_ADDED`: the variable is live.
const VAR_ADDED: u8 = 0x3f;
/// `VAR_ADDED & VAR_IN_DELETED_TRANSITION`: live until its replacement is complete.
const VAR_ADDED_IN_TRANSITION: u8 = 0x3e;

/// Why a variable store file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarStoreError {
    /// The file ends inside a structure.
    #[error("variable store truncated at offset {offset:#x} reading {what}")]
    Truncated {
        /// Where the structure starts.
        offset: usize,
        /// Which structure.
        what: &'static str,
    },
    /// The file does not start with a firmware volume header.
    #[error("not a firmware volume: no _FVH signature at offset 0x28")]
    NotFirmwareVolume,
    /// The firmware volume is not an NV variable volume.
    #[error("firmware volume has file system {0}, not the NV data volume")]
    NotNvData(Guid),
    /// The firmware volume header's checksum is wrong.
    #[error("firmware volume header checksum is wrong")]
    BadChecksum,
    /// A header length or size field is out of range.
    #[error("bad {what} {value:#x} at offset {offset:#x}")]
    BadSize {
        /// Where the field's structure starts.
        offset: usize,
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// The variable store is not an authenticated variable store.
    #[error("variable store signature {0} is not the authenticated variable format")]
    NotAuthenticated(Guid),
    /// The variable store is not formatted and healthy.
    #[error("variable store format {format:#x} / state {state:#x} is not formatted (0x5a) and healthy (0xfe)")]
    Unhealthy {
        /// The format byte.
        format: u8,
        /// The state byte.
        state: u8,
    },
    /// A variable name is not a NUL-terminated UTF-16LE string.
    #[error("variable at offset {offset:#x} has a malformed name")]
    BadName {
        /// Where the variable starts.
        offset: usize,
    },
    /// Two live copies of one variable.
    #[error("variable {name} ({guid}) is live twice")]
    Duplicate {
        /// The variable's name.
        name: String,
        /// The variable's vendor GUID.
        guid: Guid,
    },
}

/// One live variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The name, without its NUL.
    pub name: String,
    /// The vendor GUID.
    pub guid: Guid,
    /// The attributes (`EFI_VARIABLE_NON_VOLATILE` etc.).
    pub attributes: u32,
    /// The data: for authenticated variables only the payload (the authentication
    /// descriptor is not stored).
    pub data: Vec<u8>,
}

/// The live variables of a store, in store order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VarStore {
    variables: Vec<Variable>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn need(file: &[u8], offset: usize, len: usize, what: &'static str) -> Result<(), VarStoreError> {
    match offset.checked_add(len) {
        Some(end) if end <= file.len() => Ok(()),
        _ => Err(VarStoreError::Truncated { offset, what }),
    }
}

impl VarStore {
    /// Parses an edk2 variable store file (raw, not qcow2).
    pub fn parse(file: &[u8]) -> Result<VarStore, VarStoreError> {
        need(file, 0, FV_HEADER_MIN, "firmware volume header")?;
        if &file[40..44] != FV_SIGNATURE {
            return Err(VarStoreError::NotFirmwareVolume);
        }
        let fs = Guid::from_slice(&file[16..]).unwrap_or(Guid([0; 16]));
        if fs != Guid::SYSTEM_NV_DATA_FV {
            return Err(VarStoreError::NotNvData(fs));
        }
        let fv_len = le64(file, 32);
        let header_len = usize::from(le16(file, 48));
        if header_len < FV_HEADER_MIN || !header_len.is_multiple_of(2) {
            return Err(VarStoreError::BadSize {
                offset: 0,
                what: "firmware volume header length",
                value: header_len as u64,
            });
        }
        need(file, 0, header_len, "firmware volume header")?;
        if usize::try_from(fv_len).map_or(true, |l| l < header_len || l > file.len()) {
            return Err(VarStoreError::BadSize {
                offset: 0,
                what: "firmware volume length",
                value: fv_len,
            });
        }
        let sum = (0..header_len)
            .step_by(2)
            .fold(0u16, |s, i| s.wrapping_add(le16(file, i)));
        if sum != 0 {
            return Err(VarStoreError::BadChecksum);
        }
        // The variable store must lie inside the volume.
        let volume = &file[..fv_len as usize];
        let store = header_len;
        need(volume, store, STORE_HEADER, "variable store header")?;
        let sig = Guid::from_slice(&volume[store..]).unwrap_or(Guid([0; 16]));
        if sig != Guid::AUTHENTICATED_VARIABLE {
            return Err(VarStoreError::NotAuthenticated(sig));
        }
        let size = le32(volume, store + 16) as usize;
        let (format, state) = (volume[store + 20], volume[store + 21]);
        if format != STORE_FORMATTED || state != STORE_HEALTHY {
            return Err(VarStoreError::Unhealthy { format, state });
        }
        let end = store
            .checked_add(size)
            .filter(|&e| size >= STORE_HEADER && e <= volume.len())
            .ok_or(VarStoreError::BadSize {
                offset: store,
                what: "variable store size",
                value: size as u64,
            })?;
        Self::parse_variables(&volume[..end], store + STORE_HEADER)
    }

    fn parse_variables(store: &[u8], mut pos: usize) -> Result<VarStore, VarStoreError> {
        let mut live = Vec::new();
        let mut in_transition = Vec::new();
        while pos + 2 <= store.len() && le16(store, pos) == VARIABLE_START_ID {
            need(store, pos, VAR_HEADER, "variable header")?;
            let state = store[pos + 2];
            let attributes = le32(store, pos + 4);
            let name_size = le32(store, pos + 36) as usize;
            let data_size = le32(store, pos + 40) as usize;
            let guid = Guid::from_slice(&store[pos + 44..]).unwrap_or(Guid([0; 16]));
            let name_at = pos + VAR_HEADER;
            let total = name_size
                .checked_add(data_size)
                .ok_or(VarStoreError::Truncated {
                    offset: pos,
                    what: "variable",
                })?;
            need(store, name_at, total, "variable")?;
            let data_at = name_at + name_size;
            if state == VAR_ADDED || state == VAR_ADDED_IN_TRANSITION {
                let name = crate::utf16::decode_nul_terminated(&store[name_at..data_at])
                    .ok_or(VarStoreError::BadName { offset: pos })?;
                let var = Variable {
                    name,
                    guid,
                    attributes,
                    data: store[data_at..data_at + data_size].to_vec(),
                };
                if state == VAR_ADDED {
                    live.push(var);
                } else {
                    in_transition.push(var);
                }
            }
            // Anything else is deleted or a header whose data was never written.
            pos = (data_at + data_size + 3) & !3;
        }
        let mut variables: Vec<Variable> = Vec::with_capacity(live.len());
        for var in live {
            if variables
                .iter()
                .any(|v| v.name == var.name && v.guid == var.guid)
            {
                return Err(VarStoreError::Duplicate {
                    name: var.name,
                    guid: var.guid,
                });
            }
            variables.push(var);
        }
        // edk2 keeps an in-transition copy only when its replacement never became live.
        for var in in_transition {
            if !variables
                .iter()
                .any(|v| v.name == var.name && v.guid == var.guid)
            {
                variables.push(var);
            }
        }
        Ok(VarStore { variables })
    }

    /// The live variable `name` of vendor `guid`.
    pub fn get(&self, name: &str, guid: &Guid) -> Option<&Variable> {
        self.variables
            .iter()
            .find(|v| v.name == name && v.guid == *guid)
    }

    /// Every live variable, in store order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }
}

/// Test-only writer of variable stores in the format [`VarStore::parse`] reads.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A store of `size` bytes with `vars` as `(state, name, guid, data)`.
    pub fn store(vars: &[(u8, &str, Guid, &[u8])]) -> Vec<u8> {
        let fv_len = 0x4000usize;
        let header_len = 72usize;
        let mut f = vec![0u8; header_len];
        f[16..32].copy_from_slice(&Guid::SYSTEM_NV_DATA_FV.0);
        f[32..40].copy_from_slice(&(fv_len as u64).to_le_bytes());
        f[40..44].copy_from_slice(FV_SIGNATURE);
        f[44..48].copy_from_slice(&0x0004_feffu32.to_le_bytes());
        f[48..50].copy_from_slice(&(header_len as u16).to_le_bytes());
        f[55] = 2;
        f[56..60].copy_from_slice(&4u32.to_le_bytes());
        f[60..64].copy_from_slice(&0x1000u32.to_le_bytes());
        let sum = (0..header_len)
            .step_by(2)
            .fold(0u16, |s, i| s.wrapping_add(le16(&f, i)));
        f[50..52].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        f.extend_from_slice(&Guid::AUTHENTICATED_VARIABLE.0);
        f.extend_from_slice(&((fv_len - header_len) as u32).to_le_bytes());
        f.extend_from_slice(&[STORE_FORMATTED, STORE_HEALTHY, 0, 0, 0, 0, 0, 0]);
        for (state, name, guid, data) in vars {
            let name: Vec<u8> = name
                .encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect();
            f.extend_from_slice(&VARIABLE_START_ID.to_le_bytes());
            f.extend_from_slice(&[*state, 0]);
            f.extend_from_slice(&7u32.to_le_bytes());
            f.extend_from_slice(&[0; 8 + 16 + 4]);
            f.extend_from_slice(&(name.len() as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&guid.0);
            f.extend_from_slice(&name);
            f.extend_from_slice(data);
            while !f.len().is_multiple_of(4) {
                f.push(0xff);
            }
        }
        f.resize(fv_len, 0xff);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::testing::store;
    use super::*;

    const G: Guid = Guid::GLOBAL_VARIABLE;

    #[test]
    fn reads_live_variables_and_skips_deleted_ones() {
        let file = store(&[
            (VAR_ADDED, "PK", G, b"pk"),
            (0x3c, "KEK", G, b"old"), // added, then deleted
            (VAR_ADDED, "KEK", G, b"new"),
            (0x7f, "db", G, b"never written"),
            (VAR_ADDED_IN_TRANSITION, "dbx", G, b"x"),
        ]);
        let s = VarStore::parse(&file).unwrap();
        let names: Vec<_> = s.variables().iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["PK", "KEK", "dbx"]);
        assert_eq!(s.get("KEK", &G).unwrap().data, b"new");
        assert_eq!(s.get("KEK", &Guid::IMAGE_SECURITY_DATABASE), None);
        assert_eq!(s.get("PK", &G).unwrap().attributes, 7);
    }

    #[test]
    fn live_copy_wins_over_in_transition_copy() {
        let file = store(&[
            (VAR_ADDED_IN_TRANSITION, "KEK", G, b"old"),
            (VAR_ADDED, "KEK", G, b"new"),
        ]);
        let s = VarStore::parse(&file).unwrap();
        assert_eq!(s.variables().len(), 1);
        assert_eq!(s.get("KEK", &G).unwrap().data, b"new");
    }

    #[test]
    fn refuses_two_live_copies() {
        let file = store(&[(VAR_ADDED, "PK", G, b"a"), (VAR_ADDED, "PK", G, b"b")]);
        assert!(matches!(
            VarStore::parse(&file),
            Err(VarStoreError::Duplicate { .. })
        ));
    }

    #[test]
    fn refuses_damaged_headers() {
        let good = store(&[(VAR_ADDED, "PK", G, b"pk")]);
        let mut f = good.clone();
        f[40] = b'X';
        assert_eq!(VarStore::parse(&f), Err(VarStoreError::NotFirmwareVolume));
        let mut f = good.clone();
        f[16] ^= 1;
        assert!(matches!(
            VarStore::parse(&f),
            Err(VarStoreError::NotNvData(_))
        ));
        let mut f = good.clone();
        f[60] ^= 1;
        assert_eq!(VarStore::parse(&f), Err(VarStoreError::BadChecksum));
        let mut f = good.clone();
        f[72 + 21] = 0xff;
        assert!(matches!(
            VarStore::parse(&f),
            Err(VarStoreError::Unhealthy { .. })
        ));
        let mut f = good.clone();
        f[72] ^= 1;
        assert!(matches!(
            VarStore::parse(&f),
            Err(VarStoreError::NotAuthenticated(_))
        ));
        // A data size running past the store.
        let mut f = good.clone();
        let var = 72 + STORE_HEADER;
        f[var + 40..var + 44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            VarStore::parse(&f),
            Err(VarStoreError::Truncated { .. })
        ));
        // A name without its NUL.
        let mut f = good.clone();
        f[var + 36..var + 40].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            VarStore::parse(&f),
            Err(VarStoreError::BadName { offset: var })
        );
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_store() {
        let good = store(&[(VAR_ADDED, "PK", G, b"pk"), (VAR_ADDED, "KEK", G, b"kek")]);
        for len in 0..200 {
            assert!(VarStore::parse(&good[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn empty_debian_template_has_no_variables() {
        let file = std::fs::read("/usr/share/OVMF/OVMF_VARS_4M.fd").expect(
            "/usr/share/OVMF/OVMF_VARS_4M.fd is missing: install the Debian package `ovmf`",
        );
        let s = VarStore::parse(&file).unwrap();
        assert_eq!(s.variables(), &[]);
    }
}
