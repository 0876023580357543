//! Big-endian marshalling of TPM 2.0 commands and responses (TPM 2.0 Part 1, 18).
//!
//! Only what the commands of this crate use: fixed-width integers, sized buffers (TPM2B)
//! and the command/response framing with an optional authorization area.

use crate::error::Error;
use crate::rc::ResponseCode;

/// `TPM_ST_NO_SESSIONS`: a command or response without an authorization area.
pub(crate) const ST_NO_SESSIONS: u16 = 0x8001;
/// `TPM_ST_SESSIONS`: a command or response with an authorization area.
pub(crate) const ST_SESSIONS: u16 = 0x8002;
/// The size of a command or response header: tag, size, command or response code.
pub(crate) const HEADER_LEN: usize = 10;

/// Appends big-endian fields to a byte buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }
    /// A TPM2B: a 16-bit size, then the bytes. Callers keep buffers far below 64 KiB.
    pub(crate) fn tpm2b(&mut self, v: &[u8]) -> &mut Self {
        debug_assert!(v.len() <= u16::MAX as usize);
        self.u16(v.len() as u16).bytes(v)
    }
}

/// Reads big-endian fields from a response, failing on truncation.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.buf.len() < n {
            return Err(Error::Malformed("response is truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn tpm2b(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// One command session in the authorization area: a handle and, for the password session,
/// the (empty) password. This crate sends only the empty password and unsalted, unbound
/// policy sessions, whose `hmac` field is empty.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AuthSession {
    pub(crate) handle: u32,
    /// TPMA_SESSION; `continueSession` (bit 0) keeps a policy session alive after use.
    pub(crate) attributes: u8,
}

/// Builds a complete command: header, handles, optional authorization area, parameters.
pub(crate) fn command(code: u32, handles: &[u32], auth: &[AuthSession], params: &[u8]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u16(if auth.is_empty() {
        ST_NO_SESSIONS
    } else {
        ST_SESSIONS
    })
    .u32(0) // size, patched below
    .u32(code);
    for h in handles {
        w.u32(*h);
    }
    if !auth.is_empty() {
        let mut area = Writer::default();
        for s in auth {
            area.u32(s.handle).tpm2b(&[]).u8(s.attributes).tpm2b(&[]);
        }
        w.u32(area.buf.len() as u32).bytes(&area.buf);
    }
    w.bytes(params);
    let len = w.buf.len() as u32;
    w.buf[2..6].copy_from_slice(&len.to_be_bytes());
    w.buf
}

/// Checks a response's header and returns the handle and parameter area: for a response to
/// a command with sessions, without the parameterSize field and the trailing authorization
/// area; `handles` is how many handles precede the parameters.
pub(crate) fn response(resp: &[u8], handles: usize) -> Result<(Vec<u32>, &[u8]), Error> {
    let mut r = Reader::new(resp);
    let tag = r.u16()?;
    let size = r.u32()? as usize;
    let code = r.u32()?;
    if size != resp.len() {
        return Err(Error::Malformed(
            "response size field does not match its length",
        ));
    }
    if code != 0 {
        return Err(Error::Tpm(ResponseCode::new(code)));
    }
    let mut hs = Vec::with_capacity(handles);
    for _ in 0..handles {
        hs.push(r.u32()?);
    }
    let params = match tag {
        ST_NO_SESSIONS => r.take(r.remaining())?,
        // The authorization area after the parameters holds nonces and HMACs this crate
        // does not check (only password and policy sessions without HMAC are used).
        ST_SESSIONS => {
            let n = r.u32()? as usize;
            r.take(n)?
        }
        _ => return Err(Error::Malformed("unknown response tag")),
    };
    Ok((hs, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_clear_bytes() {
        // TPM2_Startup(TPM_SU_CLEAR) as the specification's examples spell it.
        let cmd = command(0x144, &[], &[], &[0, 0]);
        assert_eq!(cmd, [0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x44, 0, 0]);
    }

    #[test]
    fn password_session_area() {
        let cmd = command(
            0x182,
            &[11],
            &[AuthSession {
                handle: 0x4000_0009,
                attributes: 0,
            }],
            &[],
        );
        let expect: &[u8] = &[
            0x80, 0x02, 0, 0, 0, 0x1b, 0, 0, 0x01, 0x82, 0, 0, 0, 11, // header, PCR handle
            0, 0, 0, 9, 0x40, 0, 0, 9, 0, 0, 0, 0,
            0, // auth size 9, TPM_RS_PW, nonce, attrs, hmac
        ];
        assert_eq!(cmd, expect);
    }

    #[test]
    fn response_errors_and_truncation() {
        let err = response(&[0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x09, 0x9d], 0).unwrap_err();
        assert!(matches!(err, Error::Tpm(rc) if rc.raw() == 0x99d));
        assert!(matches!(
            response(&[0x80, 0x01, 0, 0], 0),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            response(&[0x80, 0x01, 0, 0, 0, 11, 0, 0, 0, 0], 0),
            Err(Error::Malformed(_))
        ));
    }
}
