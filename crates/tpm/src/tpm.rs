//! The TPM 2.0 commands this crate sends, over any [`Transport`].

use zeroize::Zeroizing;

use crate::error::Error;
use crate::marshal::{command, response, AuthSession, Reader, Writer};
use crate::pcr::{PcrSelection, ALG_SHA256};
use crate::transport::Transport;

const CC_STARTUP: u32 = 0x144;
const CC_START_AUTH_SESSION: u32 = 0x176;
const CC_GET_RANDOM: u32 = 0x17B;
const CC_PCR_READ: u32 = 0x17E;
const CC_POLICY_PCR: u32 = 0x17F;
const CC_PCR_EXTEND: u32 = 0x182;
const CC_FLUSH_CONTEXT: u32 = 0x165;
const CC_POLICY_GET_DIGEST: u32 = 0x189;

/// `TPM_SU_CLEAR`.
const SU_CLEAR: u16 = 0x0000;
/// `TPM_RH_NULL`: no salt key, no bind object.
pub(crate) const RH_NULL: u32 = 0x4000_0007;
/// `TPM_RS_PW`: the password session.
pub(crate) const RS_PW: u32 = 0x4000_0009;
/// `TPM_ALG_NULL`: no parameter encryption in a session.
pub(crate) const ALG_NULL: u16 = 0x0010;
/// The password session with the empty password.
pub(crate) const EMPTY_PASSWORD: AuthSession = AuthSession {
    handle: RS_PW,
    attributes: 0,
};
/// How many times [`Tpm::pcr_read`] starts over when PCRs change under it.
const PCR_READ_ATTEMPTS: usize = 8;
/// Size of the caller's nonce; the TPM requires at least 16 bytes for SHA-256 sessions.
const NONCE_LEN: usize = 32;

/// The kind of authorization session to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionType {
    /// A policy session, which authorizes a use of an object once its policy is satisfied.
    Policy,
    /// A trial session, which only computes a policy digest (nothing is checked).
    Trial,
}

/// An authorization session loaded in the TPM; flush it with [`Tpm::flush_context`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    handle: u32,
    kind: SessionType,
}

impl Session {
    /// The session's TPM handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }
    /// Whether this is a policy or a trial session.
    pub fn kind(&self) -> SessionType {
        self.kind
    }
}

/// A TPM 2.0, spoken to through a [`Transport`].
pub struct Tpm<T: Transport> {
    transport: T,
}

