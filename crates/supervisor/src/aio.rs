//! Async framing over tokio Unix sockets, using the codec from `custos-ipc`.

use custos_ipc::{decode_payload, encode, FrameError, FrameHeader, HEADER_LEN};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads one frame. [`FrameError::Closed`] on a clean end of stream.
pub async fn read_frame<T: DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<T, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let n = reader.read(&mut header[filled..]).await?;
        if n == 0 {
            return Err(if filled == 0 {
                FrameError::Closed
            } else {
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()
            });
        }
        filled += n;
    }
    let header = FrameHeader::parse(&header)?;
    let mut payload = vec![0u8; header.payload_len()];
    reader.read_exact(&mut payload).await?;
    decode_payload(&payload)
}

/// Writes one frame (does not flush).
pub async fn write_frame<T: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    writer.write_all(&encode(msg)?).await?;
    Ok(())
}

/// Converts an adopted blocking socket into a tokio one.
pub fn into_tokio(
    stream: std::os::unix::net::UnixStream,
) -> std::io::Result<tokio::net::UnixStream> {
    stream.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(stream)
}
