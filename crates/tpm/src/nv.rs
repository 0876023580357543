//! A monotonic NV counter (`TPM_NT_COUNTER`), so an older signed image cannot roll back
//! the version Custos has seen: the TPM only ever increases a counter, and a redefined
//! counter starts at the highest value any counter on that TPM ever held.

use crate::error::Error;
use crate::marshal::{Reader, Writer};
use crate::object::{sized, RH_OWNER};
use crate::pcr::ALG_SHA256;
use crate::rc::Rc;
use crate::tpm::{Tpm, EMPTY_PASSWORD};
use crate::transport::Transport;

const CC_NV_UNDEFINE_SPACE: u32 = 0x122;
const CC_NV_DEFINE_SPACE: u32 = 0x12A;
const CC_NV_INCREMENT: u32 = 0x134;
const CC_NV_READ: u32 = 0x14E;
const CC_NV_READ_PUBLIC: u32 = 0x169;

// TPMA_NV bits (TPM 2.0 Part 2, 13.4).
const AUTHWRITE: u32 = 1 << 2;
const POLICYWRITE: u32 = 1 << 3;
const NT_SHIFT: u32 = 4;
const NT_MASK: u32 = 0xF << NT_SHIFT;
const NT_COUNTER: u32 = 1 << NT_SHIFT;
const WRITELOCKED: u32 = 1 << 11;
const AUTHREAD: u32 = 1 << 18;
const NO_DA: u32 = 1 << 25;
const READLOCKED: u32 = 1 << 28;
pub(crate) const WRITTEN: u32 = 1 << 29;
/// Bits the TPM sets as the index is used; they are state, not part of the definition.
const STATE_BITS: u32 = WRITELOCKED | READLOCKED | WRITTEN;
/// A counter's data is always eight bytes.
const COUNTER_SIZE: u16 = 8;
/// `TPM_HT_NV_INDEX`: the top byte of every NV index handle.
const HT_NV_INDEX: u32 = 0x01;

/// The handle of an NV index (`0x01xxxxxx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NvIndex(u32);

impl NvIndex {
    /// An NV index handle; refuses handles outside the NV range.
    pub fn new(handle: u32) -> Result<Self, Error> {
        if handle >> 24 != HT_NV_INDEX {
            return Err(Error::InvalidRequest("NV index handles are 0x01xxxxxx"));
        }
        Ok(Self(handle))
    }

    /// The index's TPM handle.
    pub fn handle(&self) -> u32 {
        self.0
    }
}

/// How Custos defines its counter: with an empty password, no dictionary-attack
/// lockout (the password is empty, so lockout would only let anyone deny service), and,
/// when `policy` is given, writes also allowed through that policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterSpec {
    /// The index's authPolicy; `None` for password-only use.
    pub policy: Option<[u8; 32]>,
}

impl CounterSpec {
    /// The TPMA_NV attributes of such a counter.
    pub fn attributes(&self) -> u32 {
        let policy = if self.policy.is_some() {
            POLICYWRITE
        } else {
            0
        };
        NT_COUNTER | AUTHWRITE | AUTHREAD | NO_DA | policy
    }
}

/// The public area of an NV index, as TPM2_NV_ReadPublic reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPublic {
    /// The index handle.
    pub index: u32,
    /// The name algorithm (`TPM_ALG_SHA256` for Custos's counter).
    pub name_alg: u16,
    /// TPMA_NV, including state bits such as `TPMA_NV_WRITTEN`.
    pub attributes: u32,
    /// The authPolicy (empty for none).
    pub auth_policy: Vec<u8>,
    /// The data size in bytes.
    pub data_size: u16,
}

impl NvPublic {
    /// Whether the index has been written (a counter: incremented at least once).
    pub fn written(&self) -> bool {
        self.attributes & WRITTEN != 0
    }

    /// Checks that this is the counter `spec` defines: [`Error::NotACounter`] or
    /// [`Error::NvPublicMismatch`] naming the field that differs.
    pub fn check_counter(&self, spec: &CounterSpec) -> Result<(), Error> {
        let index = self.index;
        if self.attributes & NT_MASK != NT_COUNTER {
            return Err(Error::NotACounter { index });
        }
        let mismatch = |what, expected: u32, found: u32| Error::NvPublicMismatch {
            index,
            what,
            expected,
            found,
        };
        let found = self.attributes & !STATE_BITS;
        if found != spec.attributes() {
            return Err(mismatch("attributes", spec.attributes(), found));
        }
        if self.name_alg != ALG_SHA256 {
            return Err(mismatch(
                "name algorithm",
                ALG_SHA256.into(),
                self.name_alg.into(),
            ));
        }
        if self.data_size != COUNTER_SIZE {
            return Err(mismatch(
                "data size",
                COUNTER_SIZE.into(),
                self.data_size.into(),
            ));
        }
        let policy_ok = match &spec.policy {
            Some(p) => self.auth_policy == p[..],
            None => self.auth_policy.is_empty(),
        };
        if !policy_ok {
            return Err(mismatch(
                "auth policy",
                spec.policy.is_some().into(),
                (!self.auth_policy.is_empty()).into(),
            ));
        }
        Ok(())
    }
}

impl<T: Transport> Tpm<T> {
    /// TPM2_NV_DefineSpace of a counter at `index` as `spec` says, authorized by the
    /// owner hierarchy's (empty) password. Fails with `TPM_RC_NV_DEFINED` if the index exists.
    pub fn nv_define_counter(&mut self, index: NvIndex, spec: &CounterSpec) -> Result<(), Error> {
        self.nv_define_space(&NvPublic {
            index: index.0,
            name_alg: ALG_SHA256,
            attributes: spec.attributes(),
            auth_policy: spec.policy.map(|p| p.to_vec()).unwrap_or_default(),
            data_size: COUNTER_SIZE,
        })
    }

