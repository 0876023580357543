//! Step `network`: loopback up, then the configured interface's static address, link and
//! default route over [`crate::rtnetlink`]. The cloud kernel has no IP autoconfiguration,
//! and the image has no `ip` binary: this is the whole network setup.

use std::time::{Duration, Instant};

use nix::net::if_::if_nametoindex;

use crate::config::NetworkConfig;
use crate::rtnetlink::{NetlinkError, Request, RtNetlink};

/// How long to wait for the interface to appear after its driver was loaded.
pub const INTERFACE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the network could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The interface did not appear in time.
    #[error("interface {name} did not appear within {waited:?}")]
    NoInterface {
        /// The interface name.
        name: String,
        /// How long was waited.
        waited: Duration,
    },
    /// An rtnetlink request failed.
    #[error("{what}: {source}")]
    Netlink {
        /// The operation, as the equivalent `ip` command.
        what: String,
        /// The netlink error.
        source: NetlinkError,
    },
}

/// Brings up `lo` and, if `network` is given, its interface: address, link up, default
/// route. Waits up to `timeout` for the interface to exist. Returns one line per action.
pub fn configure_network(
    network: Option<&NetworkConfig>,
    timeout: Duration,
) -> Result<Vec<String>, NetworkError> {
    let mut nl = RtNetlink::open().map_err(|source| NetworkError::Netlink {
        what: "open NETLINK_ROUTE".into(),
        source,
    })?;
    let mut done = Vec::new();
    let mut run = |what: String, req: Request| -> Result<(), NetworkError> {
        nl.request(&req).map_err(|source| NetworkError::Netlink {
            what: what.clone(),
            source,
        })?;
        done.push(what);
        Ok(())
    };
    let lo = wait_for_interface("lo", Duration::ZERO)?;
    run("ip link set lo up".into(), Request::LinkUp { index: lo })?;
    if let Some(net) = network {
        let dev = &net.interface;
        let index = wait_for_interface(dev, timeout)?;
        run(
            format!("ip addr add {} dev {dev}", net.address),
            Request::AddAddress {
                index,
                address: net.address,
            },
        )?;
        run(format!("ip link set {dev} up"), Request::LinkUp { index })?;
        if let Some(gateway) = net.gateway {
            run(
                format!("ip route add default via {gateway} dev {dev}"),
                Request::AddDefaultRoute { index, gateway },
            )?;
        }
    }
    Ok(done)
}

/// The index of interface `name`, polling every 50 ms for up to `timeout` (drivers may
/// register their devices after module load returns).
pub fn wait_for_interface(name: &str, timeout: Duration) -> Result<u32, NetworkError> {
    let start = Instant::now();
    loop {
        if let Ok(index) = if_nametoindex(name) {
            return Ok(index);
        }
        if start.elapsed() >= timeout {
            return Err(NetworkError::NoInterface {
                name: name.to_owned(),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
