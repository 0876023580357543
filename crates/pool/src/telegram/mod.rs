//! A Telegram Bot API client for the pool process (library only; not wired into
//! the confirmation flow yet).
//!
//! One job per module:
//! * [`token`]: the bot token, a secret that never reaches a log or an error;
//! * [`types`]: the few Bot API objects Custos reads and writes;
//! * [`client`]: HTTPS calls, strict parsing of the `{"ok":...}` envelope and a
//!   precise error type that says whether a failed call may have taken effect;
//! * [`limits`]: flood limits (a global and per-chat token buckets);
//! * [`outbox`]: a bounded outbound queue that sends within the limits, retries
//!   only what certainly did not happen and reports the rest as uncertain;
//! * [`offset`]: where the `getUpdates` offset is kept between runs;
//! * [`poller`]: the long-polling loop, acknowledging an update only once the
//!   consumer has accepted it.

pub mod client;
pub mod limits;
pub mod offset;
pub mod outbox;
pub mod poller;
pub mod token;
pub mod types;

pub use client::{
    read_ca_file, ClientConfig, FailureKind, SetupError, TelegramClient, TelegramError,
};
pub use limits::{LimitsConfig, RateLimiter};
pub use offset::{FileOffsetStore, MemoryOffsetStore, OffsetError, OffsetStore};
pub use outbox::{Delivered, Delivery, Outbox, OutboxConfig, Outgoing, Pending, SubmitError};
pub use poller::{Poller, PollerConfig, PollerError, SinkClosed, UpdateSink};
pub use token::{BotToken, TokenError};
