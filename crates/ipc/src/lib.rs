//! The Custos inter-process protocol.
//!
//! Processes talk over Unix socket pairs created by the supervisor. Every message
//! is one frame:
//!
//! ```text
//! +-------+---------+----------+-----------------+----------------------+
//! | magic | version | reserved | length (u32 LE) | payload (postcard)   |
//! | 0xC5  |   u8    |  2 bytes |   <= MAX_FRAME  |                      |
//! +-------+---------+----------+-----------------+----------------------+
//! ```
//!
//! The length is checked against [`MAX_FRAME`] *before* anything is allocated,
//! so a peer cannot make another process allocate without bound. A frame with
//! another version is refused rather than guessed at.
//!
//! This crate is shared by the signer, so it must stay free of networking and
//! async runtimes: it offers a pure codec ([`encode`], [`FrameHeader`],
//! [`decode_payload`]) plus blocking helpers over `std::io`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod channel;
pub mod codec;
pub mod control;
pub mod pool;
pub mod signer;
pub mod telegram;

pub use codec::{
    decode_payload, encode, read_frame, write_frame, FrameError, FrameHeader, HEADER_LEN,
    MAX_FRAME, PROTOCOL_VERSION,
};

/// A request or response tagged with the id that pairs them, so several
/// requests can be in flight on one socket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Envelope<T> {
    /// Chosen by the requester; echoed in the response.
    pub id: u64,
    /// The message.
    pub body: T,
}
