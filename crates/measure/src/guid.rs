//! EFI GUIDs in their on-disk (mixed-endian) byte order.

/// An EFI GUID as it is stored in firmware structures: the first three fields little-endian,
/// the last eight bytes as written (`EFI_GUID` in memory on x86).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// `EFI_GLOBAL_VARIABLE`: the vendor GUID of `SecureBoot`, `PK` and `KEK`.
    pub const GLOBAL_VARIABLE: Guid = Guid::from_fields(
        0x8be4_df61,
        0x93ca,
        0x11d2,
        [0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c],
    );
    /// `EFI_IMAGE_SECURITY_DATABASE_GUID`: the vendor GUID of `db`, `dbx` and `dbt`.
    pub const IMAGE_SECURITY_DATABASE: Guid = Guid::from_fields(
        0xd719_b2cb,
        0x3d3a,
        0x4596,
        [0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f],
    );
    /// `EFI_CERT_X509_GUID`: the signature type of a signature list holding DER
    /// certificates.
    pub const CERT_X509: Guid = Guid::from_fields(
        0xa5c0_59a1,
        0x94e4,
        0x4aa7,
        [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
    );
    /// `EFI_SYSTEM_NV_DATA_FV_GUID`: the file system GUID of the firmware volume that holds
    /// edk2's non-volatile variables.
    pub const SYSTEM_NV_DATA_FV: Guid = Guid::from_fields(
        0xfff1_2b8d,
        0x7696,
        0x4c8b,
        [0xa9, 0x85, 0x27, 0x47, 0x07, 0x5b, 0x4f, 0x50],
    );
    /// `gEfiAuthenticatedVariableGuid`: the signature of a variable store whose variables
    /// carry authentication headers (the format OVMF with Secure Boot uses).
    pub const AUTHENTICATED_VARIABLE: Guid = Guid::from_fields(
        0xaaf3_2c78,
        0x947b,
        0x439a,
        [0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92],
    );
    /// `EFI_SECURE_BOOT_ENABLE_DISABLE`: the vendor GUID of edk2's `SecureBootEnable`
    /// variable.
    pub const SECURE_BOOT_ENABLE_DISABLE: Guid = Guid::from_fields(
        0xf0a3_0bc7,
        0xaf08,
        0x4556,
        [0x99, 0xc4, 0x00, 0x10, 0x09, 0xc9, 0x3a, 0x44],
    );

    /// The GUID `d1-d2-d3-d4[0..2]-d4[2..8]` in the usual text form.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// Reads a GUID from the first 16 bytes of `bytes` (on-disk order); `None` if shorter.
    pub fn from_slice(bytes: &[u8]) -> Option<Guid> {
        bytes.get(..16)?.try_into().ok().map(Guid)
    }

    /// Parses the text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (either case).
    pub fn parse(text: &str) -> Option<Guid> {
        let parts: Vec<&str> = text.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5
            || parts
                .iter()
                .zip(lens)
                .any(|(p, n)| p.len() != n || !p.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return None;
        }
        let d1 = u32::from_str_radix(parts[0], 16).ok()?;
        let d2 = u16::from_str_radix(parts[1], 16).ok()?;
        let d3 = u16::from_str_radix(parts[2], 16).ok()?;
        let tail = format!("{}{}", parts[3], parts[4]);
        let mut d4 = [0; 8];
        for (i, b) in d4.iter_mut().enumerate() {
            *b = u8::from_str_radix(&tail[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Guid::from_fields(d1, d2, d3, d4))
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-",
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]])
        )?;
        for (i, b) in g[8..].iter().enumerate() {
            if i == 2 {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Guid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_bytes_are_mixed_endian() {
        let g = Guid::parse("8BE4DF61-93CA-11d2-aa0d-00e098032b8c").unwrap();
        assert_eq!(g, Guid::GLOBAL_VARIABLE);
        assert_eq!(g.to_string(), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
        // The first bytes of a measured SecureBoot event (checked against virt-fw-measure).
        assert_eq!(g.0[..8], [0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11]);
        assert_eq!(Guid::from_slice(&g.0), Some(g));
        assert_eq!(Guid::from_slice(&g.0[..15]), None);
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "8be4df61-93ca-11d2-aa0d-00e098032b8",
            "8be4df61-93ca-11d2-aa0d00e098032b8c",
            "8be4df6g-93ca-11d2-aa0d-00e098032b8c",
            "+be4df61-93ca-11d2-aa0d-00e098032b8c",
            "8be4df61-93ca-11d2-aa0d-00e098032b8c-",
        ] {
            assert_eq!(Guid::parse(bad), None, "{bad:?}");
        }
    }
}
