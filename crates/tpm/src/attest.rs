//! Attestation: an ECC P-256 attestation key (AK), TPM2_Quote over SHA-256 PCRs with the
//! verifier's nonce, and [`verify_quote`], a pure offline check of such a quote.

use p256::ecdsa::signature::Verifier;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::marshal::{Reader, Writer};
use crate::object::{
    Hierarchy, ObjectHandle, ALG_ECC, ECC_NIST_P256, FIXED_PARENT, FIXED_TPM, NO_DA, RESTRICTED,
    SENSITIVE_DATA_ORIGIN, SIGN, USER_WITH_AUTH,
};
use crate::pcr::{PcrSelection, ALG_SHA256};
use crate::tpm::{Tpm, ALG_NULL, EMPTY_PASSWORD};
use crate::transport::Transport;

const CC_QUOTE: u32 = 0x158;
pub(crate) const ALG_ECDSA: u16 = 0x0018;
/// `TPM_GENERATED_VALUE`: the TPM puts it in everything it signs, and refuses to sign
/// outside data starting with it, so a restricted key's signature over it is the TPM's word.
const TPM_GENERATED: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_QUOTE`.
const ST_ATTEST_QUOTE: u16 = 0x8018;
/// The largest qualifying data (nonce) a quote carries: one SHA-256 digest.
pub const MAX_NONCE_LEN: usize = 32;

/// An attestation key's public point on P-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AkPublic {
    /// The x coordinate, big-endian.
    pub x: [u8; 32],
    /// The y coordinate, big-endian.
    pub y: [u8; 32],
}

impl AkPublic {
    /// The uncompressed SEC1 encoding (`04 || x || y`).
    pub fn to_sec1(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 4;
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }
}

/// An attestation key loaded in the TPM; flush [`AttestationKey::handle`] when done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationKey {
    /// The loaded key.
    pub handle: ObjectHandle,
    /// Its public point, for the verifier.
    pub public: AkPublic,
}

/// A quote as the TPM returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The marshalled TPMS_ATTEST the TPM signed.
    pub attest: Vec<u8>,
    /// The ECDSA P-256 signature over SHA-256(`attest`): `r || s`, 32 bytes each.
    pub signature: [u8; 64],
}

/// The fields of a parsed TPMS_ATTEST quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteInfo {
    /// The signing key's name.
    pub qualified_signer: Vec<u8>,
    /// The qualifying data: the verifier's nonce.
    pub extra_data: Vec<u8>,
    /// Milliseconds the TPM has been powered (TPMS_CLOCK_INFO.clock).
    pub clock: u64,
    /// TPM resets (reboots) since the TPM was cleared.
    pub reset_count: u32,
    /// TPM restarts (resumes) since the last reset.
    pub restart_count: u32,
    /// Whether the clock never went back.
    pub safe: bool,
    /// The TPM vendor's firmware version.
    pub firmware_version: u64,
    /// The PCRs quoted.
    pub pcr_select: PcrSelection,
    /// SHA-256 of the quoted PCR values, concatenated in ascending PCR order.
    pub pcr_digest: [u8; 32],
}

/// Why a quote failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The attestation key is not a valid P-256 point.
    #[error("the attestation key is not a P-256 public key")]
    BadKey,
    /// The signature is not the attestation key's over these bytes: tampered, or another TPM.
    #[error("the quote's signature does not verify under the attestation key")]
    BadSignature,
    /// The signed bytes are TPM-generated but not a quote (or not TPM-generated at all).
    #[error("the attestation is not a TPM quote: {0}")]
    NotAQuote(&'static str),
    /// The quote answers another nonce: a replay.
    #[error("the quote's nonce is not the expected one")]
    WrongNonce,
    /// The quoted PCRs are not the expected selection.
    #[error("the quote covers other PCRs than expected")]
    SelectionMismatch,
    /// The quoted PCR values are not the expected ones.
    #[error("the quoted PCR values are not the expected ones")]
    PcrMismatch,
    /// The attestation does not parse.
    #[error("malformed attestation: {0}")]
    Malformed(&'static str),
}

/// Parses a TPMS_ATTEST quote (without checking its signature).
pub fn parse_quote(attest: &[u8]) -> Result<QuoteInfo, VerifyError> {
    let bad = |_: Error| VerifyError::Malformed("truncated TPMS_ATTEST");
    let mut r = Reader::new(attest);
    if r.u32().map_err(bad)? != TPM_GENERATED {
        return Err(VerifyError::NotAQuote("magic is not TPM_GENERATED_VALUE"));
    }
    if r.u16().map_err(bad)? != ST_ATTEST_QUOTE {
        return Err(VerifyError::NotAQuote("type is not TPM_ST_ATTEST_QUOTE"));
    }
    let qualified_signer = r.tpm2b().map_err(bad)?.to_vec();
    let extra_data = r.tpm2b().map_err(bad)?.to_vec();
    let u64 = |r: &mut Reader<'_>| -> Result<u64, VerifyError> {
        Ok(((r.u32().map_err(bad)? as u64) << 32) | r.u32().map_err(bad)? as u64)
    };
    let clock = u64(&mut r)?;
    let reset_count = r.u32().map_err(bad)?;
    let restart_count = r.u32().map_err(bad)?;
    let safe = match r.u8().map_err(bad)? {
        0 => false,
        1 => true,
        _ => return Err(VerifyError::Malformed("TPMI_YES_NO is neither 0 nor 1")),
    };
    let firmware_version = u64(&mut r)?;
    let pcr_select = PcrSelection::unmarshal(&mut r)
        .map_err(|_| VerifyError::Malformed("PCR selection of an unexpected bank"))?;
    let pcr_digest: [u8; 32] = r
        .tpm2b()
        .map_err(bad)?
        .try_into()
        .map_err(|_| VerifyError::Malformed("pcrDigest is not 32 bytes"))?;
    if r.remaining() != 0 {
        return Err(VerifyError::Malformed(
            "trailing bytes after TPMS_QUOTE_INFO",
        ));
    }
    Ok(QuoteInfo {
        qualified_signer,
        extra_data,
        clock,
        reset_count,
        restart_count,
        safe,
        firmware_version,
        pcr_select,
        pcr_digest,
    })
}

/// Verifies a quote offline: the ECDSA P-256 signature of `ak` (SEC1-encoded) over
/// SHA-256(`quote.attest`), that it is a TPM-generated quote, that it carries
/// `expected_nonce`, covers exactly `selection`, and that its PCR digest is SHA-256 of
/// `expected_pcrs` (the selected PCRs' values in ascending PCR order).
///
/// The signature is checked first, so nothing unsigned is trusted.
pub fn verify_quote(
    ak: &[u8],
    quote: &Quote,
    expected_nonce: &[u8],
    selection: &PcrSelection,
    expected_pcrs: &[[u8; 32]],
) -> Result<QuoteInfo, VerifyError> {
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(ak).map_err(|_| VerifyError::BadKey)?;
    let sig = p256::ecdsa::Signature::from_slice(&quote.signature)
        .map_err(|_| VerifyError::BadSignature)?;
    // `verify` hashes with SHA-256, P-256's digest, as the AK's ECDSA-SHA256 scheme does.
    key.verify(&quote.attest, &sig)
        .map_err(|_| VerifyError::BadSignature)?;
    let info = parse_quote(&quote.attest)?;
    // Byte comparison of public values: no timing concern.
    if info.extra_data != expected_nonce {
        return Err(VerifyError::WrongNonce);
    }
    if info.pcr_select != *selection || expected_pcrs.len() != selection.len() {
        return Err(VerifyError::SelectionMismatch);
    }
    let mut h = Sha256::new();
    expected_pcrs.iter().for_each(|v| h.update(v));
    if info.pcr_digest[..] != h.finalize()[..] {
        return Err(VerifyError::PcrMismatch);
    }
    Ok(info)
}

/// Left-pads an ECDSA scalar the TPM returned to 32 bytes.
fn scalar(bytes: &[u8]) -> Result<[u8; 32], Error> {
    if bytes.len() > 32 {
        return Err(Error::Malformed("ECDSA scalar longer than 32 bytes"));
    }
    let mut out = [0u8; 32];
    out[32 - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}

impl<T: Transport> Tpm<T> {
    /// TPM2_CreatePrimary of a restricted ECC P-256 signing key (ECDSA-SHA256) in the
    /// endorsement hierarchy, with empty passwords. Restricted: it signs only digests of
    /// data the TPM itself produced (quotes), never arbitrary data starting with the magic.
    /// The same TPM returns the same key each time (empty unique fields).
    pub fn create_attestation_key(&mut self) -> Result<AttestationKey, Error> {
        let mut p = Writer::default();
        p.u16(ALG_ECC)
            .u16(ALG_SHA256)
            .u32(
                FIXED_TPM
                    | FIXED_PARENT
                    | SENSITIVE_DATA_ORIGIN
                    | USER_WITH_AUTH
                    | NO_DA
                    | RESTRICTED
                    | SIGN,
            )
            .tpm2b(&[]) // authPolicy
            .u16(ALG_NULL) // symmetric: none (a signing key)
            .u16(ALG_ECDSA)
            .u16(ALG_SHA256)
            .u16(ECC_NIST_P256)
            .u16(ALG_NULL) // kdf
            .tpm2b(&[]) // unique.x
            .tpm2b(&[]); // unique.y
        let (handle, params) = self.create_primary(Hierarchy::Endorsement, &p.buf)?;
        let public = parse_ak_public(&params).inspect_err(|_| {
            // The key is useless without its public part; do not leak its slot.
            let _ = self.flush_context(handle.0);
        })?;
        Ok(AttestationKey { handle, public })
    }

    /// TPM2_Quote of the SHA-256 PCRs in `selection`, signed by `ak`, with `nonce` (at most
    /// [`MAX_NONCE_LEN`] bytes) as qualifying data.
    pub fn quote(
        &mut self,
        ak: &AttestationKey,
        nonce: &[u8],
        selection: &PcrSelection,
    ) -> Result<Quote, Error> {
        if nonce.len() > MAX_NONCE_LEN {
            return Err(Error::InvalidRequest("quote nonce longer than 32 bytes"));
        }
        let mut w = Writer::default();
        w.tpm2b(nonce).u16(ALG_ECDSA).u16(ALG_SHA256);
        selection.marshal(&mut w);
        let (_, params) = self.run(CC_QUOTE, &[ak.handle.0], &[EMPTY_PASSWORD], &w.buf, 0)?;
        let mut r = Reader::new(&params);
        let attest = r.tpm2b()?.to_vec();
        if r.u16()? != ALG_ECDSA || r.u16()? != ALG_SHA256 {
            return Err(Error::Malformed("quote signature is not ECDSA-SHA256"));
        }
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&scalar(r.tpm2b()?)?);
        signature[32..].copy_from_slice(&scalar(r.tpm2b()?)?);
        Ok(Quote { attest, signature })
    }
}

/// Reads the AK's point from CreatePrimary's TPM2B_PUBLIC (the first response parameter).
fn parse_ak_public(params: &[u8]) -> Result<AkPublic, Error> {
    let mut outer = Reader::new(params);
    let mut r = Reader::new(outer.tpm2b()?);
    let (ty, _name_alg, _attrs) = (r.u16()?, r.u16()?, r.u32()?);
    let _policy = r.tpm2b()?;
    let (sym, scheme, hash, curve, kdf) = (r.u16()?, r.u16()?, r.u16()?, r.u16()?, r.u16()?);
    if (ty, sym, scheme, hash, curve, kdf)
        != (
            ALG_ECC,
            ALG_NULL,
            ALG_ECDSA,
            ALG_SHA256,
            ECC_NIST_P256,
            ALG_NULL,
        )
    {
        return Err(Error::Malformed(
            "attestation key is not ECDSA-SHA256 on P-256",
        ));
    }
    let x = r.tpm2b()?.try_into();
    let y = r.tpm2b()?.try_into();
    match (x, y) {
        (Ok(x), Ok(y)) => Ok(AkPublic { x, y }),
        _ => Err(Error::Malformed("P-256 coordinates are not 32 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_left_padded() {
        let s = scalar(&[1, 2]).unwrap();
        assert_eq!(&s[30..], &[1, 2]);
        assert_eq!(s[..30], [0; 30]);
        assert!(scalar(&[0; 33]).is_err());
    }

    #[test]
    fn parse_refuses_what_is_not_a_quote() {
        assert_eq!(
            parse_quote(&[0, 0, 0, 0, 0x80, 0x18]),
            Err(VerifyError::NotAQuote("magic is not TPM_GENERATED_VALUE"))
        );
        // TPM_ST_ATTEST_CERTIFY (0x8017).
        assert_eq!(
            parse_quote(&[0xff, 0x54, 0x43, 0x47, 0x80, 0x17]),
            Err(VerifyError::NotAQuote("type is not TPM_ST_ATTEST_QUOTE"))
        );
        assert!(matches!(
            parse_quote(&[0xff, 0x54, 0x43, 0x47, 0x80, 0x18, 0]),
            Err(VerifyError::Malformed(_))
        ));
    }
}