impl<T: Transport> Tpm<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// Sends a command and returns its response's handles and parameter area.
    pub(crate) fn run(
        &mut self,
        code: u32,
        handles: &[u32],
        auth: &[AuthSession],
        params: &[u8],
        response_handles: usize,
    ) -> Result<(Vec<u32>, Vec<u8>), Error> {
        // Commands and responses may carry secrets (sealed data): wipe both buffers.
        let cmd = Zeroizing::new(command(code, handles, auth, params));
        let resp = Zeroizing::new(self.transport.transmit(&cmd)?);
        let (hs, params) = response(&resp, response_handles)?;
        Ok((hs, params.to_vec()))
    }

    /// TPM2_Startup(TPM_SU_CLEAR), which the firmware normally sends; fails with
    /// `TPM_RC_INITIALIZE` if the TPM has already started.
    pub fn startup_clear(&mut self) -> Result<(), Error> {
        self.run(CC_STARTUP, &[], &[], &SU_CLEAR.to_be_bytes(), 0)?;
        Ok(())
    }

    /// TPM2_GetRandom: up to `n` random bytes (a TPM returns at most one digest's worth
    /// per call, so this loops until it has `n`).
    pub fn get_random(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let want = (n - out.len()).min(32) as u16;
            let (_, params) = self.run(CC_GET_RANDOM, &[], &[], &want.to_be_bytes(), 0)?;
            let bytes = Reader::new(&params).tpm2b()?;
            if bytes.is_empty() {
                return Err(Error::Malformed("TPM2_GetRandom returned no bytes"));
            }
            out.extend_from_slice(bytes);
        }
        out.truncate(n);
        Ok(out)
    }

    /// TPM2_PCR_Read of the selected SHA-256 PCRs, in ascending PCR order. The TPM returns
    /// at most eight per call; this reads again for the rest, and starts over if a PCR
    /// changed in between (the TPM's update counter moved), so the values are consistent.
    pub fn pcr_read(&mut self, selection: &PcrSelection) -> Result<Vec<[u8; 32]>, Error> {
        // Bounded, so PCRs extended without pause cannot keep us here.
        'again: for _ in 0..PCR_READ_ATTEMPTS {
            let mut values: Vec<(u8, [u8; 32])> = Vec::with_capacity(selection.len());
            let mut left = *selection;
            let mut counter = None;
            while !left.is_empty() {
                let mut w = Writer::default();
                left.marshal(&mut w);
                let (_, params) = self.run(CC_PCR_READ, &[], &[], &w.buf, 0)?;
                let mut r = Reader::new(&params);
                let update_counter = r.u32()?;
                if *counter.get_or_insert(update_counter) != update_counter {
                    continue 'again;
                }
                let got = PcrSelection::unmarshal(&mut r)?;
                if got.is_empty() || got.indices().any(|i| !left.contains(i)) {
                    return Err(Error::Malformed("TPM2_PCR_Read returned unrequested PCRs"));
                }
                let count = r.u32()? as usize;
                if count != got.len() {
                    return Err(Error::Malformed("TPM2_PCR_Read digest count mismatch"));
                }
                for i in got.indices() {
                    let d: [u8; 32] = r
                        .tpm2b()?
                        .try_into()
                        .map_err(|_| Error::Malformed("PCR value is not 32 bytes"))?;
                    values.push((i, d));
                }
                left = left.without(got);
            }
            values.sort_by_key(|(i, _)| *i);
            return Ok(values.into_iter().map(|(_, d)| d).collect());
        }
        Err(Error::Malformed("PCRs kept changing while being read"))
    }

    /// TPM2_PCR_Extend of one SHA-256 PCR with `digest` (empty platform authorization,
    /// as for the PCRs an operating system may extend).
    pub fn pcr_extend(&mut self, pcr: u8, digest: &[u8; 32]) -> Result<(), Error> {
        if pcr >= crate::pcr::PCR_COUNT {
            return Err(Error::InvalidRequest("PCR index beyond 23"));
        }
        let mut w = Writer::default();
        w.u32(1).u16(ALG_SHA256).bytes(digest);
        self.run(CC_PCR_EXTEND, &[pcr as u32], &[EMPTY_PASSWORD], &w.buf, 0)?;
        Ok(())
    }

    /// TPM2_StartAuthSession: an unsalted, unbound SHA-256 session without parameter
    /// encryption. Enough for policy sessions whose policy does not need an HMAC.
    pub fn start_auth_session(&mut self, kind: SessionType) -> Result<Session, Error> {
        let nonce = self.caller_nonce()?;
        let mut w = Writer::default();
        w.tpm2b(&nonce) // nonceCaller
            .tpm2b(&[]) // encryptedSalt
            .u8(match kind {
                SessionType::Policy => 0x01, // TPM_SE_POLICY
                SessionType::Trial => 0x03,  // TPM_SE_TRIAL
            })
            .u16(ALG_NULL) // symmetric: none
            .u16(ALG_SHA256); // authHash
        let (hs, params) = self.run(CC_START_AUTH_SESSION, &[RH_NULL, RH_NULL], &[], &w.buf, 1)?;
        let _nonce_tpm = Reader::new(&params).tpm2b()?;
        Ok(Session {
            handle: hs[0],
            kind,
        })
    }

    fn caller_nonce(&mut self) -> Result<[u8; NONCE_LEN], Error> {
        let mut nonce = [0u8; NONCE_LEN];
        // An unsalted session's nonces protect nothing secret; the OS RNG keeps them unique.
        getrandom::getrandom(&mut nonce)
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        Ok(nonce)
    }

    /// TPM2_PolicyPCR: folds the selected PCRs into the session's policy digest. With
    /// `expected`, the TPM checks (in a policy session) that the PCRs' digest equals it
    /// and fails with `TPM_RC_VALUE` otherwise; a trial session just uses it.
    pub fn policy_pcr(
        &mut self,
        session: &Session,
        selection: &PcrSelection,
        expected: Option<&[u8; 32]>,
    ) -> Result<(), Error> {
        let mut w = Writer::default();
        w.tpm2b(expected.map(|d| &d[..]).unwrap_or(&[]));
        selection.marshal(&mut w);
        self.run(CC_POLICY_PCR, &[session.handle], &[], &w.buf, 0)?;
        Ok(())
    }

    /// TPM2_PolicyGetDigest: the session's current policy digest.
    pub fn policy_get_digest(&mut self, session: &Session) -> Result<[u8; 32], Error> {
        let (_, params) = self.run(CC_POLICY_GET_DIGEST, &[session.handle], &[], &[], 0)?;
        Reader::new(&params)
            .tpm2b()?
            .try_into()
            .map_err(|_| Error::Malformed("policy digest is not 32 bytes"))
    }

    /// TPM2_FlushContext: unloads a session or transient object.
    pub fn flush_context(&mut self, handle: u32) -> Result<(), Error> {
        self.run(CC_FLUSH_CONTEXT, &[], &[], &handle.to_be_bytes(), 0)?;
        Ok(())
    }
}
