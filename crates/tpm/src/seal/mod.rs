//! The master key sealed to signed image policies (design: docs/design/measured-boot.md,
//! "Seal"): [`genesis`] seals it once; [`unseal`] opens it under any policy the operator
//! signed, while the PCRs and the rollback counter match; [`advance_counter`] then
//! retires older policies. Secrets are returned as `Zeroizing` and never logged.

mod blob;
mod error;

pub use blob::{SealFormatError, SealedMasterKey};
pub use error::{PcrDiff, PolicyCheck, UnsealError};

use zeroize::Zeroizing;

use crate::digest::{policy_authorize_digest, NvOp};
use crate::error::Error;
use crate::external::ExternalKey;
use crate::nv::NvIndex;
use crate::object::ObjectHandle;
use crate::policy::{pcr_selection, PolicyPublicKey, SignedPolicy, COUNTER_SPEC, POLICY_REF};
use crate::rc::Rc;
use crate::tpm::{SessionType, Tpm};
use crate::transport::Transport;

/// The most increments one [`advance_counter`] makes: each is an NV write, and a typo'd
/// version must not wear out the TPM's NV memory.
pub const MAX_ADVANCE: u64 = 1024;

/// Seals `secret` in `tpm` to the policies `policy_key` signs, with the rollback counter
/// `counter`: defines the counter if absent (checks it is Custos's counter if present),
/// increments it once if never written (so its name, which policies name, is final),
/// and creates the sealed data object under the storage primary key with authPolicy
/// PolicyAuthorize(policy key, POLICY_REF) and no password use.
pub fn genesis<T: Transport>(
    tpm: &mut Tpm<T>,
    secret: &[u8; 32],
    policy_key: &PolicyPublicKey,
    counter: NvIndex,
) -> Result<SealedMasterKey, Error> {
    let public = match tpm.nv_read_public(counter) {
        Ok(public) => public,
        Err(Error::Tpm(rc)) if rc.rc() == Rc::Handle => {
            tpm.nv_define_counter(counter, &COUNTER_SPEC)?;
            tpm.nv_read_public(counter)?
        }
        Err(e) => return Err(e),
    };
    public.check_counter(&COUNTER_SPEC)?;
    if !public.written() {
        tpm.nv_increment(counter, &COUNTER_SPEC)?;
    }
    let auth_policy = policy_authorize_digest(&policy_key.name(), POLICY_REF);
    let srk = tpm.create_primary_storage_key()?;
    let sealed = tpm.seal(srk, &auth_policy, secret);
    let flushed = tpm.flush_context(srk.handle());
    let object = sealed?;
    flushed?;
    Ok(SealedMasterKey::new(*policy_key, counter, object))
}

/// The rollback counter's value; [`Error::CounterUnwritten`] if it was never incremented.
pub fn read_counter<T: Transport>(tpm: &mut Tpm<T>, counter: NvIndex) -> Result<u64, Error> {
    tpm.nv_read_counter(counter, &COUNTER_SPEC)?
        .ok_or(Error::CounterUnwritten {
            index: counter.handle(),
        })
}

/// Increments the rollback counter until it equals `to` and returns the new value.
/// Refuses ([`Error::CounterAhead`]) if it is already beyond `to`, and
/// ([`Error::CounterJump`]) a jump of more than [`MAX_ADVANCE`].
pub fn advance_counter<T: Transport>(
    tpm: &mut Tpm<T>,
    counter: NvIndex,
    to: u64,
) -> Result<u64, Error> {
    let index = counter.handle();
    let value = read_counter(tpm, counter)?;
    if value > to {
        return Err(Error::CounterAhead {
            index,
            value,
            target: to,
        });
    }
    if to - value > MAX_ADVANCE {
        return Err(Error::CounterJump {
            index,
            value,
            target: to,
            max: MAX_ADVANCE,
        });
    }
    for _ in value..to {
        tpm.nv_increment(counter, &COUNTER_SPEC)?;
    }
    let value = read_counter(tpm, counter)?;
    if value != to {
        // Someone else incremented it meanwhile: the guard still holds, but say so.
        return Err(Error::CounterAhead {
            index,
            value,
            target: to,
        });
    }
    Ok(value)
}

