//! A minimal rtnetlink client: the three requests `/init` needs (link up, add an IPv4
//! address, add an IPv4 default route), each sent with `NLM_F_ACK` and checked against
//! the kernel's acknowledgement.
//!
//! The encodings are exactly what iproute2 6.1 sends for `ip link set DEV up`,
//! `ip addr add A/N dev DEV` and `ip route add default via GW dev DEV` (the tests compare
//! them byte for byte with `strace` captures). Integers are in host byte order, addresses
//! in network byte order, as the kernel's `struct nlmsghdr`, `ifinfomsg`, `ifaddrmsg` and
//! `rtmsg` define them.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr,
    SockFlag, SockProtocol, SockType,
};
use nix::sys::time::TimeVal;

use crate::config::Ipv4Cidr;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const IFF_UP: u32 = 0x1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
/// iproute2's default protocol for routes added by hand ("proto boot").
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

/// How long to wait for the kernel's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// One rtnetlink request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Set `IFF_UP` on the link (`ip link set DEV up`).
    LinkUp {
        /// The interface index.
        index: u32,
    },
    /// Add an IPv4 address (`ip addr add A/N dev DEV`); fails if it exists.
    AddAddress {
        /// The interface index.
        index: u32,
        /// The address and prefix length.
        address: Ipv4Cidr,
    },
    /// Add the IPv4 default route (`ip route add default via GW dev DEV`); fails if one
    /// exists.
    AddDefaultRoute {
        /// The interface index.
        index: u32,
        /// The gateway.
        gateway: Ipv4Addr,
    },
}

impl Request {
    /// The message, with `NLM_F_REQUEST | NLM_F_ACK` and sequence number `seq`.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        let mut body = Vec::with_capacity(32);
        let (kind, flags) = match *self {
            Request::LinkUp { index } => {
                // struct ifinfomsg: family, pad, type, index, flags, change.
                body.push(AF_UNSPEC);
                body.push(0);
                body.extend_from_slice(&0u16.to_ne_bytes());
                body.extend_from_slice(&index.to_ne_bytes());
                body.extend_from_slice(&IFF_UP.to_ne_bytes());
                body.extend_from_slice(&IFF_UP.to_ne_bytes());
                (RTM_NEWLINK, 0)
            }
            Request::AddAddress { index, address } => {
                // struct ifaddrmsg: family, prefixlen, flags, scope, index.
                body.extend_from_slice(&[AF_INET, address.prefix_len, 0, RT_SCOPE_UNIVERSE]);
                body.extend_from_slice(&index.to_ne_bytes());
                // IFA_LOCAL is the interface's address; IFA_ADDRESS the same on
                // non-point-to-point links.
                push_attr(&mut body, IFA_LOCAL, &address.address.octets());
                push_attr(&mut body, IFA_ADDRESS, &address.address.octets());
                (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
            }
            Request::AddDefaultRoute { index, gateway } => {
                // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
                // type, flags.
                body.extend_from_slice(&[
                    AF_INET,
                    0,
                    0,
                    0,
                    RT_TABLE_MAIN,
                    RTPROT_BOOT,
                    RT_SCOPE_UNIVERSE,
                    RTN_UNICAST,
                ]);
                body.extend_from_slice(&0u32.to_ne_bytes());
                push_attr(&mut body, RTA_GATEWAY, &gateway.octets());
                push_attr(&mut body, RTA_OIF, &index.to_ne_bytes());
                (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)
            }
        };
        let len = u32::try_from(NLMSG_HDRLEN + body.len()).expect("small message");
        let mut msg = Vec::with_capacity(NLMSG_HDRLEN + body.len());
        msg.extend_from_slice(&len.to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | flags).to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        // nlmsg_pid 0: the kernel fills in the sender.
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&body);
        msg
    }
}

/// Appends a `struct rtattr` (length, type, payload, padding to 4 bytes).
fn push_attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).expect("small attribute");
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// Why an rtnetlink exchange failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetlinkError {
    /// The NETLINK_ROUTE socket could not be opened, bound or configured.
    #[error("netlink socket: {0}")]
    Socket(Errno),
    /// Sending the request failed.
    #[error("netlink send: {0}")]
    Send(Errno),
    /// Receiving the reply failed (EAGAIN: no acknowledgement within the timeout).
    #[error("netlink receive: {0}")]
    Receive(Errno),
    /// The kernel refused the request.
    #[error("kernel refused the request: {0}")]
    Refused(Errno),
    /// The reply is not well-formed netlink.
    #[error("malformed netlink reply: {0}")]
    Malformed(&'static str),
}

/// Looks for the acknowledgement of `seq` in one received buffer: `Some(Ok)` for an ack,
/// `Some(Err)` for a refusal or a malformed buffer, `None` if the buffer holds only other
/// messages.
pub fn parse_ack(buf: &[u8], seq: u32) -> Option<Result<(), NetlinkError>> {
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < NLMSG_HDRLEN {
            return Some(Err(NetlinkError::Malformed("truncated header")));
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
        let msg_seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Some(Err(NetlinkError::Malformed("bad message length")));
        }
        if kind == NLMSG_ERROR && msg_seq == seq {
            let Some(code) = rest
                .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                .filter(|_| len >= 20)
            else {
                return Some(Err(NetlinkError::Malformed("truncated error message")));
            };
            let code = i32::from_ne_bytes(code.try_into().expect("4 bytes"));
            return Some(match code {
                0 => Ok(()),
                c if c < 0 => Err(NetlinkError::Refused(Errno::from_raw(-c))),
                _ => Err(NetlinkError::Malformed("positive error code")),
            });
        }
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    None
}

