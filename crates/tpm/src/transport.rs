//! How command bytes reach a TPM: the kernel's resource manager or swtpm over TCP.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::marshal::HEADER_LEN;

/// The largest response accepted; TPMs cap commands and responses at a few KiB
/// (TPM_PT_MAX_RESPONSE_SIZE is 4096 on common TPMs and on swtpm).
const MAX_RESPONSE: usize = 8192;
/// How long a TPM may take to answer; key generation on a slow TPM takes seconds.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Sends one complete command and returns the TPM's complete response.
pub trait Transport {
    /// Sends `command` (a marshalled TPM 2.0 command) and returns the raw response.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Error>;
}

/// The kernel's TPM character device, normally `/dev/tpmrm0` (the in-kernel resource
/// manager, which flushes our transient objects and sessions if we die).
pub struct DeviceTransport {
    file: File,
}

impl DeviceTransport {
    /// The default device path.
    pub const DEFAULT_PATH: &'static str = "/dev/tpmrm0";

    /// Opens the device for reading and writing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self { file })
    }
}

impl Transport for DeviceTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Error> {
        // The driver takes a whole command per write and returns a whole response per read.
        self.file.write_all(command)?;
        let mut buf = vec![0u8; MAX_RESPONSE];
        let n = self.file.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// swtpm's TCP data channel (`swtpm socket --server type=tcp,port=P`), which carries raw
/// command and response bytes with no extra framing.
pub struct SwtpmTransport {
    stream: TcpStream,
}

impl SwtpmTransport {
    /// Connects to swtpm's data port.
    pub fn connect(addr: SocketAddr) -> Result<Self, Error> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }
}

impl Transport for SwtpmTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Error> {
        self.stream.write_all(command)?;
        let mut resp = vec![0u8; HEADER_LEN];
        self.stream.read_exact(&mut resp)?;
        let size = u32::from_be_bytes([resp[2], resp[3], resp[4], resp[5]]) as usize;
        if !(HEADER_LEN..=MAX_RESPONSE).contains(&size) {
            return Err(Error::Malformed("response size out of range"));
        }
        resp.resize(size, 0);
        self.stream.read_exact(&mut resp[HEADER_LEN..])?;
        Ok(resp)
    }
}

/// swtpm's control channel command `CMD_INIT` (swtpm's `tpm_ioctl.h`).
const SWTPM_CMD_INIT: u32 = 0x02;

/// Powers on a swtpm started without `--flags not-need-init` (the `_TPM_Init` signal),
/// through its control port (`--ctrl type=tcp,port=P`). TPM2_Startup must follow.
pub fn swtpm_power_on(ctrl: SocketAddr) -> Result<(), Error> {
    let mut stream = TcpStream::connect_timeout(&ctrl, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut msg = Vec::with_capacity(8);
    msg.extend_from_slice(&SWTPM_CMD_INIT.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes()); // flags: keep the volatile state
    stream.write_all(&msg)?;
    let mut result = [0u8; 4];
    stream.read_exact(&mut result)?;
    match u32::from_be_bytes(result) {
        0 => Ok(()),
        rc => Err(Error::Tpm(crate::rc::ResponseCode::new(rc))),
    }
}
