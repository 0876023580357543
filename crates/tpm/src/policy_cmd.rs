//! The policy assertions beyond PolicyPCR — TPM2_PolicyNV and TPM2_PolicyAuthorize — and
//! TPM2_Unseal under a policy session.

use zeroize::Zeroizing;

use crate::digest::NvOp;
use crate::error::Error;
use crate::external::VerifiedTicket;
use crate::marshal::{AuthSession, Reader, Writer};
use crate::nv::NvIndex;
use crate::object::ObjectHandle;
use crate::tpm::{Session, Tpm, EMPTY_PASSWORD};
use crate::transport::Transport;

const CC_POLICY_NV: u32 = 0x149;
const CC_POLICY_AUTHORIZE: u32 = 0x16A;
const CC_UNSEAL: u32 = 0x15E;

impl<T: Transport> Tpm<T> {
    /// TPM2_PolicyNV: in a policy session, checks `op(NV data at offset, operand_b)` and
    /// fails with `TPM_RC_POLICY` if it does not hold; either way it folds the index's
    /// name into the digest. Authorized by the index itself with its empty password (the
    /// index needs `TPMA_NV_AUTHREAD`); an index never written fails with
    /// `TPM_RC_NV_UNINITIALIZED`.
    pub fn policy_nv(
        &mut self,
        session: &Session,
        index: NvIndex,
        operand_b: &[u8],
        offset: u16,
        op: NvOp,
    ) -> Result<(), Error> {
        if operand_b.len() > 64 {
            return Err(Error::InvalidRequest(
                "PolicyNV operand longer than 64 bytes",
            ));
        }
        let mut w = Writer::default();
        w.tpm2b(operand_b).u16(offset).u16(op as u16);
        let nv = index.handle();
        self.run(
            CC_POLICY_NV,
            &[nv, nv, session.handle()],
            &[EMPTY_PASSWORD],
            &w.buf,
            0,
        )?;
        Ok(())
    }

    /// TPM2_PolicyAuthorize: in a policy session, replaces the session's digest (which must
    /// equal `approved`, else `TPM_RC_VALUE`) by one naming only the key, once `ticket`
    /// proves that the key `key_name` signed `SHA-256(approved || policy_ref)`. A trial
    /// session takes [`VerifiedTicket::null`].
    pub fn policy_authorize(
        &mut self,
        session: &Session,
        approved: &[u8; 32],
        policy_ref: &[u8],
        key_name: &[u8],
        ticket: &VerifiedTicket,
    ) -> Result<(), Error> {
        if policy_ref.len() > 64 || key_name.len() > 66 {
            return Err(Error::InvalidRequest(
                "policyRef longer than a TPM2B_NONCE or key name longer than a TPM2B_NAME",
            ));
        }
        let mut w = Writer::default();
        w.tpm2b(approved).tpm2b(policy_ref).tpm2b(key_name);
        ticket.marshal(&mut w);
        self.run(CC_POLICY_AUTHORIZE, &[session.handle()], &[], &w.buf, 0)?;
        Ok(())
    }

    /// TPM2_Unseal of a loaded sealed data object, authorized by `session` (a policy
    /// session whose digest must equal the object's authPolicy, else
    /// `TPM_RC_POLICY_FAIL`). The session is used up: the TPM flushes it on success; on
    /// failure the caller flushes it.
    pub fn unseal(
        &mut self,
        object: ObjectHandle,
        session: &Session,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        // continueSession clear: a successful Unseal flushes the session.
        let auth = AuthSession {
            handle: session.handle(),
            attributes: 0,
        };
        let (_, out) = self.run(CC_UNSEAL, &[object.0], &[auth], &[], 0)?;
        let out = Zeroizing::new(out);
        Ok(Zeroizing::new(Reader::new(&out).tpm2b()?.to_vec()))
    }
}
