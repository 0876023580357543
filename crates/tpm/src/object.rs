//! Sealing: a storage primary key, a sealed data object bound to a policy digest, and
//! unsealing it under a PolicyPCR policy session.

use zeroize::Zeroizing;

use crate::error::Error;
use crate::marshal::{Reader, Writer};
use crate::pcr::{PcrSelection, ALG_SHA256};
use crate::rc::Rc;
use crate::tpm::{SessionType, Tpm, ALG_NULL, EMPTY_PASSWORD};
use crate::transport::Transport;

const CC_CREATE_PRIMARY: u32 = 0x131;
const CC_CREATE: u32 = 0x153;
const CC_LOAD: u32 = 0x157;

/// `TPM_RH_OWNER`: the storage hierarchy.
pub(crate) const RH_OWNER: u32 = 0x4000_0001;
/// `TPM_RH_ENDORSEMENT`: the privacy-sensitive hierarchy attestation keys live in.
const RH_ENDORSEMENT: u32 = 0x4000_000B;

/// The hierarchies this crate creates primary keys in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    /// The storage hierarchy (`TPM_RH_OWNER`): the storage key.
    Owner,
    /// The endorsement hierarchy (`TPM_RH_ENDORSEMENT`): the attestation key.
    Endorsement,
}

impl Hierarchy {
    pub(crate) fn handle(self) -> u32 {
        match self {
            Hierarchy::Owner => RH_OWNER,
            Hierarchy::Endorsement => RH_ENDORSEMENT,
        }
    }
}
pub(crate) const ALG_ECC: u16 = 0x0023;
pub(crate) const ALG_KEYEDHASH: u16 = 0x0008;
const ALG_AES: u16 = 0x0006;
const ALG_CFB: u16 = 0x0043;
pub(crate) const ECC_NIST_P256: u16 = 0x0003;

// TPMA_OBJECT bits (TPM 2.0 Part 2, 8.3).
pub(crate) const FIXED_TPM: u32 = 1 << 1;
pub(crate) const FIXED_PARENT: u32 = 1 << 4;
pub(crate) const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
pub(crate) const USER_WITH_AUTH: u32 = 1 << 6;
pub(crate) const NO_DA: u32 = 1 << 10;
pub(crate) const RESTRICTED: u32 = 1 << 16;
const DECRYPT: u32 = 1 << 17;
pub(crate) const SIGN: u32 = 1 << 18;

/// The largest secret a sealed data object holds (MAX_SYM_DATA on PC-client TPMs).
pub const MAX_SEALED_LEN: usize = 128;

/// A transient object loaded in the TPM; flush it with [`Tpm::flush_context`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectHandle(pub(crate) u32);

impl ObjectHandle {
    /// The object's TPM handle.
    pub fn handle(&self) -> u32 {
        self.0
    }
}

/// A sealed data object as TPM2_Create returns it: safe to store anywhere, since only
/// the TPM that created it can load it (the private part is encrypted to its parent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedObject {
    /// TPM2B_PRIVATE, marshalled (with its size).
    pub private: Vec<u8>,
    /// TPM2B_PUBLIC, marshalled (with its size).
    pub public: Vec<u8>,
}

/// Marshals a TPM2B whose contents `f` writes (e.g. TPM2B_PUBLIC around a TPMT_PUBLIC).
pub(crate) fn sized(w: &mut Writer, f: impl FnOnce(&mut Writer)) {
    let mut inner = Writer::default();
    f(&mut inner);
    w.tpm2b(&inner.buf);
    zeroize::Zeroize::zeroize(&mut inner.buf);
}

