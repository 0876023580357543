//! The image configuration, `/etc/custos/image.toml` in the (measured) initramfs.
//!
//! Parsing is strict: unknown keys are refused, and every value is checked before any step
//! runs, so a typo in a release fails at the first boot with a precise message instead of
//! half-configuring the guest.
//!
//! ```toml
//! version = 1
//! listen = "0.0.0.0:7420"
//! data_disk_serial = "custos-data"
//! data_mount = "/data"
//! require_memory_encryption = false
//! tpm_device = "/dev/tpmrm0"
//! modules = ["virtio.ko", "virtio_ring.ko"]   # optional, see `ImageConfig::modules`
//!
//! [network]                                   # optional
//! interface = "eth0"
//! address = "10.0.2.15/24"
//! gateway = "10.0.2.2"                        # optional
//! ```

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

/// Where `/init` reads its configuration.
pub const IMAGE_CONFIG_PATH: &str = "/etc/custos/image.toml";

/// The longest virtio-blk serial (`VIRTIO_BLK_ID_BYTES`).
pub const MAX_DISK_SERIAL_LEN: usize = 20;

/// The longest network interface name (`IFNAMSIZ` minus the NUL).
pub const MAX_INTERFACE_NAME_LEN: usize = 15;

/// The image configuration (`/etc/custos/image.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// The image version (the NV rollback counter value this release advances to); >= 1.
    pub version: u64,
    /// The address the supervisor's API listens on, e.g. `0.0.0.0:7420`.
    pub listen: SocketAddr,
    /// The static network configuration; `None` leaves only loopback up.
    #[serde(default)]
    pub network: Option<NetworkConfig>,
    /// The virtio-blk serial of the data disk, e.g. `custos-data`.
    pub data_disk_serial: String,
    /// Where the data disk is mounted, e.g. `/data` (absolute, not `/`).
    pub data_mount: PathBuf,
    /// Refuse to start unless the kernel reports AMD SME/SEV memory encryption active.
    pub require_memory_encryption: bool,
    /// Kernel module file names under `/lib/modules`, loaded in this order. `None` (key
    /// absent) means the order the image builder wrote to `/lib/modules/load-order`.
    #[serde(default)]
    pub modules: Option<Vec<String>>,
    /// The TPM device node the supervisor uses, e.g. `/dev/tpmrm0` (under `/dev`).
    pub tpm_device: PathBuf,
}

/// The static IPv4 configuration of one interface.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// The interface name, e.g. `eth0`.
    pub interface: String,
    /// The interface address with its prefix length, e.g. `10.0.2.15/24`.
    pub address: Ipv4Cidr,
    /// The default gateway, e.g. `10.0.2.2`; must be inside `address`'s subnet.
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
}

