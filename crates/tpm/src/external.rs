//! An outside public key in the TPM: TPM2_LoadExternal of an ECC P-256 verification key
//! and TPM2_VerifySignature, whose ticket TPM2_PolicyAuthorize accepts as the key's word.

use crate::attest::ALG_ECDSA;
use crate::error::Error;
use crate::marshal::{Reader, Writer};
use crate::object::RH_OWNER;
use crate::object::{sized, ObjectHandle, ALG_ECC, ECC_NIST_P256, SIGN, USER_WITH_AUTH};
use crate::pcr::ALG_SHA256;
use crate::tpm::{Tpm, ALG_NULL};
use crate::transport::Transport;

const CC_LOAD_EXTERNAL: u32 = 0x167;
const CC_VERIFY_SIGNATURE: u32 = 0x177;
/// `TPM_ST_VERIFIED`: the tag of a TPMT_TK_VERIFIED.
pub(crate) const ST_VERIFIED: u16 = 0x8022;
/// `TPM_RH_NULL`, the hierarchy of a ticket that proves nothing.
const RH_NULL: u32 = crate::tpm::RH_NULL;

/// The TPMT_PUBLIC of a public-only ECC P-256 ECDSA-SHA256 verification key, as
/// [`Tpm::load_external_p256`] loads it and as [`crate::digest::ecc_p256_key_name`] hashes it.
pub(crate) fn ecc_p256_verify_public(x: &[u8; 32], y: &[u8; 32]) -> Vec<u8> {
    let mut p = Writer::default();
    p.u16(ALG_ECC)
        .u16(ALG_SHA256)
        .u32(USER_WITH_AUTH | SIGN)
        .tpm2b(&[]) // authPolicy
        .u16(ALG_NULL) // symmetric: none (a signing key)
        .u16(ALG_ECDSA)
        .u16(ALG_SHA256)
        .u16(ECC_NIST_P256)
        .u16(ALG_NULL) // kdf
        .tpm2b(x)
        .tpm2b(y);
    p.buf
}

/// A public key loaded with [`Tpm::load_external_p256`]; flush [`ExternalKey::handle`]
/// when done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalKey {
    /// The loaded key.
    pub handle: ObjectHandle,
    /// Its name as the TPM computed it: `TPM_ALG_SHA256 || SHA-256(TPMT_PUBLIC)`.
    pub name: Vec<u8>,
}

/// A TPMT_TK_VERIFIED: the TPM's proof that a key it holds signed a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTicket {
    /// The hierarchy of the verifying key (`TPM_RH_NULL` for a ticket that proves nothing).
    pub hierarchy: u32,
    /// The ticket's HMAC (empty in a NULL ticket).
    pub digest: Vec<u8>,
}

impl VerifiedTicket {
    /// The NULL ticket, which a trial session accepts in TPM2_PolicyAuthorize.
    pub fn null() -> Self {
        Self {
            hierarchy: RH_NULL,
            digest: Vec::new(),
        }
    }

    /// Whether this is a NULL ticket (the key was in the NULL hierarchy).
    pub fn is_null(&self) -> bool {
        self.hierarchy == RH_NULL
    }

    pub(crate) fn marshal(&self, w: &mut Writer) {
        w.u16(ST_VERIFIED).u32(self.hierarchy).tpm2b(&self.digest);
    }
}

impl<T: Transport> Tpm<T> {
    /// TPM2_LoadExternal of the public ECC P-256 point (`x`, `y`) as an ECDSA-SHA256
    /// verification key, into the owner hierarchy: a key in the NULL hierarchy would
    /// yield NULL tickets, which TPM2_PolicyAuthorize refuses in a policy session.
    pub fn load_external_p256(&mut self, x: &[u8; 32], y: &[u8; 32]) -> Result<ExternalKey, Error> {
        let mut w = Writer::default();
        w.tpm2b(&[]); // inPrivate: none, a public key only
        sized(&mut w, |p| {
            p.bytes(&ecc_p256_verify_public(x, y));
        });
        w.u32(RH_OWNER);
        let (hs, params) = self.run(CC_LOAD_EXTERNAL, &[], &[], &w.buf, 1)?;
        let handle = ObjectHandle(hs[0]);
        match Reader::new(&params).tpm2b() {
            Ok(name) => Ok(ExternalKey {
                handle,
                name: name.to_vec(),
            }),
            Err(e) => {
                let _ = self.flush_context(handle.0);
                Err(e)
            }
        }
    }

    /// TPM2_VerifySignature: checks the ECDSA-SHA256 `signature` (`r || s`) of the loaded
    /// `key` over `digest` (the TPM hashes nothing more) and returns the ticket.
    /// A signature that does not verify fails with `TPM_RC_SIGNATURE`.
    pub fn verify_signature(
        &mut self,
        key: ObjectHandle,
        digest: &[u8; 32],
        signature: &[u8; 64],
    ) -> Result<VerifiedTicket, Error> {
        let mut w = Writer::default();
        w.tpm2b(digest)
            .u16(ALG_ECDSA)
            .u16(ALG_SHA256)
            .tpm2b(&signature[..32])
            .tpm2b(&signature[32..]);
        let (_, params) = self.run(CC_VERIFY_SIGNATURE, &[key.0], &[], &w.buf, 0)?;
        let mut r = Reader::new(&params);
        if r.u16()? != ST_VERIFIED {
            return Err(Error::Malformed("ticket is not a TPMT_TK_VERIFIED"));
        }
        let hierarchy = r.u32()?;
        let digest = r.tpm2b()?.to_vec();
        Ok(VerifiedTicket { hierarchy, digest })
    }
}
