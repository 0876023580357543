//! Which TPM the signer talks to: the kernel's resource manager in the image, or swtpm's
//! TCP socket in tests and on a development host.

use custos_tpm::{DeviceTransport, SwtpmTransport, Tpm, Transport};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the TPM is: `/dev/tpmrm0` (any path) or `swtpm:HOST:PORT` (swtpm's data port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmDevice {
    /// A character device (normally the in-kernel resource manager, `/dev/tpmrm0`).
    Device(PathBuf),
    /// swtpm's raw TCP data channel.
    Swtpm(SocketAddr),
}

/// A `--tpm` value that is neither an absolute path nor `swtpm:HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TPM `{0}`: expected an absolute device path (/dev/tpmrm0) or swtpm:HOST:PORT")]
pub struct BadTpmDevice(String);

impl FromStr for TpmDevice {
    type Err = BadTpmDevice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(addr) = s.strip_prefix("swtpm:") {
            return addr
                .parse()
                .map(TpmDevice::Swtpm)
                .map_err(|_| BadTpmDevice(s.to_owned()));
        }
        if s.starts_with('/') {
            return Ok(TpmDevice::Device(PathBuf::from(s)));
        }
        Err(BadTpmDevice(s.to_owned()))
    }
}

impl fmt::Display for TpmDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TpmDevice::Device(p) => write!(f, "{}", p.display()),
            TpmDevice::Swtpm(a) => write!(f, "swtpm:{a}"),
        }
    }
}

impl Default for TpmDevice {
    fn default() -> Self {
        TpmDevice::Device(PathBuf::from(DeviceTransport::DEFAULT_PATH))
    }
}

/// Either transport, so the rest of the signer is not generic over it.
pub enum AnyTransport {
    /// The kernel device.
    Device(DeviceTransport),
    /// swtpm over TCP.
    Swtpm(SwtpmTransport),
}

impl Transport for AnyTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, custos_tpm::Error> {
        match self {
            AnyTransport::Device(t) => t.transmit(command),
            AnyTransport::Swtpm(t) => t.transmit(command),
        }
    }
}

impl TpmDevice {
    /// Opens a connection to the TPM.
    pub fn open(&self) -> Result<Tpm<AnyTransport>, custos_tpm::Error> {
        let transport = match self {
            TpmDevice::Device(path) => AnyTransport::Device(DeviceTransport::open(path)?),
            TpmDevice::Swtpm(addr) => AnyTransport::Swtpm(SwtpmTransport::connect(*addr)?),
        };
        Ok(Tpm::new(transport))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_swtpm_addresses() {
        assert_eq!(
            "/dev/tpmrm0".parse::<TpmDevice>().unwrap(),
            TpmDevice::Device("/dev/tpmrm0".into())
        );
        assert_eq!(
            "swtpm:127.0.0.1:2321".parse::<TpmDevice>().unwrap(),
            TpmDevice::Swtpm("127.0.0.1:2321".parse().unwrap())
        );
        for bad in ["tpmrm0", "swtpm:", "swtpm:localhost", "swtpm:1.2.3.4", ""] {
            assert!(bad.parse::<TpmDevice>().is_err(), "{bad}");
        }
        assert_eq!(TpmDevice::default().to_string(), "/dev/tpmrm0");
    }
}