/// Unseals the master key under `policy`. First checks, for a clear error, that the
/// policy is for the sealed key's counter and signed by its policy key, that PCR 7 and 11
/// hold the policy's values, and that the counter has not passed the policy's version;
/// then lets the TPM decide ([`unseal_unchecked`]).
pub fn unseal<T: Transport>(
    tpm: &mut Tpm<T>,
    sealed: &SealedMasterKey,
    policy: &SignedPolicy,
) -> Result<Zeroizing<[u8; 32]>, UnsealError> {
    if policy.counter() != sealed.counter() {
        return Err(UnsealError::CounterMismatch {
            policy: policy.counter().handle(),
            sealed: sealed.counter().handle(),
        });
    }
    // Before anything the policy says is reported: unsigned values are not worth naming.
    if !policy.is_signed_by(sealed.policy_key()) {
        return Err(UnsealError::NotSignedByPolicyKey);
    }
    let current = tpm.pcr_read(&pcr_selection())?;
    let expected = [policy.policy().pcr7, policy.policy().pcr11];
    let diffs: Vec<PcrDiff> = [7u8, 11]
        .into_iter()
        .zip(expected.into_iter().zip(current))
        .filter(|(_, (want, have))| want != have)
        .map(|(pcr, (policy, current))| PcrDiff {
            pcr,
            policy,
            current,
        })
        .collect();
    if !diffs.is_empty() {
        return Err(UnsealError::PcrMismatch(diffs));
    }
    let value = read_counter(tpm, sealed.counter())?;
    if value > policy.policy().version {
        return Err(UnsealError::RolledBack {
            counter: value,
            version: policy.policy().version,
        });
    }
    unseal_unchecked(tpm, sealed, policy)
}

/// Unseals without [`unseal`]'s pre-checks: the TPM alone enforces the policy
/// (LoadExternal + VerifySignature of the policy key, then PolicyPCR, PolicyNV,
/// PolicyAuthorize and Unseal in a policy session); its refusals map to
/// [`UnsealError::NotSignedByPolicyKey`] and [`UnsealError::PolicyMismatch`]. Every
/// handle it loads is flushed.
pub fn unseal_unchecked<T: Transport>(
    tpm: &mut Tpm<T>,
    sealed: &SealedMasterKey,
    policy: &SignedPolicy,
) -> Result<Zeroizing<[u8; 32]>, UnsealError> {
    let (x, y) = sealed.policy_key().coordinates();
    let key = tpm.load_external_p256(&x, &y)?;
    let result = load_and_unseal(tpm, &key, sealed, policy);
    let flushed = tpm.flush_context(key.handle.handle());
    let secret = result?;
    flushed?;
    if secret.len() != 32 {
        return Err(UnsealError::WrongSecretLength(secret.len()));
    }
    // Copied straight into its zeroized home: no unwiped array on the stack.
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&secret);
    Ok(key)
}

fn load_and_unseal<T: Transport>(
    tpm: &mut Tpm<T>,
    key: &ExternalKey,
    sealed: &SealedMasterKey,
    policy: &SignedPolicy,
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    let ticket = tpm
        .verify_signature(key.handle, &policy.a_hash(), policy.signature())
        .map_err(|e| match e {
            Error::Tpm(rc) if rc.rc() == Rc::Signature => UnsealError::NotSignedByPolicyKey,
            e => e.into(),
        })?;
    let srk = tpm.create_primary_storage_key()?;
    let loaded = tpm.load(srk, sealed.object());
    // A loaded object does not need its parent any more.
    let flushed = tpm.flush_context(srk.handle());
    let object = loaded?;
    let result = flushed
        .map_err(UnsealError::from)
        .and_then(|()| policy_session_unseal(tpm, object, key, sealed, policy, &ticket));
    let flushed = tpm.flush_context(object.handle());
    let secret = result?;
    flushed?;
    Ok(secret)
}

fn policy_session_unseal<T: Transport>(
    tpm: &mut Tpm<T>,
    object: ObjectHandle,
    key: &ExternalKey,
    sealed: &SealedMasterKey,
    policy: &SignedPolicy,
    ticket: &crate::external::VerifiedTicket,
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    // The TPM's refusal at each step, as a precise variant; anything else passes through.
    let refused = |check: PolicyCheck, expected: Rc| {
        move |e: Error| match e {
            Error::Tpm(rc) if rc.rc() == expected => UnsealError::PolicyMismatch { check, rc },
            e => e.into(),
        }
    };
    let session = tpm.start_auth_session(SessionType::Policy)?;
    let version = policy.policy().version.to_be_bytes();
    let result = tpm
        .policy_pcr(
            &session,
            &pcr_selection(),
            Some(&policy.policy().pcr_digest()),
        )
        .map_err(refused(PolicyCheck::Pcrs, Rc::Value))
        .and_then(|()| {
            tpm.policy_nv(&session, sealed.counter(), &version, 0, NvOp::UnsignedLe)
                .map_err(refused(PolicyCheck::Counter, Rc::Policy))
        })
        .and_then(|()| {
            tpm.policy_authorize(
                &session,
                &policy.approved_digest(),
                POLICY_REF,
                &key.name,
                ticket,
            )
            .map_err(refused(PolicyCheck::Authorize, Rc::Value))
        })
        .and_then(|()| {
            tpm.unseal(object, &session)
                .map_err(refused(PolicyCheck::SealedObject, Rc::PolicyFail))
        });
    if result.is_err() {
        // A failed command leaves the session loaded; the original error matters more.
        let _ = tpm.flush_context(session.handle());
    }
    result
}
