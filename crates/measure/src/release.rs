//! The release manifest: what a verifier expects of a booted image.
//!
//! JSON with exactly these fields, digests as 64 lowercase hex characters:
//!
//! ```json
//! { "version": 3, "kernel": "linux-image-6.1.0-28-cloud-amd64 6.1.119-1",
//!   "uki_sha256": "…", "pcr7": "…", "pcr11": "…" }
//! ```
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

/// A release of the boot image and the PCR values it must produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The image version (the NV counter value the image advances to).
    pub version: u64,
    /// The kernel the image carries (package and version, free text).
    pub kernel: String,
    /// SHA-256 of the signed UKI.
    #[serde(with = "hex32")]
    pub uki_sha256: [u8; 32],
    /// PCR 7 (sha256 bank) the image boots with.
    #[serde(with = "hex32")]
    pub pcr7: [u8; 32],
    /// PCR 11 (sha256 bank) the image boots with.
    #[serde(with = "hex32")]
    pub pcr11: [u8; 32],
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[error("bad release manifest: {0}")]
pub struct ReleaseError(#[from] serde_json::Error);

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
    pub fn check_pcrs(&self, pcr7: &[u8; 32], pcr11: &[u8; 32]) -> Result<(), Mismatch> {
        for (pcr, expected, actual) in [(7, &self.pcr7, pcr7), (11, &self.pcr11, pcr11)] {
            if expected != actual {
                return Err(Mismatch {
                    pcr,
                    expected: *expected,
                    actual: *actual,
                });
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
            kernel: "linux-image-6.1.0-28-cloud-amd64 6.1.119-1".into(),
            uki_sha256: [0xab; 32],
            pcr7: [0x07; 32],
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
            Mismatch {
                pcr: 11,
                expected: [0x11; 32],
                actual: [0x12; 32]
            }
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
        assert_eq!(r.check_pcrs(&[0; 32], &[0; 32]).unwrap_err().pcr, 7);
    }
}