/// Reads one TPM2B and returns it with its size field, as stored in a [`SealedObject`].
fn tpm2b_with_size(r: &mut Reader<'_>) -> Result<Vec<u8>, Error> {
    let body = r.tpm2b()?;
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

impl<T: Transport> Tpm<T> {
    /// TPM2_CreatePrimary in `hierarchy` (with its empty password) from `template`, a
    /// marshalled TPMT_PUBLIC, with an empty userAuth and no creation data. Returns the
    /// handle and the response's parameters (TPM2B_PUBLIC first). A template with empty
    /// unique fields yields the same key each time on the same TPM.
    pub(crate) fn create_primary(
        &mut self,
        hierarchy: Hierarchy,
        template: &[u8],
    ) -> Result<(ObjectHandle, Vec<u8>), Error> {
        let mut w = Writer::default();
        sized(&mut w, |s| {
            s.tpm2b(&[]).tpm2b(&[]); // userAuth, data
        });
        w.tpm2b(template);
        w.tpm2b(&[]).u32(0); // outsideInfo, creationPCR
        let (hs, params) = self.run(
            CC_CREATE_PRIMARY,
            &[hierarchy.handle()],
            &[EMPTY_PASSWORD],
            &w.buf,
            1,
        )?;
        Ok((ObjectHandle(hs[0]), params))
    }

    /// TPM2_CreatePrimary of the standard ECC P-256 storage key (the "SRK" template, with
    /// empty unique fields) in the owner hierarchy, with an empty owner password. The same
    /// TPM returns the same key each time, so nothing about it needs storing.
    pub fn create_primary_storage_key(&mut self) -> Result<ObjectHandle, Error> {
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
                    | DECRYPT,
            )
            .tpm2b(&[]) // authPolicy
            .u16(ALG_AES)
            .u16(128)
            .u16(ALG_CFB)
            .u16(ALG_NULL) // scheme
            .u16(ECC_NIST_P256)
            .u16(ALG_NULL) // kdf
            .tpm2b(&[]) // unique.x
            .tpm2b(&[]); // unique.y
        let (handle, _) = self.create_primary(Hierarchy::Owner, &p.buf)?;
        Ok(handle)
    }

    /// TPM2_Create of a sealed data object under `parent` holding `secret`, usable only
    /// through a policy session whose digest equals `policy` (no password use: the object
    /// lacks `userWithAuth`).
    ///
    /// The secret crosses the bus to the TPM in the clear (no parameter encryption yet).
    pub fn seal(
        &mut self,
        parent: ObjectHandle,
        policy: &[u8; 32],
        secret: &[u8],
    ) -> Result<SealedObject, Error> {
        if secret.is_empty() || secret.len() > MAX_SEALED_LEN {
            return Err(Error::InvalidRequest("sealed data must be 1 to 128 bytes"));
        }
        // Room for everything up front: a buffer that grew after the secret was written
        // would leave an unwiped copy in the freed allocation.
        let mut w = Writer {
            buf: Vec::with_capacity(256 + secret.len()),
        };
        sized(&mut w, |s| {
            s.tpm2b(&[]).tpm2b(secret);
        });
        sized(&mut w, |p| {
            p.u16(ALG_KEYEDHASH)
                .u16(ALG_SHA256)
                .u32(FIXED_TPM | FIXED_PARENT)
                .tpm2b(policy)
                .u16(ALG_NULL) // keyed-hash scheme: none (a sealed data object)
                .tpm2b(&[]); // unique
        });
        w.tpm2b(&[]).u32(0); // outsideInfo, creationPCR
        let params = Zeroizing::new(w.buf);
        let (_, out) = self.run(CC_CREATE, &[parent.0], &[EMPTY_PASSWORD], &params, 0)?;
        let mut r = Reader::new(&out);
        let private = tpm2b_with_size(&mut r)?;
        let public = tpm2b_with_size(&mut r)?;
        Ok(SealedObject { private, public })
    }

    /// TPM2_Load of a sealed object under `parent` (the same primary key it was created under).
    pub fn load(
        &mut self,
        parent: ObjectHandle,
        sealed: &SealedObject,
    ) -> Result<ObjectHandle, Error> {
        let mut w = Writer::default();
        w.bytes(&sealed.private).bytes(&sealed.public);
        let (hs, _) = self.run(CC_LOAD, &[parent.0], &[EMPTY_PASSWORD], &w.buf, 1)?;
        Ok(ObjectHandle(hs[0]))
    }

    /// Unseals a loaded object whose policy is a single TPM2_PolicyPCR over `selection`:
    /// starts a policy session, runs PolicyPCR on the current PCR values, then TPM2_Unseal.
    /// If the PCRs differ from those the object was sealed to, this fails with
    /// [`Error::PolicyMismatch`]. The session is flushed either way.
    pub fn unseal_with_pcr_policy(
        &mut self,
        object: ObjectHandle,
        selection: &PcrSelection,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let session = self.start_auth_session(SessionType::Policy)?;
        let result = self
            .policy_pcr(&session, selection, None)
            .and_then(|()| self.unseal(object, &session));
        match result {
            Ok(secret) => Ok(secret),
            Err(e) => {
                // A failed command leaves the session loaded; the original error matters more.
                let _ = self.flush_context(session.handle());
                match e {
                    Error::Tpm(rc) if rc.rc() == Rc::PolicyFail => Err(Error::PolicyMismatch(rc)),
                    e => Err(e),
                }
            }
        }
    }
}