/// A NETLINK_ROUTE socket that sends one request at a time and waits for its ack.
#[derive(Debug)]
pub struct RtNetlink {
    fd: OwnedFd,
    seq: u32,
}

impl RtNetlink {
    /// Opens and binds the socket (in the caller's network namespace).
    pub fn open() -> Result<Self, NetlinkError> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(NetlinkError::Socket)?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(NetlinkError::Socket)?;
        // A bounded wait: a lost ack must fail the boot, not hang it.
        let timeout = TimeVal::new(ACK_TIMEOUT.as_secs() as _, 0);
        setsockopt(&fd, sockopt::ReceiveTimeout, &timeout).map_err(NetlinkError::Socket)?;
        Ok(Self { fd, seq: 1 })
    }

    /// Sends `request` and waits for the kernel's acknowledgement.
    pub fn request(&mut self, request: &Request) -> Result<(), NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let msg = request.encode(self.seq);
        let sent = sendto(
            self.fd.as_raw_fd(),
            &msg,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .map_err(NetlinkError::Send)?;
        if sent != msg.len() {
            return Err(NetlinkError::Send(Errno::EMSGSIZE));
        }
        // An ack carries the request back; 8 KiB is ample for these small requests.
        let mut buf = vec![0u8; 8192];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())
                .map_err(NetlinkError::Receive)?;
            if n == 0 {
                return Err(NetlinkError::Malformed("empty reply"));
            }
            if let Some(result) = parse_ack(&buf[..n], self.seq) {
                return result;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence number iproute2 used in the captures below.
    const SEQ: u32 = 0x6b05_5234;

    /// `strace -e trace=sendmsg -e write=3 ip link set lo up` (lo is index 1).
    const IP_LINK_SET_LO_UP: [u8; 32] = [
        0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x34, 0x52, 0x05, 0x6b, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00,
    ];
    /// `ip link set v0 up` (index 3).
    const IP_LINK_SET_V0_UP: [u8; 32] = [
        0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00, 0x34, 0x52, 0x05, 0x6b, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00,
    ];
    /// `ip addr add 10.0.2.15/24 dev v0`.
    const IP_ADDR_ADD: [u8; 40] = [
        0x28, 0x00, 0x00, 0x00, 0x14, 0x00, 0x05, 0x06, 0x34, 0x52, 0x05, 0x6b, 0x00, 0x00, 0x00,
        0x00, 0x02, 0x18, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0x0a, 0x00,
        0x02, 0x0f, 0x08, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x02, 0x0f,
    ];
    /// `ip route add default via 10.0.2.2 dev v0`.
    const IP_ROUTE_ADD_DEFAULT: [u8; 44] = [
        0x2c, 0x00, 0x00, 0x00, 0x18, 0x00, 0x05, 0x06, 0x34, 0x52, 0x05, 0x6b, 0x00, 0x00, 0x00,
        0x00, 0x02, 0x00, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
        0x05, 0x00, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00,
    ];

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn link_up_matches_iproute2() {
        assert_eq!(Request::LinkUp { index: 1 }.encode(SEQ), IP_LINK_SET_LO_UP);
        assert_eq!(Request::LinkUp { index: 3 }.encode(SEQ), IP_LINK_SET_V0_UP);
    }

    #[test]
    fn add_address_matches_iproute2() {
        let req = Request::AddAddress {
            index: 3,
            address: cidr("10.0.2.15/24"),
        };
        assert_eq!(req.encode(SEQ), IP_ADDR_ADD);
    }

    #[test]
    fn add_default_route_matches_iproute2() {
        let req = Request::AddDefaultRoute {
            index: 3,
            gateway: Ipv4Addr::new(10, 0, 2, 2),
        };
        assert_eq!(req.encode(SEQ), IP_ROUTE_ADD_DEFAULT);
    }

    /// An NLMSG_ERROR message as the kernel sends it: header, error code, the request's
    /// header.
    fn error_msg(seq: u32, code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0x100u16.to_ne_bytes()); // NLM_F_CAPPED
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&4242u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&Request::LinkUp { index: 1 }.encode(seq)[..16]);
        m
    }

    #[test]
    fn parses_ack_and_refusal() {
        assert_eq!(parse_ack(&error_msg(7, 0), 7), Some(Ok(())));
        assert_eq!(
            parse_ack(&error_msg(7, -17), 7),
            Some(Err(NetlinkError::Refused(Errno::EEXIST)))
        );
        // A stale ack of another request is skipped, the next one is found.
        let mut two = error_msg(6, -1);
        two.extend(error_msg(7, 0));
        assert_eq!(parse_ack(&two, 7), Some(Ok(())));
        assert_eq!(parse_ack(&error_msg(6, 0), 7), None);
    }

    #[test]
    fn refuses_malformed_replies() {
        let good = error_msg(7, 0);
        assert_eq!(
            parse_ack(&good[..10], 7),
            Some(Err(NetlinkError::Malformed("truncated header")))
        );
        let mut long = good.clone();
        long[0] = 200;
        assert_eq!(
            parse_ack(&long, 7),
            Some(Err(NetlinkError::Malformed("bad message length")))
        );
        let mut short = good[..18].to_vec();
        short[0] = 18;
        assert_eq!(
            parse_ack(&short, 7),
            Some(Err(NetlinkError::Malformed("truncated error message")))
        );
    }
}