/// An IPv4 address with a prefix length (`10.0.2.15/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The address.
    pub address: Ipv4Addr,
    /// The prefix length, 1..=32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// The subnet mask of the prefix length.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// Whether `other` is inside this address's subnet.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = u32::from(self.netmask());
        u32::from(self.address) & mask == u32::from(other) & mask
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not ADDRESS/PREFIX (e.g. 10.0.2.15/24)"))?;
        let address: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
        // Digits only: `u8::from_str` would also take a leading `+`.
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("prefix length `{len}` is not a number"));
        }
        let prefix_len: u8 = len
            .parse()
            .map_err(|_| format!("prefix length `{len}` is out of range"))?;
        if !(1..=32).contains(&prefix_len) {
            return Err(format!("prefix length {prefix_len} is not in 1..=32"));
        }
        Ok(Self {
            address,
            prefix_len,
        })
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why the image configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`ImageConfig`] (syntax, unknown or missing key,
    /// wrong type, malformed address).
    #[error("invalid image configuration: {0}")]
    Parse(String),
    /// `version` is 0.
    #[error("version must be at least 1")]
    ZeroVersion,
    /// `listen` has port 0.
    #[error("listen address {0} has port 0")]
    ListenPort(SocketAddr),
    /// `network.interface` is not a usable interface name.
    #[error("network.interface `{name}`: {reason}")]
    InterfaceName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `network.address` is not a usable host address.
    #[error("network.address {address}: {reason}")]
    Address {
        /// The address given.
        address: Ipv4Cidr,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `network.gateway` is not reachable on the interface's subnet, or is the address
    /// itself.
    #[error("network.gateway {gateway} is not a different host on {address}'s subnet")]
    GatewayNotOnLink {
        /// The gateway given.
        gateway: Ipv4Addr,
        /// The interface address.
        address: Ipv4Cidr,
    },
    /// `data_disk_serial` is empty, too long or not printable ASCII.
    #[error("data_disk_serial `{0}` must be 1..=20 printable ASCII characters without spaces")]
    DiskSerial(String),
    /// A path key is not an acceptable absolute path.
    #[error("{key} `{path}`: {reason}")]
    Path {
        /// The configuration key.
        key: &'static str,
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `modules` entry is not a plain `.ko` file name.
    #[error("modules entry `{name}`: {reason}")]
    ModuleName {
        /// The entry.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ImageConfig {
    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates a configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values serde cannot: ranges, names, paths, the gateway's subnet.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.version == 0 {
            return Err(ConfigError::ZeroVersion);
        }
        if self.listen.port() == 0 {
            return Err(ConfigError::ListenPort(self.listen));
        }
        if let Some(network) = &self.network {
            network.validate()?;
        }
        let serial = &self.data_disk_serial;
        if serial.is_empty()
            || serial.len() > MAX_DISK_SERIAL_LEN
            || !serial.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ConfigError::DiskSerial(serial.clone()));
        }
        check_path("data_mount", &self.data_mount, None)?;
        check_path("tpm_device", &self.tpm_device, Some("/dev"))?;
        if let Some(modules) = &self.modules {
            for (i, name) in modules.iter().enumerate() {
                check_module_name(name)?;
                if modules[..i].contains(name) {
                    return Err(ConfigError::ModuleName {
                        name: name.clone(),
                        reason: "listed twice",
                    });
                }
            }
        }
        Ok(())
    }
}

