//! The release manifest: what a verifier expects of a booted image.
//!
//! `release.json`, written by the image build (`custos-image build`): JSON with exactly
//! these fields, digests as 64 lowercase hex characters:
//!
//! ```json
//! { "version": 3, "kernel_package": "linux-image-6.1.0-28-cloud-amd64",
//!   "kernel_version": "6.1.119-1", "cmdline": "console=ttyS0 panic=-1",
//!   "unsigned_uki_sha256": "…", "uki_sha256": "…", "pcr11": "…", "pcr7": "…" }
//! ```
//!
//! `uki_sha256` and `pcr7` are `null` for an unsigned build (PCR 7 depends on the
//! certificate that verified the image); such a release cannot be attested or authorized.
//!
//! Parsing is strict (unknown or missing fields, other hex forms are refused) because the
//! manifest decides what an attestation is compared with.

use serde::{Deserialize, Serialize};

/// A 32-byte digest serialized as 64 lowercase hex characters.
mod hex32 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(D::Error::custom(
                "expected 64 lowercase hex characters (a SHA-256 digest)",
            ));
        }
        let mut out = [0; 32];
        hex::decode_to_slice(&text, &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}

/// An optional 32-byte digest: 64 lowercase hex characters or `null`.
mod hex32_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => super::hex32::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::hex32")] [u8; 32]);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// A release of the boot image and the PCR values it must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The image version (the NV counter value the image advances to).
    pub version: u64,
    /// The kernel's Debian package name.
    pub kernel_package: String,
    /// The kernel's Debian package version.
    pub kernel_version: String,
    /// The kernel command line (the UKI's `.cmdline`).
    pub cmdline: String,
    /// SHA-256 of the unsigned UKI (reproducible: anyone can rebuild and compare).
    #[serde(with = "hex32")]
    pub unsigned_uki_sha256: [u8; 32],
    /// SHA-256 of the signed UKI; `None` for an unsigned build.
    #[serde(with = "hex32_opt")]
    pub uki_sha256: Option<[u8; 32]>,
    /// PCR 11 (sha256 bank) systemd-stub measures for the image.
    #[serde(with = "hex32")]
    pub pcr11: [u8; 32],
    /// PCR 7 (sha256 bank) the image boots with under Secure Boot; `None` when it was not
    /// predicted (unsigned build, or no variable store given).
    #[serde(with = "hex32_opt")]
    pub pcr7: Option<[u8; 32]>,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[error("bad release manifest: {0}")]
pub struct ReleaseError(#[from] serde_json::Error);

/// Why measurements are not a release's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A PCR differs.
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    /// The release has no PCR 7 prediction, so nothing can be checked against it.
    #[error(
        "release {0} has no predicted PCR 7 (an unsigned build, or built without --ovmf-vars)"
    )]
    NoPcr7(u64),
}

/// A PCR whose value differs from the release's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "PCR {pcr} is {} but release expects {}",
    hex::encode(actual),
    hex::encode(expected)
)]
pub struct Mismatch {
    /// The PCR index (7 or 11).
    pub pcr: u32,
    /// The release's value.
    pub expected: [u8; 32],
    /// The value found.
    pub actual: [u8; 32],
}

impl Release {
    /// Parses a manifest strictly.
    pub fn from_json(text: &str) -> Result<Release, ReleaseError> {
        Ok(serde_json::from_str(text)?)
    }

    /// The manifest as pretty-printed JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a Release always serializes");
        s.push('\n');
        s
    }

    /// Checks PCR 7 and PCR 11 (sha256) against the release; the first that differs (7
    /// before 11) is the error.
    pub fn check_pcrs(&self, pcr7: &[u8; 32], pcr11: &[u8; 32]) -> Result<(), CheckError> {
        let expected7 = self.pcr7.ok_or(CheckError::NoPcr7(self.version))?;
        for (pcr, expected, actual) in [(7, &expected7, pcr7), (11, &self.pcr11, pcr11)] {
            if expected != actual {
                return Err(Mismatch {
                    pcr,
                    expected: *expected,
                    actual: *actual,
                }
                .into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Release {
        Release {
            version: 3,
            kernel_package: "linux-image-6.1.0-28-cloud-amd64".into(),
            kernel_version: "6.1.119-1".into(),
            cmdline: "console=ttyS0 panic=-1".into(),
            unsigned_uki_sha256: [0xcd; 32],
            uki_sha256: Some([0xab; 32]),
            pcr7: Some([0x07; 32]),
            pcr11: [0x11; 32],
        }
    }

    #[test]
    fn json_round_trip_with_hex_digests() {
        let r = sample();
        let json = r.to_json();
        assert!(
            json.contains(&format!("\"pcr7\": \"{}\"", "07".repeat(32))),
            "{json}"
        );
        assert!(json.contains("\"version\": 3"));
        assert_eq!(Release::from_json(&json).unwrap(), r);
        let unsigned = Release {
            uki_sha256: None,
            pcr7: None,
            ..r
        };
        let json = unsigned.to_json();
        assert!(json.contains("\"pcr7\": null"), "{json}");
        assert_eq!(Release::from_json(&json).unwrap(), unsigned);
        assert_eq!(
            unsigned.check_pcrs(&[0x07; 32], &[0x11; 32]),
            Err(CheckError::NoPcr7(3))
        );
    }

    #[test]
    fn strict_parse() {
        let good: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        let with = |key: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[key] = value;
            Release::from_json(&v.to_string())
        };
        assert!(with("extra", 1.into()).is_err());
        assert!(with("pcr7", "AB".repeat(32).into()).is_err());
        assert!(with("pcr7", "ab".repeat(31).into()).is_err());
        assert!(with("pcr11", format!("0x{}", "ab".repeat(31)).into()).is_err());
        assert!(with("uki_sha256", "zz".repeat(32).into()).is_err());
        assert!(with("version", (-1).into()).is_err());
        assert!(with("version", "3".into()).is_err());
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("pcr11");
        let err = Release::from_json(&missing.to_string()).unwrap_err();
        assert!(err.to_string().contains("pcr11"), "{err}");
        assert!(Release::from_json("").is_err());
    }

    #[test]
    fn check_pcrs_names_the_pcr_and_both_values() {
        let r = sample();
        assert_eq!(r.check_pcrs(&[0x07; 32], &[0x11; 32]), Ok(()));
        let e = r.check_pcrs(&[0x07; 32], &[0x12; 32]).unwrap_err();
        assert_eq!(
            e,
            CheckError::Mismatch(Mismatch {
                pcr: 11,
                expected: [0x11; 32],
                actual: [0x12; 32]
            })
        );
        assert_eq!(
            e.to_string(),
            format!(
                "PCR 11 is {} but release expects {}",
                "12".repeat(32),
                "11".repeat(32)
            )
        );
        // PCR 7 is reported first when both differ.
        assert!(matches!(
            r.check_pcrs(&[0; 32], &[0; 32]),
            Err(CheckError::Mismatch(Mismatch { pcr: 7, .. }))
        ));
    }
}
