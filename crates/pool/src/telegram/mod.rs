//! The Telegram Bot API client library the pool process is built on (the
//! process's relay itself is [`crate::relay`]).
//!
//! One job per module:
//! * [`token`]: the bot token, a secret that never reaches a log or an error;
//! * [`types`]: the few Bot API objects Custos reads and writes;
//! * [`client`]: HTTPS calls, strict parsing of the `{"ok":...}` envelope and a
//!   precise error type that says whether a failed call may have taken effect;
//! * [`multipart`]: `multipart/form-data` bodies for uploads (`sendPhoto`);
//! * [`limits`]: flood limits (a global and per-chat token buckets);
//! * [`outbox`]: a bounded outbound queue that sends within the limits, retries
//!   only what certainly did not happen and reports the rest as uncertain;
//! * [`offset`]: where a `getUpdates` offset can be kept between runs;
//! * [`poller`]: a long-polling loop acknowledging an update once the consumer
//!   has accepted it. The relay does not use it: it confirms an update only
//!   once the bridge acknowledged the events made from it, which its own loop
//!   does ([`crate::relay`], rule in [`crate::events`]).

pub mod client;
pub mod limits;
pub mod multipart;
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
