//! PCR selections of the SHA-256 bank, and the TPM2_PolicyPCR digest computed offline.

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::marshal::{Reader, Writer};

/// `TPM_ALG_SHA256`.
pub(crate) const ALG_SHA256: u16 = 0x000B;
/// `TPM_CC_PolicyPCR`, which the policy digest folds in.
pub(crate) const CC_POLICY_PCR: u32 = 0x0000_017F;
/// PCRs 0-23: the selection bitmap is three bytes on every PC-client TPM.
const SIZE_OF_SELECT: u8 = 3;
/// The number of PCRs a selection can name.
pub const PCR_COUNT: u8 = 24;

/// A set of PCRs of the SHA-256 bank (the only bank this crate uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PcrSelection {
    bitmap: u32,
}

impl PcrSelection {
    /// The SHA-256 PCRs named by `indices` (each below [`PCR_COUNT`]).
    pub fn sha256(indices: &[u8]) -> Result<Self, Error> {
        let mut bitmap = 0u32;
        for &i in indices {
            if i >= PCR_COUNT {
                return Err(Error::InvalidRequest("PCR index beyond 23"));
            }
            bitmap |= 1 << i;
        }
        Ok(Self { bitmap })
    }

    /// The selected PCR indices, ascending: the order the TPM hashes their values in.
    pub fn indices(&self) -> impl Iterator<Item = u8> + '_ {
        (0..PCR_COUNT).filter(|i| self.bitmap & (1 << i) != 0)
    }

    /// How many PCRs are selected.
    pub fn len(&self) -> usize {
        self.bitmap.count_ones() as usize
    }

    /// Whether no PCR is selected.
    pub fn is_empty(&self) -> bool {
        self.bitmap == 0
    }

    pub(crate) fn contains(&self, i: u8) -> bool {
        i < PCR_COUNT && self.bitmap & (1 << i) != 0
    }

    pub(crate) fn without(self, other: PcrSelection) -> Self {
        Self {
            bitmap: self.bitmap & !other.bitmap,
        }
    }

    /// Marshals as a TPML_PCR_SELECTION with one TPMS_PCR_SELECTION (the SHA-256 bank).
    pub(crate) fn marshal(&self, w: &mut Writer) {
        let b = self.bitmap.to_le_bytes(); // pcrSelect[0] holds PCRs 0-7
        w.u32(1).u16(ALG_SHA256).u8(SIZE_OF_SELECT).bytes(&b[..3]);
    }

    /// Parses a TPML_PCR_SELECTION as a TPM returns it; banks other than SHA-256 are refused.
    pub(crate) fn unmarshal(r: &mut Reader<'_>) -> Result<Self, Error> {
        let mut bitmap = 0u32;
        for _ in 0..r.u32()? {
            let alg = r.u16()?;
            let size = r.u8()? as usize;
            let select = r.take(size)?;
            if select.iter().all(|b| *b == 0) {
                continue;
            }
            if alg != ALG_SHA256 || size > 3 {
                return Err(Error::Malformed("PCR selection of an unexpected bank"));
            }
            for (k, b) in select.iter().enumerate() {
                bitmap |= (*b as u32) << (8 * k);
            }
        }
        Ok(Self { bitmap })
    }
}

/// The policy digest TPM2_PolicyPCR produces in a fresh session, computed offline:
/// `SHA-256(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || SHA-256(values))`.
///
/// `values` are the selected PCRs' SHA-256 values in ascending PCR order (as
/// [`crate::Tpm::pcr_read`] returns them); their number must match the selection.
pub fn policy_pcr_digest(selection: &PcrSelection, values: &[[u8; 32]]) -> Result<[u8; 32], Error> {
    extend_policy_pcr(&[0u8; 32], selection, values)
}

/// TPM2_PolicyPCR's update of an existing policy digest `old` (TPM 2.0 Part 3, 23.7).
pub fn extend_policy_pcr(
    old: &[u8; 32],
    selection: &PcrSelection,
    values: &[[u8; 32]],
) -> Result<[u8; 32], Error> {
    if values.len() != selection.len() {
        return Err(Error::InvalidRequest("one PCR value per selected PCR"));
    }
    let mut pcr_digest = Sha256::new();
    for v in values {
        pcr_digest.update(v);
    }
    let mut sel = Writer::default();
    selection.marshal(&mut sel);
    let mut h = Sha256::new();
    h.update(old);
    h.update(CC_POLICY_PCR.to_be_bytes());
    h.update(&sel.buf);
    h.update(pcr_digest.finalize());
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_marshals_pcrs_7_and_11() {
        let sel = PcrSelection::sha256(&[11, 7]).unwrap();
        assert_eq!(sel.indices().collect::<Vec<_>>(), [7, 11]);
        let mut w = Writer::default();
        sel.marshal(&mut w);
        assert_eq!(w.buf, [0, 0, 0, 1, 0, 0x0b, 3, 0x80, 0x08, 0]);
        let back = PcrSelection::unmarshal(&mut Reader::new(&w.buf)).unwrap();
        assert_eq!(back, sel);
        assert!(PcrSelection::sha256(&[24]).is_err());
    }

    #[test]
    fn policy_digest_of_pcr_0_all_zero() {
        // The formula spelled out byte by byte; the swtpm tests check it against a real TPM.
        let sel = PcrSelection::sha256(&[0]).unwrap();
        let got = policy_pcr_digest(&sel, &[[0u8; 32]]).unwrap();
        let mut h = Sha256::new();
        h.update([0u8; 32]);
        h.update([0, 0, 1, 0x7f, 0, 0, 0, 1, 0, 0x0b, 3, 1, 0, 0]);
        h.update(Sha256::digest([0u8; 32]));
        assert_eq!(got, <[u8; 32]>::from(h.finalize()));
        assert!(policy_pcr_digest(&sel, &[]).is_err());
    }
}
