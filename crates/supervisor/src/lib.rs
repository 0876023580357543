//! Custos process plumbing.
//!
//! * [`supervisor`]: `custos serve` - starts the signer, the bridge and the
//!   pool as separate processes, wires them with socket pairs, checks their
//!   health, fails closed when one dies, and shuts all down on SIGTERM.
//! * [`child`]: what a child does first - take ownership of the sockets it was
//!   handed, name itself, and ask to die with its parent.
//! * [`aio`]: async framing over Unix sockets for the tokio-based children
//!   (the signer uses the blocking helpers in `custos-ipc` instead).
//!
//! This crate touches raw file descriptors in exactly one place
//! ([`child::adopt_socket`]), which carries its safety argument.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod aio;
pub mod child;
pub mod supervisor;

/// The three roles a Custos child process can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Holds the master key and signs.
    Signer,
    /// Serves the API and the store; relays between signer and pool.
    Bridge,
    /// Talks to Telegram.
    Pool,
}

impl Role {
    /// Name used as argv\[1\] of the hidden child subcommand and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Signer => "signer",
            Role::Bridge => "bridge",
            Role::Pool => "pool",
        }
    }

    /// Process name shown by `ps` (at most 15 bytes, the kernel's limit).
    pub fn process_name(self) -> &'static str {
        match self {
            Role::Signer => "custos-signer",
            Role::Bridge => "custos-bridge",
            Role::Pool => "custos-pool",
        }
    }
}

/// File descriptor numbers at which children find their sockets.
pub mod fds {
    /// Signer: its only socket, to the bridge.
    pub const SIGNER_TO_BRIDGE: i32 = 3;
    /// Bridge: socket to the signer.
    pub const BRIDGE_TO_SIGNER: i32 = 3;
    /// Bridge: socket to the pool.
    pub const BRIDGE_TO_POOL: i32 = 4;
    /// Bridge: control socket to the supervisor.
    pub const BRIDGE_CONTROL: i32 = 5;
    /// Pool: socket to the bridge.
    pub const POOL_TO_BRIDGE: i32 = 3;
    /// Pool: control socket to the supervisor.
    pub const POOL_CONTROL: i32 = 4;
    /// Signer: the view key (32 bytes, then end of stream); closed once read.
    pub const SIGNER_VIEW_KEY: i32 = 4;
    /// Pool: the view key (32 bytes, then end of stream); closed once read.
    pub const POOL_VIEW_KEY: i32 = 5;
}