    /// TPM2_NV_DefineSpace of any index, with an empty index password, authorized by the
    /// owner hierarchy's (empty) password.
    pub fn nv_define_space(&mut self, public: &NvPublic) -> Result<(), Error> {
        NvIndex::new(public.index)?;
        if public.auth_policy.len() > 64 {
            return Err(Error::InvalidRequest("NV authPolicy longer than a digest"));
        }
        let mut w = Writer::default();
        w.tpm2b(&[]); // the index's authValue: the empty password
        sized(&mut w, |p| {
            p.u32(public.index)
                .u16(public.name_alg)
                .u32(public.attributes)
                .tpm2b(&public.auth_policy)
                .u16(public.data_size);
        });
        self.run(
            CC_NV_DEFINE_SPACE,
            &[RH_OWNER],
            &[EMPTY_PASSWORD],
            &w.buf,
            0,
        )?;
        Ok(())
    }

    /// TPM2_NV_UndefineSpace, authorized by the owner (for tests and decommissioning).
    pub fn nv_undefine(&mut self, index: NvIndex) -> Result<(), Error> {
        self.run(
            CC_NV_UNDEFINE_SPACE,
            &[RH_OWNER, index.0],
            &[EMPTY_PASSWORD],
            &[],
            0,
        )?;
        Ok(())
    }

    /// TPM2_NV_ReadPublic: the index's public area (no authorization needed).
    pub fn nv_read_public(&mut self, index: NvIndex) -> Result<NvPublic, Error> {
        let (_, params) = self.run(CC_NV_READ_PUBLIC, &[index.0], &[], &[], 0)?;
        let mut outer = Reader::new(&params);
        let mut r = Reader::new(outer.tpm2b()?);
        let public = NvPublic {
            index: r.u32()?,
            name_alg: r.u16()?,
            attributes: r.u32()?,
            auth_policy: r.tpm2b()?.to_vec(),
            data_size: r.u16()?,
        };
        if r.remaining() != 0 || public.index != index.0 {
            return Err(Error::Malformed(
                "TPM2_NV_ReadPublic returned another index",
            ));
        }
        Ok(public)
    }

    /// TPM2_NV_Increment of Custos's counter, after checking it is one (see
    /// [`NvPublic::check_counter`]); authorized by the index's empty password.
    pub fn nv_increment(&mut self, index: NvIndex, spec: &CounterSpec) -> Result<(), Error> {
        self.nv_read_public(index)?.check_counter(spec)?;
        self.run(
            CC_NV_INCREMENT,
            &[index.0, index.0],
            &[EMPTY_PASSWORD],
            &[],
            0,
        )?;
        Ok(())
    }

    /// TPM2_NV_Read of Custos's counter, after checking it is one. `None` if it was never
    /// incremented: a TPM refuses to read a counter before its first increment
    /// (`TPM_RC_NV_UNINITIALIZED`), which then sets it to the highest value any counter
    /// on this TPM has held, so even a redefined counter does not go back.
    pub fn nv_read_counter(
        &mut self,
        index: NvIndex,
        spec: &CounterSpec,
    ) -> Result<Option<u64>, Error> {
        self.nv_read_public(index)?.check_counter(spec)?;
        let mut w = Writer::default();
        w.u16(COUNTER_SIZE).u16(0); // size, offset
        let params = match self.run(
            CC_NV_READ,
            &[index.0, index.0],
            &[EMPTY_PASSWORD],
            &w.buf,
            0,
        ) {
            Ok((_, p)) => p,
            Err(Error::Tpm(rc)) if rc.rc() == Rc::NvUninitialized => return Ok(None),
            Err(e) => return Err(e),
        };
        let data: [u8; 8] = Reader::new(&params)
            .tpm2b()?
            .try_into()
            .map_err(|_| Error::Malformed("NV counter is not 8 bytes"))?;
        Ok(Some(u64::from_be_bytes(data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(attributes: u32) -> NvPublic {
        NvPublic {
            index: 0x0150_0000,
            name_alg: ALG_SHA256,
            attributes,
            auth_policy: vec![],
            data_size: 8,
        }
    }

    #[test]
    fn index_range() {
        assert!(NvIndex::new(0x0150_0000).is_ok());
        assert!(NvIndex::new(0x8100_0001).is_err());
    }

    #[test]
    fn state_bits_do_not_count_but_definition_bits_do() {
        let spec = CounterSpec { policy: None };
        public(spec.attributes() | WRITTEN)
            .check_counter(&spec)
            .unwrap();
        let err = public(spec.attributes() & !NO_DA)
            .check_counter(&spec)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NvPublicMismatch {
                    what: "attributes",
                    ..
                }
            ),
            "{err}"
        );
        let err = public(AUTHWRITE | AUTHREAD)
            .check_counter(&spec)
            .unwrap_err();
        assert!(
            matches!(err, Error::NotACounter { index: 0x0150_0000 }),
            "{err}"
        );
        let with_policy = CounterSpec {
            policy: Some([1; 32]),
        };
        let err = public(with_policy.attributes())
            .check_counter(&with_policy)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NvPublicMismatch {
                    what: "auth policy",
                    ..
                }
            ),
            "{err}"
        );
    }
}