impl NetworkConfig {
    /// Checks the interface name, the address and the gateway.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = &self.interface;
        let bad_name = |reason| ConfigError::InterfaceName {
            name: name.clone(),
            reason,
        };
        if name.is_empty() || name.len() > MAX_INTERFACE_NAME_LEN {
            return Err(bad_name("must be 1..=15 bytes"));
        }
        // The kernel's dev_valid_name(), restricted to ASCII.
        if name == "." || name == ".." {
            return Err(bad_name("is reserved"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
        {
            return Err(bad_name(
                "must be printable ASCII without `/`, `:` or spaces",
            ));
        }
        if name == "lo" {
            return Err(bad_name("loopback is always configured"));
        }
        let address = self.address;
        let bad_address = |reason| ConfigError::Address { address, reason };
        let a = address.address;
        if a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast() {
            return Err(bad_address("is not a unicast host address"));
        }
        if address.prefix_len < 31 {
            let host = u32::from(a) & !u32::from(address.netmask());
            if host == 0 {
                return Err(bad_address("is the subnet's network address"));
            }
            if host == !u32::from(address.netmask()) {
                return Err(bad_address("is the subnet's broadcast address"));
            }
        }
        if let Some(gateway) = self.gateway {
            if !address.contains(gateway) || gateway == a {
                return Err(ConfigError::GatewayNotOnLink { gateway, address });
            }
        }
        Ok(())
    }
}

/// `path` must be absolute and normal (no `.`/`..`, not `/`), under `under` if given.
fn check_path(key: &'static str, path: &Path, under: Option<&str>) -> Result<(), ConfigError> {
    let bad = |reason| ConfigError::Path {
        key,
        path: path.to_owned(),
        reason,
    };
    if !path.is_absolute() {
        return Err(bad("must be absolute"));
    }
    // Components are checked on the raw string: `Path::components` drops `.` silently.
    let text = path.to_str().ok_or_else(|| bad("must be UTF-8"))?;
    if text
        .split('/')
        .skip(1)
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad(
            "must be a normal path (no empty, `.` or `..` components)",
        ));
    }
    if path.components().count() < 2 {
        return Err(bad("must not be `/`"));
    }
    if let Some(prefix) = under {
        if !path.starts_with(prefix) || path == Path::new(prefix) {
            return Err(bad("must be a node under /dev"));
        }
    }
    debug_assert!(path
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
    Ok(())
}

/// A module entry must be a plain file name ending in `.ko`.
pub(crate) fn check_module_name(name: &str) -> Result<(), ConfigError> {
    let bad = |reason| ConfigError::ModuleName {
        name: name.to_owned(),
        reason,
    };
    let Some(stem) = name.strip_suffix(".ko") else {
        return Err(bad("must end in `.ko` (uncompressed module)"));
    };
    if stem.is_empty()
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(bad("must be a plain file name of [A-Za-z0-9_-]"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version = 3
listen = "0.0.0.0:7420"
data_disk_serial = "custos-data"
data_mount = "/data"
require_memory_encryption = true
tpm_device = "/dev/tpmrm0"
modules = ["virtio.ko", "virtio_ring.ko", "virtio_pci.ko", "virtio_blk.ko"]

[network]
interface = "eth0"
address = "10.0.2.15/24"
gateway = "10.0.2.2"
"#;

    fn with(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "fixture lacks {from}");
        GOOD.replacen(from, to, 1)
    }

    fn err(text: &str) -> ConfigError {
        ImageConfig::parse(text).expect_err("config must be refused")
    }

    #[test]
    fn parses_full_config() {
        let c = ImageConfig::parse(GOOD).unwrap();
        assert_eq!(c.version, 3);
        assert_eq!(c.listen, "0.0.0.0:7420".parse().unwrap());
        assert_eq!(c.data_disk_serial, "custos-data");
        assert_eq!(c.data_mount, Path::new("/data"));
        assert!(c.require_memory_encryption);
        assert_eq!(c.tpm_device, Path::new("/dev/tpmrm0"));
        assert_eq!(c.modules.as_ref().unwrap().len(), 4);
        assert_eq!(c.modules.as_ref().unwrap()[2], "virtio_pci.ko");
        let n = c.network.unwrap();
        assert_eq!(n.interface, "eth0");
        assert_eq!(n.address.address, Ipv4Addr::new(10, 0, 2, 15));
        assert_eq!(n.address.prefix_len, 24);
        assert_eq!(n.address.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(n.address.to_string(), "10.0.2.15/24");
        assert_eq!(n.gateway, Some(Ipv4Addr::new(10, 0, 2, 2)));
    }

    #[test]
    fn network_and_modules_are_optional() {
        let text = "version = 1\nlisten = \"127.0.0.1:7420\"\ndata_disk_serial = \"d\"\n\
                    data_mount = \"/data\"\nrequire_memory_encryption = false\n\
                    tpm_device = \"/dev/tpm0\"\n";
        let c = ImageConfig::parse(text).unwrap();
        assert_eq!(c.network, None);
        assert_eq!(c.modules, None);
        let no_gw = with("gateway = \"10.0.2.2\"\n", "");
        assert_eq!(
            ImageConfig::parse(&no_gw).unwrap().network.unwrap().gateway,
            None
        );
    }

    #[test]
    fn refuses_unknown_fields() {
        let e = err(&format!("{GOOD}\nextra = 1\n"));
        assert!(
            matches!(&e, ConfigError::Parse(m) if m.contains("unknown field `extra`")),
            "{e}"
        );
        let e = err(&with("gateway =", "mtu = 1500\ngateway ="));
        assert!(
            matches!(&e, ConfigError::Parse(m) if m.contains("unknown field `mtu`")),
            "{e}"
        );
    }

    #[test]
    fn refuses_missing_and_mistyped_fields() {
        let e = err(&with("version = 3\n", ""));
        assert!(
            matches!(&e, ConfigError::Parse(m) if m.contains("missing field `version`")),
            "{e}"
        );
        let e = err(&with("version = 3", "version = -1"));
        assert!(matches!(e, ConfigError::Parse(_)));
        let e = err(&with(
            "require_memory_encryption = true",
            "require_memory_encryption = \"yes\"",
        ));
        assert!(matches!(e, ConfigError::Parse(_)));
        assert!(matches!(
            err(&with("version = 3", "version = 0")),
            ConfigError::ZeroVersion
        ));
    }

    #[test]
    fn refuses_bad_addresses() {
        for (bad, needle) in [
            ("10.0.2.15", "not ADDRESS/PREFIX"),
            ("10.0.2/24", "not an IPv4 address"),
            ("10.0.2.15/33", "not in 1..=32"),
            ("10.0.2.15/0", "not in 1..=32"),
            ("10.0.2.15/+4", "not a number"),
            ("10.0.2.15/999", "out of range"),
            ("fe80::1/64", "not an IPv4 address"),
        ] {
            let e = err(&with("10.0.2.15/24", bad));
            assert!(
                matches!(&e, ConfigError::Parse(m) if m.contains(needle)),
                "{bad}: {e}"
            );
        }
        for bad in [
            "10.0.2.0/24",
            "10.0.2.255/24",
            "127.0.0.1/8",
            "0.0.0.0/8",
            "224.0.0.1/4",
        ] {
            let e = err(&with("10.0.2.15/24", bad));
            assert!(matches!(e, ConfigError::Address { .. }), "{bad}: {e}");
        }
        let e = err(&with("listen = \"0.0.0.0:7420\"", "listen = \"0.0.0.0\""));
        assert!(matches!(e, ConfigError::Parse(_)), "{e}");
        let e = err(&with("0.0.0.0:7420", "0.0.0.0:0"));
        assert!(matches!(e, ConfigError::ListenPort(_)), "{e}");
    }

    #[test]
    fn refuses_gateway_off_link() {
        for gw in ["10.0.3.1", "10.0.2.15"] {
            let e = err(&with(
                "gateway = \"10.0.2.2\"",
                &format!("gateway = \"{gw}\""),
            ));
            assert!(
                matches!(e, ConfigError::GatewayNotOnLink { .. }),
                "{gw}: {e}"
            );
        }
        // A /31 point-to-point link has no network/broadcast address.
        let p2p = with("10.0.2.15/24", "10.0.2.3/31");
        ImageConfig::parse(&p2p).unwrap();
    }

    #[test]
    fn refuses_bad_names_and_paths() {
        for name in ["", "eth0/x", "a:b", "sixteen-chars-xx", "..", "e th0", "lo"] {
            let e = err(&with("\"eth0\"", &format!("\"{name}\"")));
            assert!(
                matches!(e, ConfigError::InterfaceName { .. }),
                "{name}: {e}"
            );
        }
        for serial in ["", "has space", "twenty-one-characters"] {
            let e = err(&with("\"custos-data\"", &format!("\"{serial}\"")));
            assert!(matches!(e, ConfigError::DiskSerial(_)), "{serial}: {e}");
        }
        for mount in ["data", "/", "/data/../etc", "/data/./x", "//data", "/data/"] {
            let e = err(&with("\"/data\"", &format!("\"{mount}\"")));
            assert!(
                matches!(
                    e,
                    ConfigError::Path {
                        key: "data_mount",
                        ..
                    }
                ),
                "{mount}: {e}"
            );
        }
        for dev in ["/dev", "/tmp/tpm0", "dev/tpm0"] {
            let e = err(&with("\"/dev/tpmrm0\"", &format!("\"{dev}\"")));
            assert!(
                matches!(
                    e,
                    ConfigError::Path {
                        key: "tpm_device",
                        ..
                    }
                ),
                "{dev}: {e}"
            );
        }
        for module in [
            "virtio.ko.xz",
            "../virtio.ko",
            "sub/virtio.ko",
            ".ko",
            "virtio",
        ] {
            let e = err(&with("\"virtio.ko\"", &format!("\"{module}\"")));
            assert!(matches!(e, ConfigError::ModuleName { .. }), "{module}: {e}");
        }
        let e = err(&with("\"virtio_ring.ko\"", "\"virtio.ko\""));
        assert!(
            matches!(
                e,
                ConfigError::ModuleName {
                    reason: "listed twice",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn load_reports_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("image.toml");
        let e = ImageConfig::load(&missing).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Read { path, .. } if *path == missing),
            "{e}"
        );
        std::fs::write(&missing, GOOD).unwrap();
        assert_eq!(ImageConfig::load(&missing).unwrap().version, 3);
    }
}
