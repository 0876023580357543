//! PCR banks and the TPM extend operation.

use sha2::{Digest as _, Sha256};

/// A PCR bank: the hash algorithm of one set of PCRs.
///
/// Only SHA-256 is supported: it is the bank Custos seals to, and the one every TPM 2.0
/// with PC Client firmware has active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PcrBank {
    /// The SHA-256 bank (`TPM_ALG_SHA256`): 32-byte PCR values and digests.
    Sha256,
}

impl PcrBank {
    /// The bank's initial PCR value after a TPM reset: for PCR 11 (and every PCR from 0 to
    /// 15), all zero bytes.
    pub fn initial_value(self) -> [u8; 32] {
        match self {
            Self::Sha256 => [0; 32],
        }
    }

    /// The bank's hash of `data`: what a measurement of `data` extends into the PCR.
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            Self::Sha256 => Sha256::digest(data).into(),
        }
    }

    /// The name `systemd-measure --bank=` and `tpm2_pcrread` use for this bank.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
        }
    }
}

/// The TPM2_PCR_Extend operation on the SHA-256 bank: the new value is
/// `SHA-256(pcr || digest)`.
///
/// `digest` is the hash of the measured data (see [`PcrBank::digest`]), not the data itself.
pub fn extend(pcr: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(pcr);
    h.update(digest);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_is_sha256_of_the_concatenation() {
        let pcr = [0x11; 32];
        let digest = [0x22; 32];
        let mut both = Vec::new();
        both.extend_from_slice(&pcr);
        both.extend_from_slice(&digest);
        assert_eq!(extend(&pcr, &digest), PcrBank::Sha256.digest(&both));
    }

    #[test]
    fn sha256_bank_basics() {
        assert_eq!(PcrBank::Sha256.initial_value(), [0; 32]);
        assert_eq!(PcrBank::Sha256.name(), "sha256");
        // FIPS 180-2 test vector.
        let abc: [u8; 32] = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad,
        ];
        assert_eq!(PcrBank::Sha256.digest(b"abc"), abc);
    }
}
