//! Framing: header layout, encoding and length-limited decoding.

use serde::{de::DeserializeOwned, Serialize};
use std::io::{Read, Write};

/// First byte of every frame; catches a peer speaking something else.
pub const MAGIC: u8 = 0xC5;
/// Version of the payload schema. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u8 = 1;
/// Size of the fixed frame header in bytes.
pub const HEADER_LEN: usize = 8;
/// Largest payload accepted (256 KiB): a V1 transaction is at most 4 KiB and a
/// sign request carries at most a few dozen small records.
pub const MAX_FRAME: usize = 256 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The first byte was not [`MAGIC`].
    #[error("ipc: bad magic byte {0:#04x}")]
    BadMagic(u8),
    /// The peer speaks another protocol version.
    #[error("ipc: unsupported protocol version {found} (expected {PROTOCOL_VERSION})")]
    Version {
        /// The version the peer sent.
        found: u8,
    },
    /// Reserved header bytes were not zero.
    #[error("ipc: reserved header bytes are not zero")]
    Reserved,
    /// The announced payload exceeds [`MAX_FRAME`].
    #[error("ipc: frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    TooLarge(usize),
    /// The payload did not decode as the expected message type.
    #[error("ipc: malformed payload: {0}")]
    Malformed(#[from] postcard::Error),
    /// The peer closed the socket cleanly between frames.
    #[error("ipc: peer closed the connection")]
    Closed,
    /// An I/O error on the socket.
    #[error("ipc: {0}")]
    Io(#[from] std::io::Error),
}

/// A parsed, validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    len: usize,
}

impl FrameHeader {
    /// Validates the header bytes and returns the payload length that follows.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, FrameError> {
        if bytes[0] != MAGIC {
            return Err(FrameError::BadMagic(bytes[0]));
        }
        if bytes[1] != PROTOCOL_VERSION {
            return Err(FrameError::Version { found: bytes[1] });
        }
        if bytes[2] != 0 || bytes[3] != 0 {
            return Err(FrameError::Reserved);
        }
        let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge(len));
        }
        Ok(Self { len })
    }

    /// Length of the payload that follows the header.
    pub fn payload_len(&self) -> usize {
        self.len
    }
}

/// Encodes a message into one complete frame (header and payload).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![MAGIC, PROTOCOL_VERSION, 0, 0, 0, 0, 0, 0];
    let mut out = postcard::to_extend(msg, std::mem::take(&mut out))?;
    let len = out.len() - HEADER_LEN;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    out[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(out)
}

/// Decodes a payload; trailing bytes are an error, not ignored.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (msg, rest) = postcard::take_from_bytes(payload)?;
    if !rest.is_empty() {
        return Err(FrameError::Malformed(
            postcard::Error::DeserializeBadEncoding,
        ));
    }
    Ok(msg)
}

/// Reads one frame from a blocking reader. Returns [`FrameError::Closed`] on a
/// clean end of stream before the header.
pub fn read_frame<T: DeserializeOwned, R: Read>(reader: &mut R) -> Result<T, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let header = FrameHeader::parse(&header)?;
    let mut payload = vec![0u8; header.payload_len()];
    reader.read_exact(&mut payload)?;
    decode_payload(&payload)
}

/// Writes one frame to a blocking writer (does not flush).
pub fn write_frame<T: Serialize, W: Write>(writer: &mut W, msg: &T) -> Result<(), FrameError> {
    writer.write_all(&encode(msg)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let frame = encode(&("hello".to_string(), 42u64)).unwrap();
        let got: (String, u64) = read_frame(&mut frame.as_slice()).unwrap();
        assert_eq!(got, ("hello".to_string(), 42));
    }

    #[test]
    fn rejects_oversized_length_before_allocating() {
        let mut frame = vec![MAGIC, PROTOCOL_VERSION, 0, 0];
        frame.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = read_frame::<u64, _>(&mut frame.as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge(_)), "{err}");
    }

    #[test]
    fn rejects_other_version_and_magic() {
        let mut frame = encode(&7u64).unwrap();
        frame[1] = 2;
        assert!(matches!(
            read_frame::<u64, _>(&mut frame.as_slice()),
            Err(FrameError::Version { found: 2 })
        ));
        frame[0] = 0;
        assert!(matches!(
            read_frame::<u64, _>(&mut frame.as_slice()),
            Err(FrameError::BadMagic(0))
        ));
    }

    #[test]
    fn rejects_trailing_payload_bytes() {
        let mut frame = encode(&7u8).unwrap();
        frame.push(0);
        frame[4] += 1;
        assert!(matches!(
            read_frame::<u8, _>(&mut frame.as_slice()),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn truncated_frame_is_an_error_and_empty_stream_is_closed() {
        let frame = encode(&"abcdef".to_string()).unwrap();
        let cut = &frame[..frame.len() - 2];
        assert!(matches!(
            read_frame::<String, _>(&mut &cut[..]),
            Err(FrameError::Io(_))
        ));
        assert!(matches!(
            read_frame::<String, _>(&mut &[][..]),
            Err(FrameError::Closed)
        ));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::signer::{SignerRequest, SignerResponse};
    use crate::Envelope;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a peer sends, reading never panics and never allocates
        /// more than the frame limit.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read_frame::<Envelope<SignerRequest>, _>(&mut bytes.as_slice());
            let _ = read_frame::<Envelope<SignerResponse>, _>(&mut bytes.as_slice());
        }

        /// A valid header followed by arbitrary payload bytes.
        #[test]
        fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let mut frame = vec![MAGIC, PROTOCOL_VERSION, 0, 0];
            frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            frame.extend_from_slice(&payload);
            let _ = read_frame::<Envelope<SignerRequest>, _>(&mut frame.as_slice());
        }
    }
}
